"""What every call of one server shares: settings, the job table, the device scheduler, the engines,
the FuseWindow caches."""

from __future__ import annotations

from dataclasses import dataclass, field

from .engines import EnginePool
from .jobs import JobTable
from .scheduler import DeviceScheduler
from .settings import ServerSettings
from .window_cache import WindowCaches


@dataclass
class ServerState:
    settings: ServerSettings
    jobs: JobTable = field(init=False)
    scheduler: DeviceScheduler = field(init=False)
    engines: EnginePool = field(init=False)
    windows: WindowCaches = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobTable(
            self.settings.max_jobs, self.settings.idle_seconds, self.settings.max_call_seconds
        )
        self.scheduler = DeviceScheduler(self.settings.device_slots)
        self.engines = EnginePool(self.settings.device, self.settings.max_engines)
        self.windows = WindowCaches(
            self.settings.image_cache_bytes, self.settings.result_cache_bytes, self.settings.frame_cache_bytes
        )
