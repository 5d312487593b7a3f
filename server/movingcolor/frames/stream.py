"""Frames that arrive over a stream: a frame source whose reads wait for the frame.

The service receives a shot's images in one thread while the shot runner reads
them in another, through :class:`StreamSource` exactly as it reads files; a read
waits until its frame has arrived. A :class:`FrameStore` holds the received
frames of every role until the runner releases them, and at most ``capacity``
frames at once: a sender that runs further ahead waits (and gRPC flow control
then holds the client back), so memory stays bounded on long shots.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import FrameSizeMismatchError, FrameSourceError, MissingFramesError
from .frame_range import FrameRange
from .source import FrameSource


class StreamOrderError(FrameSourceError):
    """Frames arrived in an order the stream cannot buffer, or twice, or outside the clip."""


@dataclass(frozen=True)
class DecodedImage:
    """One received image, as a file source would describe it."""

    pixels: np.ndarray  # float32 (H, W, C)
    channels: tuple[str, ...]
    colorspace: str  # declared colourspace, "" when none
    is_float: bool
    #: The conform attributes a file's header held (``image_io.CONFORM_ATTRIBUTES``), typed.
    carried: dict = field(default_factory=dict)
    #: Every channel a file stored, of which ``channels`` are those read (a render's layers).
    stored_channels: tuple[str, ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]


class DeferredImage:
    """A received image described by its header and decoded when its pixels are first read.

    A window's neighbours are often found already prepared by an earlier window (by the digests
    of their images), so their pixels are never read: decoding them would be wasted. The size and
    channels are known at once, so a :class:`FrameStore` checks them as for a decoded image; an
    image that fails to decode raises when it is read, naming it, as a decoded one would have.
    """

    def __init__(
        self,
        size: tuple[int, int],
        channels: tuple[str, ...],
        colorspace: str,
        is_float: bool,
        decode: Callable[[], np.ndarray],
        carried: dict | None = None,
        stored_channels: tuple[str, ...] = (),
    ):
        self.size = size
        self.channels = channels
        self.stored_channels = stored_channels
        self.colorspace = colorspace
        self.is_float = is_float
        self.carried = carried or {}
        self._decode: Callable[[], np.ndarray] | None = decode
        self._pixels: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def pixels(self) -> np.ndarray:
        """float32 ``(H, W, C)``, decoded on the first read."""
        with self._lock:
            if self._pixels is None:
                assert self._decode is not None
                self._pixels = self._decode()
                self._decode = None  # drops the image's bytes once decoded
            return self._pixels


#: What a :class:`FrameStore` holds: an image decoded, or one to decode when read.
ReceivedImage = DecodedImage | DeferredImage


class FrameStore:
    """Received images of one shot by frame and role, shared by its :class:`StreamSource` s."""

    def __init__(
        self,
        roles: Sequence[str],
        clip: Sequence[int],
        needed: Iterable[int] | None = None,
        capacity: int | None = None,
        poll_seconds: float = 0.2,
    ):
        self.roles = tuple(roles)
        self.clip = sorted(clip)
        self._clip = set(self.clip)
        self.needed = set(self.clip if needed is None else needed)
        self.capacity = capacity
        self._poll = poll_seconds
        self._frames: dict[int, dict[str, ReceivedImage]] = {}
        self._admitted: set[tuple[str, int]] = set()
        self._first: dict[str, tuple[int, ReceivedImage]] = {}
        self._released: set[int] = set()
        #: Each image's conform attributes, kept past its pixels for the fused frame's header.
        self._carried: dict[tuple[str, int], dict] = {}
        #: The image (frame, role) the runner waits for, if any.
        self._waiting_for: tuple[int, str] | None = None
        #: The role whose first image the runner waits for (to learn the source's size), if any.
        self._waiting_role: str | None = None
        self._finished = False
        self._error: BaseException | None = None
        self._condition = threading.Condition()

    # -- the receiving side ----------------------------------------------------

    def admit(self, role: str, frame: int) -> bool:
        """Refuse at once, before its bytes arrive or are decoded, an image of a role this shot does
        not take, of a frame outside the clip, or sent before; True when the shot needs it."""
        if role not in self.roles:
            raise StreamOrderError(
                f"{role} frame {frame} was sent, but this shot takes {', '.join(self.roles)} images; "
                f"check the setup's matte source and grade mode"
            )
        if frame not in self._clip:
            shown = str(FrameRange(self.clip[0], self.clip[-1])) if self.clip else "empty"
            raise StreamOrderError(
                f"{role} frame {frame} is not in the clip the setup declares ({shown}); "
                f"add it to the clip or do not send it"
            )
        with self._condition:
            if (role, frame) in self._admitted:
                raise StreamOrderError(f"{role} frame {frame} arrived twice; send each image once")
            self._admitted.add((role, frame))
        return frame in self.needed

    def put(self, role: str, frame: int, image: ReceivedImage) -> None:
        """Add one image (admitted first unless :meth:`admit` took it); waits while ``capacity``
        frames are held. Frames nobody needs are dropped."""
        with self._condition:
            admitted = (role, frame) in self._admitted
        if not admitted:
            self.admit(role, frame)
        if frame not in self.needed:
            return
        with self._condition:
            self._raise_if_failed()
            held = self._frames.get(frame, {})
            if frame in self._released or role in held:
                raise StreamOrderError(f"{role} frame {frame} arrived twice; send each image once")
            self._check_size(role, frame, image)
            while self.capacity and frame not in self._frames and len(self._frames) >= self.capacity:
                self._refuse_if_runner_starves(role, frame)
                self._condition.wait(self._poll)
                self._raise_if_failed()
            self._frames.setdefault(frame, {})[role] = image
            self._first.setdefault(role, (frame, image))
            if image.carried:
                self._carried[(role, frame)] = image.carried
            self._condition.notify_all()

    def _refuse_if_runner_starves(self, role: str, frame: int) -> None:
        """The buffer is full and the runner waits for an image it does not hold: only this thread can
        bring it, and only the runner can make room, so waiting would hang until the call's deadline."""
        held = len(self._frames)
        if self._waiting_for is not None:
            wanted_frame, wanted_role = self._waiting_for
            if (wanted_frame, wanted_role) == (frame, role):
                raise StreamOrderError(
                    f"{role} frame {frame}, which the server needs next, arrived after {held} frames it "
                    f"needs later (the most this shot buffers); send frames in ascending order"
                )
            if wanted_role not in self._frames.get(wanted_frame, {}):
                raise StreamOrderError(
                    f"{role} frame {frame} arrived before {wanted_role} frame {wanted_frame}, which the "
                    f"server needs next, and {held} frames are already held (the most this shot buffers); "
                    f"send each frame's images together, in ascending frame order"
                )
        if self._waiting_role is not None and self._waiting_role not in self._first:
            raise StreamOrderError(
                f"{role} frame {frame} arrived before any {self._waiting_role} image, and {held} frames "
                f"are already held (the most this shot buffers); send each frame's images together, in "
                f"ascending frame order"
            )

    def _check_size(self, role: str, frame: int, image: ReceivedImage) -> None:
        if role in self._first:
            first_frame, first = self._first[role]
            if image.channels != first.channels:
                raise FrameSourceError(
                    f"streamed {role} frame {frame} has channels {', '.join(image.channels)} but {role} "
                    f"frame {first_frame} had {', '.join(first.channels)}; send every frame of a source "
                    f"with the same channels"
                )
            if image.size != first.size:
                raise FrameSizeMismatchError(
                    f"streamed {role} frame {frame} is {image.size[0]}x{image.size[1]} but {role} frame "
                    f"{first_frame} was {first.size[0]}x{first.size[1]}; every frame of a shot must share "
                    f"one size"
                )

    def carried(self, role: str, frame: int) -> dict:
        """The conform attributes ``role``'s image of ``frame`` held in its file header."""
        with self._condition:
            return dict(self._carried.get((role, frame), {}))

    def finish(self) -> None:
        """No more images will arrive; reads of frames that never came fail with a clear message."""
        with self._condition:
            self._finished = True
            self._condition.notify_all()

    def fail(self, error: BaseException) -> None:
        """Make every waiting and later read raise ``error`` (a broken stream, a cancelled job)."""
        with self._condition:
            if self._error is None:
                self._error = error
            self._frames.clear()
            self._condition.notify_all()

    # -- the reading side ------------------------------------------------------

    def first(self, role: str) -> ReceivedImage:
        """The first image of ``role`` to arrive (its size and channels describe the source)."""
        with self._condition:
            try:
                while role not in self._first:
                    self._raise_if_failed()
                    if self._finished:
                        raise MissingFramesError(
                            f"the stream ended before any {role} image arrived; send {role} images "
                            f"for every frame"
                        )
                    self._waiting_role = role
                    self._condition.wait(self._poll)
            finally:
                self._waiting_role = None
            return self._first[role][1]

    def get(self, role: str, frame: int) -> ReceivedImage:
        """The ``role`` image of ``frame``, waiting until it arrives."""
        with self._condition:
            while True:
                self._raise_if_failed()
                image = self._frames.get(frame, {}).get(role)
                if image is not None:
                    self._waiting_for = None
                    return image
                if frame in self._released:
                    raise RuntimeError(f"{role} frame {frame} was read after it was released")
                if self._finished:
                    raise MissingFramesError(
                        f"the stream ended before {role} frame {frame} arrived; send every frame the "
                        f"server asked for (ShotAccepted.needed)"
                    )
                self._waiting_for = (frame, role)
                self._condition.wait(self._poll)

    def release(self, frame: int) -> None:
        """The runner is done with ``frame``'s images: drop them and make room."""
        with self._condition:
            self._frames.pop(frame, None)
            self._released.add(frame)
            self._condition.notify_all()

    @property
    def held(self) -> int:
        with self._condition:
            return len(self._frames)

    def holds(self, frame: int) -> bool:
        """Whether every role's image of ``frame`` has arrived and is held: reading it now waits for
        nothing."""
        with self._condition:
            images = self._frames.get(frame, {})
            return all(role in images for role in self.roles)

    def received(self, role: str) -> list[int]:
        """Frames holding a ``role`` image now, sorted."""
        with self._condition:
            return sorted(n for n, images in self._frames.items() if role in images)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error


