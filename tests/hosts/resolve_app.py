"""A stand-in for DaVinci Resolve's scripting objects: the calls the MovingColor script makes.

Modelled on the scripting README of DaVinci Resolve 19 (Developer/Scripting/README.txt).
Media are image sequences on disk; a timeline holds items on video tracks; a render
job renders the timeline's record frames MarkIn..MarkOut for real: at each frame
the top enabled video track with an item there, read from its media pool item's
file, written as an EXR frame (RGB, plus alpha with ExportAlpha) into TargetDir.
Rendering runs in a thread, as Resolve's does, and ``StopRendering`` returns
before the render has stopped; the artist pressing Stop is ``Project.stop_after``
frames. In Individual clips render mode (``SetCurrentRenderMode(0)``) each clip
is written under its own name, numbered by source frame, as Resolve does.
``AppendToTimeline`` reads ``endFrame`` the way the version reports it: inclusive
in 19.1, exclusive in 18.6 and 20 and later (``Resolve.set_version``). Render job
states are worded in the UI's language (``Project.status_words``), as in Resolve 21.

Colour management is modelled as far as the project settings go (``GetSetting``,
``SetSetting``: colour science, input, timeline and output colour spaces) and a media
pool item's ``Input Color Space`` and ``Input Gamma``; pixels are never converted, so
a colour-managed project renders only when its input, timeline and output colour
spaces are one (as the source pixels are then what Resolve renders), and an ACES
project not at all. ``StartRendering`` takes the job ids positionally: its
``isInteractiveMode`` keyword is reported to hang Resolve, and is refused here.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

#: What ``DaVinciResolveScript.scriptapp("Resolve")`` returns: None while Resolve is not running.
current: Resolve | None = None

EXR_CODECS = {
    "RGB float (No Compression)": "RGBFloat",
    "RGB float (ZIP Compression)": "RGBFloatZIP",
    "RGB half (No Compression)": "RGBHalf",
    "RGB half (ZIP Compression)": "RGBHalfZIP",
}
#: Resolve's colour spaces, as project settings and clip properties name them: combined names,
#: and with "separate color space and gamma" the colour spaces and gammas (a few of each).
COMBINED_SPACES = {"Rec.709 Gamma 2.4", "Rec.709 (Scene)", "sRGB", "Rec.2020 Gamma 2.4",
                   "DaVinci WG/Intermediate", "ARRI LogC3"}  # fmt: skip
SEPARATE_SPACES = {"Rec.709", "Rec.2020", "P3-D65", "DaVinci WG", "ARRI Wide Gamut 3"}
GAMMAS = {"Gamma 2.4", "Gamma 2.2", "sRGB", "Linear", "Rec.709", "DaVinci Intermediate", "ARRI LogC3"}
#: A new project's colour settings (Project Settings > Color Management): not colour-managed.
COLOR_SETTINGS = {
    "colorScienceMode": "davinciYRGB",
    "separateColorSpaceAndGamma": "0",
    "colorSpaceInput": "Rec.709 Gamma 2.4",
    "colorSpaceTimeline": "Rec.709 Gamma 2.4",
    "colorSpaceOutput": "Rec.709 Gamma 2.4",
    "colorSpaceInputGamma": "Gamma 2.4",
    "colorSpaceTimelineGamma": "Gamma 2.4",
    "colorSpaceOutputGamma": "Gamma 2.4",
}
COLOR_SCIENCES = {"davinciYRGB", "davinciYRGBColorManagedv2", "acescct", "acescc"}


def _valid_color_setting(name: str, value: str) -> bool:
    if name == "colorScienceMode":
        return value in COLOR_SCIENCES
    if name == "separateColorSpaceAndGamma":
        return value in ("0", "1")
    if name.endswith("Gamma"):
        return value in GAMMAS
    return value in COMBINED_SPACES | SEPARATE_SPACES or (name == "colorSpaceOutput" and value == "Bypass")


RENDER_SETTINGS = {
    "SelectAllFrames", "MarkIn", "MarkOut", "TargetDir", "CustomName", "UniqueFilenameStyle",
    "ExportVideo", "ExportAudio", "FormatWidth", "FormatHeight", "FrameRate", "ExportAlpha",
    "AlphaMode", "ColorSpaceTag", "GammaTag", "ReplaceExistingFilesInPlace",
}  # fmt: skip


def _read(path: str) -> np.ndarray:
    image = oiio.ImageInput.open(path)
    if image is None:
        oiio.geterror()
        raise FileNotFoundError(path)
    try:
        spec = image.spec()
        pixels = image.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
    finally:
        image.close()
    return np.asarray(pixels, np.float32).reshape(spec.height, spec.width, spec.nchannels)


def _resized(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    source = oiio.ImageBuf(np.ascontiguousarray(pixels))
    resized = oiio.ImageBufAlgo.resize(source, roi=oiio.ROI(0, width, 0, height, 0, 1, 0, pixels.shape[2]))
    return np.asarray(resized.get_pixels(oiio.FLOAT), np.float32).reshape(height, width, pixels.shape[2])


class MediaPoolItem:
    """An image sequence: ``frames`` maps the clip's frame index (0 = first) to a file."""

    def __init__(self, name: str, pattern: str, first: int, last: int):
        self._name = name
        self.pattern = pattern
        self.first = first
        self.last = last
        self._id = uuid.uuid4().hex
        #: Clip properties set by SetClipProperty (Input Color Space, Input Gamma).
        self.properties: dict[str, str] = {}

    def GetName(self) -> str:
        return self._name

    def GetMediaId(self) -> str:
        return self._id

    def GetUniqueId(self) -> str:
        return self._id

    def file_path(self) -> str:
        """The "File Path" Resolve gives a sequence: its frames named by their range, each number as
        wide as the files' (``/shots/plate.[1001-1100].exr``)."""
        field = re.search(r"%0?(\d*)d", self.pattern)
        if field is None:
            return self.pattern
        width = int(field.group(1) or 0)
        frames = f"[{self.first:0{width}d}-{self.last:0{width}d}]"
        return self.pattern[: field.start()] + frames + self.pattern[field.end() :]

    def GetClipProperty(self, propertyName: str | None = None):  # noqa: N803
        properties = {
            "Clip Name": self._name,
            "File Path": self.file_path(),
            "Frames": str(self.last - self.first + 1),
            "Start": str(self.first),
            "End": str(self.last),
            "Type": "Video",
            "Input Color Space": "Project",
            "Input Gamma": "Project",
            **self.properties,
        }
        return properties if propertyName is None else properties.get(propertyName, "")

    def SetClipProperty(self, propertyName: str, propertyValue: str) -> bool:  # noqa: N803
        """Input Color Space and Input Gamma (a name of Resolve's, or "Project"); False for any other
        property or name, as Resolve answers a misspelt one."""
        names = {"Input Color Space": COMBINED_SPACES | SEPARATE_SPACES, "Input Gamma": GAMMAS}
        if propertyValue not in names.get(propertyName, set()) | {"Project"}:
            return False
        self.properties[propertyName] = propertyValue
        return True

    def path(self, index: int) -> str:
        return self.pattern % (self.first + index)

    def pixels(self, index: int) -> np.ndarray:
        if not Path(self.path(index)).exists():
            # Resolve renders a frame whose file has gone as its red "Media Offline" slate.
            size = _read(
                next(self.path(i) for i in range(self.last - self.first + 1) if Path(self.path(i)).exists())
            )
            return np.broadcast_to(np.array([0.8, 0.0, 0.0], np.float32), (*size.shape[:2], 3)).copy()
        pixels = _read(self.path(index))
        if pixels.shape[2] == 1:
            pixels = np.repeat(pixels, 3, axis=2)
        return pixels


