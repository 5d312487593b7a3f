"""What the client sends: images of a shot from files (their bytes, untouched) or numpy arrays.

A provider answers ``image(role, frame) -> (ImageInfo, bytes)`` for the roles it
has, and knows its clip (the frames every role can deliver).
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from numbers import Real
from pathlib import Path

import numpy as np
from movingcolor.errors import FrameSourceError, MissingFramesError
from movingcolor.frames.frame_range import FrameRange, describe_frames
from movingcolor.frames.sequence import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    SequencePattern,
    find_frames,
    input_sequence,
    say_if_a_frame_of_a_sequence,
)
from movingcolor.protocol.digest import image_sha256
from movingcolor.protocol.images import SAMPLE_TYPES, file_image, raw_image, raw_info
from movingcolor.v1 import image_pb2 as pb


class _FileSource:
    """A sequence, a folder of frames or one still image, sent as file bytes."""

    def __init__(self, text: str | os.PathLike, name: str):
        self.name = name
        value = os.fspath(text)
        path = Path(value).expanduser()
        self.pattern: SequencePattern | None = input_sequence(value, name)
        self.still: Path | None = None if self.pattern else _still_image(name, value, path)
        # The same search and message as a shot read in-process, padding suggestions included.
        self.frames = find_frames(self.pattern, f"--{name}") if self.pattern else None
        self._still_bytes: bytes | None = None

    def path(self, frame: int) -> Path:
        return self.pattern.path(frame) if self.pattern else self.still

    def data(self, frame: int) -> bytes:
        if self.still is not None:
            if self._still_bytes is None:
                self._still_bytes = self.still.read_bytes()
            return self._still_bytes
        path = self.path(frame)
        try:
            return path.read_bytes()
        except OSError as error:
            raise FrameSourceError(
                f"{self.name} frame {frame}: cannot read {path}: {error.strerror}"
            ) from error


def _still_image(name: str, value: str, path: Path) -> Path:
    """``path``, an input that names no sequence, where it is an image file a server takes."""
    if not path.exists():
        raise FrameSourceError(
            f"{name} {value!r} does not exist; give a sequence (shot.####.exr, shot.%04d.exr), "
            f"a folder of frames or an image"
        )
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        raise FrameSourceError(
            f"{name} {value!r} is a video; a server takes image frames: convert it to a sequence, "
            f"or fuse it in process (without --server)"
        )
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise FrameSourceError(f"{name} {value!r}: unknown file type; images: {', '.join(IMAGE_EXTENSIONS)}")
    say_if_a_frame_of_a_sequence(name, path)
    return path


class FileFrames:
    """A shot on disk: ``sources`` maps roles (plate, matte, graded, edited) to paths."""

    def __init__(self, sources: Mapping[str, str | os.PathLike]):
        self.sources = {role: _FileSource(text, role) for role, text in sources.items()}
        if self.sources["plate"].pattern is None:
            raise FrameSourceError("plate must be a sequence or a folder of frames, not a single image")
        sets = [set(s.frames) for s in self.sources.values() if s.frames is not None]
        self.clip = sorted(set.intersection(*sets))
        if not self.clip:
            raise FrameSourceError(
                "the plate, matte and graded sequences share no frame numbers; check that they are "
                "numbered alike"
            )

    @property
    def plate_prefix(self) -> str:
        return self.sources["plate"].pattern.prefix

    @property
    def plate(self) -> str:
        """The plate's sequence, resolved: what fused frames record as their plate."""
        return self.sources["plate"].pattern.resolved()

    def require(self, frames: str | None) -> None:
        """As ``movingcolor fuse`` in-process: every source holds every frame of ``frames`` (by
        default the plate's whole range); a matte that ends early is an error, not a shorter shot."""
        plate = self.sources["plate"].frames
        wanted = FrameRange.parse(frames) if frames else FrameRange(plate[0], plate[-1])
        for role, source in self.sources.items():
            if source.frames is None:
                continue  # a still covers every frame
            have = source.frames  # sorted; counted arithmetically, whatever the range's length
            inside = bisect.bisect_right(have, wanted.last) - bisect.bisect_left(have, wanted.first)
            count = len(wanted) - inside
            if count:
                held = set(have)
                missing = list(itertools.islice((n for n in wanted if n not in held), 8))
                shown = ", ".join(map(str, missing)) + (" ..." if count > 8 else "")
                raise MissingFramesError(
                    f"{role} is missing {count} of frames {wanted}: {shown} (frames "
                    f"{describe_frames(have, source.pattern.padding)} exist); render the missing frames "
                    f"or choose a range (--frames, frames=)"
                )

    def files(self, frames: Iterable[int] | None = None) -> list[Path]:
        """The files of every source for ``frames`` (default: every frame on disk, of every role)."""
        found: set[Path] = set()
        for source in self.sources.values():
            if source.still is not None:
                found.add(source.still)
                continue
            numbers = source.frames if frames is None else frames
            found.update(source.path(n) for n in numbers)
        return sorted(found)

    def image(self, role: str, frame: int) -> tuple[pb.ImageInfo, bytes]:
        source = self.sources[role]
        path = source.path(frame)
        return file_image(source.data(frame), path.suffix.lstrip("."))