class StreamSource(FrameSource):
    """One role (plate, matte, graded, edited) of a :class:`FrameStore`, read like a sequence."""

    def __init__(self, store: FrameStore, role: str, origin: str = ""):
        self.store = store
        self.role = role
        self.name = role
        self._origin = origin

    def origin(self) -> str:
        """Where the client's frames live, as it said (never opened here); empty where it did not."""
        return self._origin

    def _first(self) -> ReceivedImage:
        return self.store.first(self.role)

    @property
    def width(self) -> int:  # type: ignore[override]
        return self._first().size[0]

    @property
    def height(self) -> int:  # type: ignore[override]
        return self._first().size[1]

    @property
    def channels(self) -> tuple[str, ...]:  # type: ignore[override]
        return self._first().channels

    @property
    def stored_channels(self) -> tuple[str, ...]:
        """Every channel the first image's file stored (its render's other layers too)."""
        return self._first().stored_channels

    @property
    def declared_colorspace(self) -> str:  # type: ignore[override]
        return self._first().colorspace

    @property
    def is_float(self) -> bool:  # type: ignore[override]
        return self._first().is_float

    @property
    def frames(self) -> list[int]:
        return self.store.clip

    def location(self, frame: int) -> str:
        return f"streamed {self.role} frame {frame}"

    def named_location(self, frame: int) -> str:
        return self.location(frame)  # it names the role already: not "graded streamed graded frame"

    def carried_attributes(self, frame: int) -> dict:
        return self.store.carried(self.role, frame)

    def read(self, frame: int) -> np.ndarray:
        if frame not in self.store.needed:
            self.require(FrameRange(frame, frame))
            raise RuntimeError(f"{self.role} frame {frame} is read but the plan did not ask for it")
        return self.store.get(self.role, frame).pixels