class TimelineItem:
    def __init__(self, media: MediaPoolItem, start: int, source_in: int, duration: int):
        self.media = media
        self.start = start
        self.source_in = source_in
        self.duration = duration
        self._id = uuid.uuid4().hex

    def GetUniqueId(self) -> str:
        return self._id

    def GetName(self) -> str:
        return self.media.GetName()

    def GetStart(self, subframe_precision: bool = False) -> int:
        return self.start

    def GetEnd(self, subframe_precision: bool = False) -> int:
        return self.start + self.duration  # one past the last frame, as Resolve

    def GetDuration(self, subframe_precision: bool = False) -> int:
        return self.duration

    def GetLeftOffset(self, subframe_precision: bool = False) -> int:
        return self.source_in

    def GetRightOffset(self, subframe_precision: bool = False) -> int:
        return int(self.media.GetClipProperty("Frames")) - self.source_in - self.duration

    def GetSourceStartFrame(self) -> int:
        return self.source_in

    def GetSourceEndFrame(self) -> int:
        return self.source_in + self.duration - 1

    def GetMediaPoolItem(self) -> MediaPoolItem:
        return self.media

    def covers(self, frame: int) -> bool:
        return self.start <= frame < self.start + self.duration

    def pixels(self, frame: int) -> np.ndarray:
        return self.media.pixels(self.source_in + frame - self.start)