def _channels(count: int, role: str) -> tuple[str, ...]:
    names = {1: ("Y",), 3: ("R", "G", "B"), 4: ("R", "G", "B", "A")}
    if count not in names:
        raise FrameSourceError(f"{role} images have {count} channels; give 1 (a matte), 3 (RGB) or 4 (RGBA)")
    return names[count]


def _check_stack(role: str, stack, plate) -> None:
    """A stack of frames, not one frame: one ``(H, W, C)`` plate was taken row by row for frames of
    one channel each, and refused as "a plate with no A channel"; one ``(H, W, 1)`` matte beside a
    plate's stack, as frames of one row."""
    if not isinstance(stack, np.ndarray):
        return  # a list of frames: each is checked as an image
    shape = "(T, H, W) or (T, H, W, 1)" if role == "matte" else "(T, H, W, C), colour channels last"
    fix = f"give a stack of frames {shape}; one frame is a stack of one ({role}[None])"
    if stack.ndim < (3 if role == "matte" else 4):  # a matte may be (T, H, W); a picture has colours
        raise FrameSourceError(f"the {role} is an array of shape {stack.shape}: {fix}")
    size = tuple(plate.shape[1:3]) if isinstance(plate, np.ndarray) and plate.ndim == 4 else None
    if (
        role == "matte"
        and stack.ndim == 3
        and size is not None
        and stack.shape[:2] == size != stack.shape[1:]
    ):
        raise FrameSourceError(
            f"the matte is an array of shape {stack.shape}, one frame of the plate's size: {fix}"
        )


def _by_frame_number(role: str, images: Mapping) -> dict[int, np.ndarray]:
    """``images`` keyed by whole frame numbers (a host's frame times, 1001.0, are whole numbers too);
    anything else refused naming the role and the key. Keys of another type failed deep in the
    upload, after every image was hashed, with a TypeError."""
    if not isinstance(images, Mapping):
        raise FrameSourceError(
            f"the {role} frames are a {type(images).__name__}: give a mapping of frame numbers to "
            f"images ({{1001: array, 1002: array}}), or stacks through fuse_arrays"
        )
    numbered = {}
    for key, image in images.items():
        number = _frame_number(key)
        if number is None:
            raise FrameSourceError(
                f"the {role}'s frame {key!r} is not a frame number: key the images by whole numbers "
                f"(1001, or 1001.0)"
            )
        numbered[number] = image
    return numbered