class Timeline:
    def __init__(self, name: str, start_frame: int = 86400):
        self._name = name
        self.start_frame = start_frame
        self.tracks: list[list[TimelineItem]] = [[]]
        self.enabled: list[bool] = [True]
        self.names: list[str | None] = [None]  # None: Resolve's default name, "Video N"
        self.playhead = start_frame

    def GetName(self) -> str:
        return self._name

    def GetStartFrame(self) -> int:
        return self.start_frame

    def GetEndFrame(self) -> int:
        ends = [item.GetEnd() for track in self.tracks for item in track]
        return max(ends, default=self.start_frame)

    def GetSetting(self, settingName: str = "") -> str:  # noqa: N803
        if settingName in ("timelineResolutionWidth", "timelineResolutionHeight"):
            # The timeline's size: its first clip's, as a timeline made from a clip is.
            item = next((item for track in self.tracks for item in track), None)
            if item is None:
                return ""
            height, width = item.pixels(item.start).shape[:2]
            return str(width if settingName == "timelineResolutionWidth" else height)
        return {"timelineFrameRate": "24"}.get(settingName, "")

    def GetTrackCount(self, trackType: str) -> int:  # noqa: N803
        return len(self.tracks) if trackType == "video" else 0

    def AddTrack(self, trackType: str, subTrackType=None) -> bool:  # noqa: N803
        if trackType != "video":
            return False
        self.tracks.append([])
        self.enabled.append(True)
        self.names.append(None)
        return True

    def DeleteTrack(self, trackType: str, trackIndex: int) -> bool:  # noqa: N803
        if trackType != "video" or not 1 <= trackIndex <= len(self.tracks):
            return False
        del self.tracks[trackIndex - 1], self.enabled[trackIndex - 1], self.names[trackIndex - 1]
        return True

    def DeleteClips(self, items: list, ripple: bool = False) -> bool:
        found = [(track, item) for track in self.tracks for item in track if item in items]
        if ripple or len(found) != len(items):
            return False
        for track, item in found:
            track.remove(item)
        return True

    def _index(self, trackType: str, index: int) -> int:  # noqa: N803
        if trackType != "video" or not 1 <= index <= len(self.tracks):
            raise IndexError(f"no {trackType} track {index}")
        return index - 1

    def GetItemListInTrack(self, trackType: str, index: int) -> list[TimelineItem] | None:  # noqa: N803
        if trackType != "video" or not 1 <= index <= len(self.tracks):
            return None
        return sorted(self.tracks[index - 1], key=lambda item: item.start)

    def SetTrackEnable(self, trackType: str, trackIndex: int, enabled: bool) -> bool:  # noqa: N803
        if trackType != "video" or not 1 <= trackIndex <= len(self.tracks):
            return False
        self.enabled[trackIndex - 1] = bool(enabled)
        return True

    def GetIsTrackEnabled(self, trackType: str, trackIndex: int) -> bool:  # noqa: N803
        return self.enabled[self._index(trackType, trackIndex)]

    def GetTrackName(self, trackType: str, trackIndex: int) -> str:  # noqa: N803
        return self.names[self._index(trackType, trackIndex)] or f"Video {trackIndex}"

    def SetTrackName(self, trackType: str, trackIndex: int, name: str) -> bool:  # noqa: N803
        if trackType != "video" or not 1 <= trackIndex <= len(self.tracks):
            return False
        self.names[trackIndex - 1] = name
        return True

    def GetCurrentTimecode(self) -> str:
        seconds, frames = divmod(self.playhead, 24)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"

    def SetCurrentTimecode(self, timecode: str) -> bool:
        hours, minutes, seconds, frames = (int(p) for p in re.split("[:;]", timecode))
        self.playhead = ((hours * 60 + minutes) * 60 + seconds) * 24 + frames
        return True

    def GetCurrentVideoItem(self) -> TimelineItem | None:
        """The item under the playhead on the top track that has one."""
        for track in reversed(self.tracks):
            for item in track:
                if item.covers(self.playhead):
                    return item
        return None

    def top_item(self, frame: int) -> TimelineItem | None:
        """The item the render shows at record ``frame``: the top enabled track's."""
        for track, enabled in zip(reversed(self.tracks), reversed(self.enabled), strict=True):
            for item in track if enabled else []:
                if item.covers(frame):
                    return item
        return None

    def composite(self, frame: int, alpha: bool) -> np.ndarray | None:
        """The rendered image at record ``frame``: the top enabled track's item there."""
        for track, enabled in zip(reversed(self.tracks), reversed(self.enabled), strict=True):
            if not enabled:
                continue
            for item in track:
                if item.covers(frame):
                    pixels = item.pixels(frame)
                    if not alpha:
                        return pixels[:, :, :3]
                    if pixels.shape[2] == 4:
                        return pixels
                    return np.concatenate([pixels[:, :, :3], np.ones_like(pixels[:, :, :1])], axis=2)
        return None


class Folder:
    def __init__(self, name: str):
        self._name = name
        self.clips: list[MediaPoolItem] = []

    def GetName(self) -> str:
        return self._name

    def GetClipList(self) -> list[MediaPoolItem]:
        return list(self.clips)


class MediaPool:
    def __init__(self, project: Project):
        self.project = project
        self.root = Folder("Master")

    def GetRootFolder(self) -> Folder:
        return self.root

    def GetCurrentFolder(self) -> Folder:
        return self.root

    def CreateEmptyTimeline(self, name: str) -> Timeline:
        timeline = Timeline(name)
        self.project.timelines.append(timeline)
        self.project.timeline = timeline
        return timeline

    def ImportMedia(self, items: list) -> list[MediaPoolItem]:
        """Image sequences as ``{"FilePath": "name_%03d.exr", "StartIndex": 1, "EndIndex": 100}``."""
        imported = []
        for item in items:
            if not isinstance(item, dict):
                raise NotImplementedError("the stand-in imports image sequences given as dicts")
            pattern, first, last = item["FilePath"], int(item["StartIndex"]), int(item["EndIndex"])
            if not all(os.path.isfile(pattern % n) for n in range(first, last + 1)):
                continue  # Resolve skips what it cannot find
            name = re.sub(r"%0?\d*d", f"[{first}-{last}]", Path(pattern).name)
            media = MediaPoolItem(name, pattern, first, last)
            self.root.clips.append(media)
            imported.append(media)
        return imported

    def AppendToTimeline(self, clips: list) -> list[TimelineItem]:
        """``{"mediaPoolItem", "startFrame", "endFrame", "trackIndex", "recordFrame"}``; ``endFrame``
        is inclusive or exclusive by version (see the module's docstring), a range past the clip's
        frames is refused."""
        timeline = self.project.timeline
        inclusive = self.project.resolve_version[:2] == [19, 1]
        placed = []
        for clip in clips:
            media = clip["mediaPoolItem"] if isinstance(clip, dict) else clip
            info = clip if isinstance(clip, dict) else {}
            frames = int(media.GetClipProperty("Frames"))
            source_in = int(info.get("startFrame", 0))
            end = int(info.get("endFrame", frames - 1 if inclusive else frames))
            source_out = end if inclusive else end - 1
            track = int(info.get("trackIndex", 1))
            if not 1 <= track <= len(timeline.tracks) or not 0 <= source_in <= source_out < frames:
                continue
            items = timeline.tracks[track - 1]
            record = int(
                info.get("recordFrame", max((i.GetEnd() for i in items), default=timeline.start_frame))
            )
            item = TimelineItem(media, record, source_in, source_out - source_in + 1)
            if any(other.covers(f) for other in items for f in (record, record + item.duration - 1)):
                continue  # Resolve refuses to overwrite an item
            items.append(item)
            placed.append(item)
        return placed