def _frame_number(value: object) -> int | None:
    """``value`` as a frame number where it is a whole number (1001, a numpy integer, 1001.0)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value).is_integer():
        return None
    return int(value)


class ArrayFrames:
    """A shot in memory: per role, frames as ``(H, W, C)`` or ``(H, W)`` float arrays by frame number."""

    def __init__(
        self,
        frames: Mapping[str, Mapping[int, np.ndarray]],
        colorspace: str = "",
        sample_type: str = "float",
    ):
        if sample_type not in SAMPLE_TYPES:
            raise FrameSourceError(f"sample type {sample_type!r} unknown: use float or half")
        self.frames = {role: _by_frame_number(role, images) for role, images in frames.items()}
        self.colorspace = colorspace
        self.sample_type = SAMPLE_TYPES[sample_type]
        sets = {role: set(images) for role, images in self.frames.items()}
        self.clip = sorted(set.intersection(*sets.values()))
        if not self.clip:
            raise FrameSourceError("the arrays share no frame numbers: give every role the same frames")
        every = set.union(*sets.values())
        for role, numbers in sets.items():
            # Never left out without a word: a frame one role lacks inside the window would make
            # the frame beyond it pass for its neighbour.
            if numbers != every:
                raise FrameSourceError(
                    f"the {role} lacks frames {describe_frames(every - numbers)} that another role has: "
                    f"give every role the same frames (end a window where a neighbour is missing)"
                )

    @classmethod
    def from_stacks(
        cls, stacks: Mapping[str, Sequence[np.ndarray] | np.ndarray | None], first_frame: int, **options
    ) -> ArrayFrames:
        """Stacks (``(T, H, W[, C])`` arrays or lists of frames) numbered from ``first_frame``."""
        first = _frame_number(first_frame)
        if first is None:
            raise FrameSourceError(f"first_frame {first_frame!r}: give a whole frame number (e.g. 1001)")
        frames = {}
        for role, stack in stacks.items():
            if stack is None:
                continue
            _check_stack(role, stack, stacks.get("plate"))
            frames[role] = {first + i: np.asarray(image) for i, image in enumerate(stack)}
        return cls(frames, **options)

    def image(self, role: str, frame: int) -> tuple[pb.ImageInfo, bytes]:
        return self.image_unless_sent(role, frame, None)

    def image_unless_sent(
        self, role: str, frame: int, sent: bytes | memoryview | None
    ) -> tuple[pb.ImageInfo, bytes | memoryview | None]:
        """Image ``role`` ``frame``'s info and planar samples, or its info and None where its samples
        are bit for bit ``sent`` (the planar samples an earlier window sent of it). Compared where
        they lie, channel by channel: a scrub's next window holds the last one's frames but one, and
        making each one's planar samples again only to compare them cost a fresh copy of every
        image (a 1080p window's plates: 125 MB)."""
        pixels, channels, colorspace = self._pixels(role, frame)
        if sent is not None and _holds(pixels, sent, self.sample_type):
            return raw_info(pixels.shape, channels, self.sample_type, colorspace), None
        # A view of the planar samples: the upload hashes it and cuts it into parts, nothing more.
        return raw_image(pixels, channels, self.sample_type, colorspace, view=True)

    def _pixels(self, role: str, frame: int) -> tuple[np.ndarray, tuple[str, ...], str]:
        """Image ``role`` ``frame`` as float32 ``(H, W, C)``, its channels' names and colourspace,
        checked as an image this client sends."""
        given = np.asarray(self.frames[role][frame])
        if given.dtype.kind not in "iufb":
            raise FrameSourceError(
                f"{role} frame {frame} holds {given.dtype} values: give a float array (float32 or "
                f"float16 samples, or bool for a matte's 0 and 1)"
            )
        if given.dtype.kind in "iu":
            # Taken as values, 8-bit white would be 255 times too bright, with no word.
            raise FrameSourceError(
                f"{role} frame {frame} holds {given.dtype} samples: give float values (e.g. "
                f"pixels / 255.0 for 8-bit, / 65535.0 for 16-bit), as the server takes them"
            )
        pixels = np.asarray(given, dtype=np.float32)
        if pixels.ndim not in (2, 3) or pixels.shape[0] < 1 or pixels.shape[1] < 1:
            raise FrameSourceError(
                f"{role} frame {frame} is an array of shape {pixels.shape}: give an image as "
                f"(height, width) or (height, width, channels), at least one pixel"
            )
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if self.sample_type == pb.SAMPLE_TYPE_HALF and pixels.size:
            from movingcolor.frames.image_io import HALF_MAX

            largest = float(np.nanmax(np.abs(pixels)))
            if np.isinf(largest):  # infinities are the server's to name; the finite values count
                largest = float(np.abs(pixels[np.isfinite(pixels)], dtype=np.float32).max(initial=0.0))
            if largest > HALF_MAX:
                raise FrameSourceError(
                    f"{role} frame {frame} holds values up to {largest:g}, beyond half floats' "
                    f"{HALF_MAX:g}: send float samples (sample_type='float')"
                )
        colorspace = self.colorspace if role != "matte" else ""
        return pixels, _channels(pixels.shape[2], role), colorspace


#: The most bytes of a window's images a client keeps for the next window to be compared with:
#: a 4K window of five frames, plates and mattes, is about 700 MB.
KNOWN_BYTES = 1 << 30


class DigestedFrames:
    """An :class:`ArrayFrames`'s images with their SHA-256 (FuseWindow's cache keys); the images whose digest
    is in ``held`` go as references to what the server holds, without their bytes.

    ``known`` holds an earlier window's images by (role, frame), as :attr:`known_images` gives them:
    an image whose bytes equal that one's takes its digest without hashing it again (a scrub's next
    window holds the last one's frames but one; comparing costs a ninth of hashing)."""

    def __init__(self, frames: ArrayFrames, roles: Sequence[str], known: Mapping | None = None):
        self.clip = list(frames.clip)
        keys = [(role, frame) for role in roles for frame in self.clip]
        known = known or {}

        def digested(key: tuple[str, int]) -> tuple[pb.ImageInfo, bytes]:
            before = known.get(key)
            info, data = frames.image_unless_sent(*key, before[0] if before is not None else None)
            if data is None:
                # The same samples as sent before: their kept bytes and digest go again.
                info.sha256 = before[1]
                return info, before[0]
            # The bytes hashed are those sent and kept: a view of the caller's array is copied
            # first, so a change made to it meanwhile cannot pair new bytes with the old digest.
            data = _kept(data)
            same = before is not None and _same_bytes(before[0], data)
            info.sha256 = before[1] if same else image_sha256(data)
            return info, data

        # A window's images are encoded and hashed on every core (numpy's copies and hashlib
        # release the GIL): for a 1080p window this is most of a host's wait outside the server.
        # Images not sent before go first: hashing one is the longest piece of work here.
        order = sorted(keys, key=lambda key: key in known)
        with ThreadPoolExecutor(max_workers=max(1, min(len(keys), os.cpu_count() or 1))) as pool:
            found = dict(zip(order, pool.map(digested, order), strict=True))
        self.images = {key: found[key] for key in keys}
        self.held: frozenset[str] = frozenset()

    def digests(self) -> list[str]:
        return sorted({info.sha256 for info, _ in self.images.values()})

    def known_images(self, limit: int = KNOWN_BYTES) -> dict:
        """Each image's bytes and digest by (role, frame): the ``known`` of the next window; none
        where they come to over ``limit`` bytes (a window of dozens of 4K frames is not held on to)."""
        if sum(len(data) for _, data in self.images.values()) > limit:
            return {}
        return {key: (data, info.sha256) for key, (info, data) in self.images.items()}

    def image(self, role: str, frame: int) -> tuple[pb.ImageInfo, bytes]:
        info, data = self.images[(role, frame)]
        if info.sha256 not in self.held:
            return info, data
        reference = pb.ImageInfo()
        reference.CopyFrom(info)
        reference.cached = True
        return reference, b""


def _kept(data: bytes | memoryview) -> bytes | memoryview:
    """An image's bytes as they were sent, to compare the next window's with: the image's own where
    nothing else holds them (a copy made for the upload, a file's bytes), else a copy of them (a
    float32 matte goes from the caller's own array, which a host may change in place)."""
    owner = data.obj if isinstance(data, memoryview) else None
    if owner is None or (isinstance(owner, np.ndarray) and owner.base is None):
        return data
    return bytes(data)


def _holds(pixels: np.ndarray, sent: bytes | memoryview, sample_type: int) -> bool:
    """Whether planar float samples ``sent`` are bit for bit ``pixels`` (float32 ``(H, W, C)``),
    compared as integers (-0.0 is not 0.0; a NaN is the same NaN). Half samples are made by
    rounding: those are compared after it, as bytes (False here)."""
    height, width, count = pixels.shape
    if sample_type != pb.SAMPLE_TYPE_FLOAT or pixels.dtype != np.float32 or len(sent) != pixels.nbytes:
        return False
    before = np.frombuffer(sent, "<u4").reshape(count, height, width)
    now = pixels.view(np.uint32)  # the machine's order: numpy compares the values, not the bytes
    return all(np.array_equal(before[c], now[:, :, c]) for c in range(count))


def _same_bytes(before: bytes | memoryview, now: bytes | memoryview) -> bool:
    """Whether two images' bytes are equal, compared eight at a time."""
    first, second = np.frombuffer(before, np.uint8), np.frombuffer(now, np.uint8)
    if first.size != second.size:
        return False
    if first.size % 8 == 0:
        first, second = first.view(np.uint64), second.view(np.uint64)
    return bool(np.array_equal(first, second))