class _RenderJob:
    def __init__(self, job_id: str, settings: dict, codec: str, timeline: Timeline, mode: int):
        self.id = job_id
        self.settings = dict(settings)
        self.codec = codec
        self.timeline = timeline
        self.mode = mode
        self.status = "Ready"
        self.percent = 0
        self.error = ""


class Project:
    def __init__(self, name: str):
        self._name = name
        self.timelines: list[Timeline] = []
        self.timeline: Timeline | None = None
        self.media_pool = MediaPool(self)
        self.render_settings: dict = {}
        self.codec = ("mov", "ProRes422HQ")  # the Deliver page's format before any script ran
        self.render_mode = 1  # 0: Individual clips, 1: Single clip
        self.render_presets: dict[str, tuple] = {}  # user presets: what the Deliver page held
        self.resolve_version = [19, 1, 4, 11, ""]
        self.jobs: dict[str, _RenderJob] = {}
        self.stop_after: int | None = None  # the artist presses Stop after this many frames
        self.seconds_per_frame = 0.0  # how long each rendered frame takes
        #: JobStatus as Resolve's UI language words it (English: the state's own name).
        self.status_words: dict[str, str] = {}
        self.settings: dict[str, str] = dict(COLOR_SETTINGS)
        self._rendering: threading.Thread | None = None
        self._stop = threading.Event()

    def GetName(self) -> str:
        return self._name

    def GetMediaPool(self) -> MediaPool:
        return self.media_pool

    def GetSetting(self, settingName: str = "") -> str | dict:  # noqa: N803
        """A project setting's value (a string; "" for one the stand-in does not know), or all of them."""
        return dict(self.settings) if not settingName else self.settings.get(settingName, "")

    def SetSetting(self, settingName: str, settingValue: str) -> bool:  # noqa: N803
        if settingName not in self.settings or not _valid_color_setting(settingName, str(settingValue)):
            return False
        self.settings[settingName] = str(settingValue)
        return True

    def _require_unconverted(self) -> None:
        """The stand-in renders the source pixels as they are: only where Resolve would too."""
        science = self.settings["colorScienceMode"]
        if science == "davinciYRGB":
            return
        separate = self.settings["separateColorSpaceAndGamma"] == "1"
        stages = []
        for stage in ("Input", "Timeline", "Output"):
            space = self.settings[f"colorSpace{stage}"]
            if space == "Bypass":
                space = self.settings["colorSpaceTimeline"]
            stages.append((space, self.settings[f"colorSpace{stage}Gamma"] if separate else ""))
        if science.startswith("aces") or len(set(stages)) > 1:
            raise NotImplementedError(
                "the stand-in renders without colour conversion: a colour-managed project renders here "
                "only when its input, timeline and output colour spaces are one, an ACES one not at all"
            )

    def GetCurrentTimeline(self) -> Timeline | None:
        return self.timeline

    def SetCurrentTimeline(self, timeline: Timeline) -> bool:
        self.timeline = timeline
        return True

    def GetTimelineCount(self) -> int:
        return len(self.timelines)

    def GetTimelineByIndex(self, idx: int) -> Timeline:
        return self.timelines[idx - 1]

    def GetRenderFormats(self) -> dict:
        return {"OpenEXR": "exr", "QuickTime": "mov"}

    def GetRenderCodecs(self, renderFormat: str) -> dict:  # noqa: N803
        return dict(EXR_CODECS) if renderFormat == "exr" else {}

    def SetCurrentRenderFormatAndCodec(self, format: str, codec: str) -> bool:  # noqa: A002
        if (format, codec) != ("mov", "ProRes422HQ") and (
            format != "exr" or codec not in EXR_CODECS.values()
        ):
            return False
        self.codec = (format, codec)
        return True

    def GetCurrentRenderFormatAndCodec(self) -> dict:
        return {"format": self.codec[0], "codec": self.codec[1]}

    def GetCurrentRenderMode(self) -> int:
        return self.render_mode

    def SetCurrentRenderMode(self, renderMode: int) -> bool:  # noqa: N803
        if renderMode not in (0, 1):
            return False
        self.render_mode = renderMode
        return True

    def GetRenderPresetList(self) -> list[str]:
        return ["H.264 Master", "YouTube - 1080p", *self.render_presets]

    def SaveAsNewRenderPreset(self, presetName: str) -> bool:  # noqa: N803
        if presetName in self.GetRenderPresetList():
            return False
        self.render_presets[presetName] = (self.codec, self.render_mode, dict(self.render_settings))
        return True

    def LoadRenderPreset(self, presetName: str) -> bool:  # noqa: N803
        if presetName not in self.render_presets:
            return False
        self.codec, self.render_mode, settings = self.render_presets[presetName]
        self.render_settings = dict(settings)
        return True

    def DeleteRenderPreset(self, presetName: str) -> bool:  # noqa: N803
        return self.render_presets.pop(presetName, None) is not None

    def SetRenderSettings(self, settings: dict) -> bool:
        if not set(settings) <= RENDER_SETTINGS:
            return False
        self.render_settings.update(settings)
        return True

    def AddRenderJob(self) -> str:
        if not self.render_settings.get("TargetDir") or self.timeline is None:
            return ""
        job_id = uuid.uuid4().hex
        job = _RenderJob(job_id, self.render_settings, self.codec[1], self.timeline, self.render_mode)
        self.jobs[job.id] = job
        return job.id

    def DeleteRenderJob(self, jobId: str) -> bool:  # noqa: N803
        if self.IsRenderingInProgress():
            return False
        return self.jobs.pop(jobId, None) is not None

    def GetRenderJobList(self) -> list[dict]:
        return [{"JobId": j.id, "TargetDir": j.settings.get("TargetDir", "")} for j in self.jobs.values()]

    def StartRendering(self, *job_ids, **options) -> bool:
        """``StartRendering(jobId1, jobId2, ...)``, ``StartRendering([jobIds...])`` or, for every queued
        job, ``StartRendering()``. The README's ``isInteractiveMode`` keyword is reported to hang
        Resolve: refused here, so that no bridge comes to depend on it."""
        if options:
            raise TypeError(
                f"StartRendering({', '.join(options)}=...): keywords are reported to hang Resolve; pass "
                f"the job ids positionally, StartRendering(jobId1, jobId2, ...)"
            )
        ids = list(job_ids[0]) if job_ids and isinstance(job_ids[0], list) else list(job_ids)
        jobs = [self.jobs[i] for i in ids if i in self.jobs] if ids else list(self.jobs.values())
        if not jobs or self.IsRenderingInProgress():
            return False
        self._require_unconverted()
        self._stop.clear()
        self._rendering = threading.Thread(target=self._render, args=(jobs,), daemon=True)
        self._rendering.start()
        return True

    def StopRendering(self) -> None:
        """Asks the render to stop and returns at once: the job stops at its next frame."""
        self._stop.set()

    def IsRenderingInProgress(self) -> bool:
        return self._rendering is not None and self._rendering.is_alive()

    def GetRenderJobStatus(self, jobId: str) -> dict:  # noqa: N803
        job = self.jobs.get(jobId)
        if job is None:
            return {}
        # The documented keys only: why a job failed shows in Resolve, not in its status.
        return {
            "JobStatus": self.status_words.get(job.status, job.status),
            "CompletionPercentage": job.percent,
        }

    def _render(self, jobs: list[_RenderJob]) -> None:
        for job in jobs:
            job.status = "Rendering"
            try:
                self._render_job(job)
            except Exception as error:
                job.status, job.error = "Failed", str(error)

    def _render_job(self, job: _RenderJob) -> None:
        settings = job.settings
        first, last = int(settings["MarkIn"]), int(settings["MarkOut"])
        folder = Path(settings["TargetDir"])
        if not folder.is_dir():
            raise OSError(f"Failed to open output directory {folder}")
        alpha = bool(settings.get("ExportAlpha", False))
        pixel_type = oiio.FLOAT if job.codec.startswith("RGBFloat") else oiio.HALF
        for done, frame in enumerate(range(first, last + 1)):
            if self._stop.is_set() or (self.stop_after is not None and done >= self.stop_after):
                job.status = "Cancelled"
                return
            pixels = job.timeline.composite(frame, alpha)
            if pixels is None:
                raise RuntimeError(f"nothing to render at frame {frame}")
            time.sleep(self.seconds_per_frame)
            size = (int(settings.get("FormatWidth") or 0), int(settings.get("FormatHeight") or 0))
            if all(size) and size != (pixels.shape[1], pixels.shape[0]):
                # The Deliver page's resolution (an editor's last delivery at another size).
                pixels = _resized(pixels, *size)
            spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], pixel_type)
            spec.channelnames = ("R", "G", "B", "A")[: pixels.shape[2]]
            spec.attribute("compression", "zip" if job.codec.endswith("ZIP") else "none")
            path = folder / f"{settings.get('CustomName', 'Timeline')}_{frame:08d}.exr"
            if job.mode == 0:  # Individual clips: each clip under its own name, at its source frame
                item = job.timeline.top_item(frame)
                name = Path(item.media.pattern).name.split("%")[0]
                path = folder / f"{name}{item.source_in + frame - item.start + item.media.first:08d}.exr"
            output = oiio.ImageOutput.create(str(path))
            output.open(str(path), spec)
            output.write_image(np.ascontiguousarray(pixels))
            output.close()
            job.percent = int(100 * (done + 1) / (last - first + 1))
        job.status = "Complete"


class ProjectManager:
    def __init__(self, project: Project):
        self.project = project

    def GetCurrentProject(self) -> Project:
        return self.project


class Resolve:
    def __init__(self, project_name: str = "Project"):
        self.project_manager = ProjectManager(Project(project_name))

    def GetProjectManager(self) -> ProjectManager:
        return self.project_manager

    def GetProductName(self) -> str:
        return "DaVinci Resolve Studio"

    def GetVersion(self) -> list:
        return list(self.project_manager.project.resolve_version)

    def GetVersionString(self) -> str:
        major, minor, patch, build, suffix = self.GetVersion()
        return f"{major}.{minor}.{patch}{suffix}.{build}"

    def set_version(self, version: list) -> None:
        """Tests: which Resolve this is ([major, minor, patch, build, suffix])."""
        self.project_manager.project.resolve_version = list(version)
