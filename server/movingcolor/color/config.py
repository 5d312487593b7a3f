"""The active OpenColorIO config and colourspace conversions of pixel arrays."""

from __future__ import annotations

import difflib
import functools
import itertools
import os
import re
import stat
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import PyOpenColorIO as ocio

from ..compute_pool import map_parts
from ..errors import ColorConfigError, UnknownColorspaceError
from ..frames.confine import active_roots
from .confined_files import ConfinedFiles, confined_config

BUILTIN_CONFIG = "ocio://default"
_GENERATIONS = itertools.count(1)
#: Each LUT file a config loaded in this process read, with its stamp (modification time, size) as
#: it was then: OpenColorIO keeps a file it parsed by its path for the whole process, for any config.
_LUT_STAMPS: dict[str, tuple] = {}

# ExceptionMissingFile does not derive from ocio.Exception in the Python binding.
OCIO_ERRORS = (ocio.Exception, ocio.ExceptionMissingFile)

# Tried in order when an integer (8/16-bit) file declares no colourspace: the
# sRGB-encoded Rec.709 space under its interop ID, its common names (ACES 1.x configs name it
# "Utility - sRGB - Texture"), then a role. Each is checked to encode as sRGB does (:func:`_is_srgb`):
# ACES 1.x configs give the texture_paint role to ACEScc, a log space.
_SRGB_CANDIDATES = (
    "srgb_rec709_scene",
    "srgb_tx",
    "sRGB - Texture",
    "sRGB",
    "Utility - sRGB - Texture",
    "texture_paint",
)
#: Grey levels an sRGB-encoded space must decode as the sRGB curve does, within 15% (a pure 2.2
#: gamma, which some configs give their sRGB space, passes; a log or linear space is far off).
_SRGB_PROBES = np.array([0.2, 0.5, 0.8], np.float32)


def shared_config(source: str | None = None) -> ColorConfig:
    """The :class:`ColorConfig` of ``source`` (as :class:`ColorConfig` resolves it), loaded once
    per process while its file is unchanged: a server's calls share one config and its
    processors instead of parsing the config again for every window."""
    resolved = source or os.environ.get("OCIO") or BUILTIN_CONFIG
    try:
        status = os.stat(resolved)
        stamp = (status.st_mtime_ns, status.st_size)
    except OSError:  # a built-in config (ocio://...), or a file whose error loading it reports
        stamp = None
    # A server's file job reads the config it names inside its roots; the server's own ($OCIO, a
    # built-in) is the operator's, read as it is.
    confined = source and not source.startswith("ocio://")
    roots = active_roots() if confined else None
    config = _loaded_config(resolved, stamp, roots)
    if config.luts_changed():
        # A LUT the config reads changed since it was loaded (a show LUT updated while a server
        # runs): OpenColorIO keeps every file it parsed by its path for the process, and the config's
        # conversions are kept with it, so both are dropped and the config loaded again.
        ocio.ClearAllCaches()
        _loaded_config.cache_clear()
        config = _loaded_config(resolved, stamp, roots)
    return config


@functools.cache
def _builtin_config() -> ocio.Config:
    """OpenColorIO's built-in studio config: its colourspaces' names, aliases and interop IDs are
    what other tools write in headers."""
    return ocio.Config.CreateFromFile("ocio://studio-config-latest")


def _forget_files_changed_since_read(stamps: tuple) -> None:
    """Empty OpenColorIO's caches where a LUT of ``stamps`` (a config's, as it loads) changed since a
    config read it: a config republished with a LUT changed beside it is loaded again for its own
    change, and its conversions would have read the LUT as OpenColorIO kept it, for good."""
    changed = False
    for path, *stamp in stamps:
        changed |= _LUT_STAMPS.get(path, stamp) != stamp
        _LUT_STAMPS[path] = stamp
    if changed:
        ocio.ClearAllCaches()


#: Words in the names, aliases or interop IDs of film scans' colourspaces (Cineon's printing density,
#: its ACES form ADX, SPI's lg10).
_FILM_SCAN_WORDS = ("cineon", "adx", "lg10", "printing density")


def icc_doubt(icc: str, known: str, what: str, read_as: str) -> str:
    """The warning for a ``what`` file (plate, graded, edited) that embeds ICC profile ``icc``, which
    ``known`` ("MovingColor does not know"), read as colourspace ``read_as``."""
    option = "--plate-colorspace" if what == "plate" else "--graded-colorspace"
    return (
        f"the {what} file embeds ICC profile {icc!r}, which {known}: it is read as {read_as}, as a file "
        f"that declares no colourspace; name its colourspace with {option} if that is not it"
    )


@dataclass(frozen=True)
class ColorspaceChoice:
    """A colourspace picked for a source, and why: shown to the user, never silent."""

    name: str
    reason: str
    #: Why the choice may be wrong, for a warning (a colourspace the file declares that the config
    #: does not know).
    doubt: str = ""


class ColorConfig:
    """An OpenColorIO config plus cached CPU processors for the conversions we use. Given ``roots``
    (the config file a server's file job names), the config and every LUT it reads are read inside
    them as they are read (:mod:`.confined_files`); a built-in config reads no files."""

    def __init__(self, source: str | None = None, roots: Sequence[Path] | None = None):
        self.source = source or os.environ.get("OCIO") or BUILTIN_CONFIG
        self.files: ConfinedFiles | None = None
        try:
            if roots is None or self.source.startswith("ocio://"):
                self.config = ocio.Config.CreateFromFile(self.source)
            else:
                self.config, self.files = confined_config(self.source, roots)
        except (*OCIO_ERRORS, OSError) as error:  # OSError: a confined config's own file unread
            # OpenColorIO's own sentence, without its full stop.
            reason = (error.strerror if isinstance(error, OSError) else str(error)).rstrip(". ")
            raise ColorConfigError(
                f"cannot load OpenColorIO config {self.source!r}: {reason}. Pass --config with a "
                f"valid config.ocio, fix $OCIO, or use the built-in {BUILTIN_CONFIG}"
            ) from error
        # OpenColorIO's processor cache keys a transform by its cache ID, which for an in-memory
        # LUT does not cover its values: in one process (a server, a training run) every parametric
        # grade after the first was applied as the first. The conversions are kept here instead.
        self.config.setProcessorCacheFlags(ocio.PROCESSOR_CACHE_OFF)
        self._processors: dict = {}
        #: The files the config's transforms read, and their stamp as it was loaded.
        self.lut_files = _files_read_by(self.config) if not self.source.startswith("ocio://") else ()
        self.loaded_lut_stamp = self.lut_files_stamp()
        _forget_files_changed_since_read(self.loaded_lut_stamp)
        self._checked_at = time.monotonic()
        #: Which load of a config this is, in this process: what :func:`shared_config` gives after
        #: a file it reads changed is another, so work kept by a config's conversions (a server's
        #: fused windows, their prepared frames) is told from work done before the change.
        self.generation = next(_GENERATIONS)

    def lut_files_stamp(self) -> tuple:
        """Each file the config's transforms read (its LUTs, wherever they are found) with its size
        and modification time: what :func:`shared_config` compares to know one changed in place."""
        stamp = []
        for path in self.lut_files:
            try:
                status = os.stat(path)
            except OSError:  # gone: a conversion through it says so
                status = None
            if status is None or not stat.S_ISREG(status.st_mode):  # a folder there is no LUT either
                stamp.append((path, None, None))
                continue
            stamp.append((path, status.st_mtime_ns, status.st_size))
        return tuple(stamp)

    def luts_changed(self) -> bool:
        """Whether a file the config reads changed since it was loaded; looked at once a second at
        most (a server asks at every call, and a config may name hundreds of LUTs on shared storage)."""
        now = time.monotonic()
        if not self.lut_files or now - self._checked_at < LUT_CHECK_SECONDS:
            return False
        self._checked_at = now
        return self.lut_files_stamp() != self.loaded_lut_stamp

    @property
    def name(self) -> str:
        return self.config.getName() or os.path.basename(self.source)

    @functools.cached_property
    def scene_linear(self) -> str:
        """The linear working space blends happen in (the config's scene_linear role)."""
        name = self.config.getRoleColorSpace(ocio.ROLE_SCENE_LINEAR)
        if not name:
            raise ColorConfigError(
                f"OpenColorIO config {self.source!r} defines no scene_linear role; "
                f"MovingColor blends in scene-linear light and needs it: add one under the config's "
                f"roles (e.g. 'scene_linear: ACEScg', a linear colourspace it defines), or give "
                f"--config a config that has one (ocio://cg-config-latest)"
            )
        return self.resolve(name)

    @functools.cached_property
    def srgb_encoded(self) -> str:
        """An sRGB-encoded Rec.709 space: the default for 8-bit images."""
        for candidate in _SRGB_CANDIDATES:
            space = self.config.getColorSpace(candidate)
            if space is not None and self._is_srgb(space.getName()):
                return space.getName()
        raise ColorConfigError(
            f"OpenColorIO config {self.source!r} has no sRGB-encoded Rec.709 colourspace (looked for "
            f"{', '.join(_SRGB_CANDIDATES)}, and checked each against the sRGB curve), which the "
            f"engines and 8/16-bit files are encoded in; add one to the config (e.g. 'sRGB - Texture') "
            f"or use a config that has one"
        )

    def _is_srgb(self, name: str) -> bool:
        """Whether colourspace ``name`` decodes greys as the sRGB curve does, into scene_linear."""
        greys = np.repeat(_SRGB_PROBES[:, None], 3, axis=1)
        try:
            linear = self.convert(greys, name, self.scene_linear)
        except OCIO_ERRORS:
            return False
        expected = (((_SRGB_PROBES + 0.055) / 1.055) ** 2.4)[:, None]
        return bool(np.all(np.abs(linear - expected) <= 0.15 * expected + 1e-3))

    def colorspace_names(self) -> list[str]:
        return [space.getName() for space in self.config.getColorSpaces()]

    def is_scene_linear(self, name: str) -> bool:
        """Whether colourspace ``name`` is linear to the scene reference, by OpenColorIO's test of its
        transforms (for a config that gives no encodings)."""
        try:
            with self.reading_files():
                return bool(self.config.isColorSpaceLinear(name, ocio.REFERENCE_SPACE_SCENE))
        except OCIO_ERRORS:
            return False

    def interop_id(self, name: str) -> str:
        """The Color Interop Forum ID the config gives colourspace ``name`` (``lin_ap1_scene``), or
        "" where it gives none."""
        space = self.config.getColorSpace(name)
        return space.getInteropID() if space is not None else ""

    def resolve(self, name: str) -> str:
        """The canonical name of colourspace ``name`` (aliases and roles accepted)."""
        space = self.config.getColorSpace(name)
        if space is None:
            known = self.colorspace_names()
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
            hint = self._view_hint(name) or (
                f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            )
            raise UnknownColorspaceError(
                f"colourspace {name!r} is not in OpenColorIO config {self.name!r}.{hint} "
                f"`movingcolor info` lists the config's colourspaces."
            )
        return space.getName()

    def context_variables(self) -> dict[str, str]:
        """The context variables the config reads (``$SHOT`` or ``${SHOT}`` in its search path,
        working folder or a file transform's name, and those its ``environment`` declares) that its
        context holds, with the values this process gives them (a variable the context does not hold
        is left unresolved, whatever the environment says)."""
        config = self.config
        sources = [transform.getSrc() for transform in _file_transforms(config)]
        texts = [config.getSearchPath(), config.getWorkingDir(), *sources]
        names = set(config.getEnvironmentVarNames())
        names.update(match.group(1) for text in texts for match in _CONTEXT_VARIABLE.finditer(text or ""))
        held = dict(config.getCurrentContext().getStringVars())
        return {name: held[name] for name in sorted(names) if name in held}

    def _identified(self, declared: str) -> str:
        """The config's colourspace that ``declared`` (an interop ID or a name of OpenColorIO's
        built-in configs, as OpenImageIO 3 writes a header's colourspace: ``lin_ap0_scene``) names,
        found by what it does (OpenColorIO's ``IdentifyBuiltinColorSpace``); "" where none does.
        A show config written before interop IDs has ACES2065-1 by its name alone."""
        builtin = _builtin_config()
        space = builtin.getColorSpace(declared)
        if space is None:
            return ""
        try:
            return ocio.Config.IdentifyBuiltinColorSpace(self.config, builtin, space.getName()) or ""
        except OCIO_ERRORS:
            return ""

    def _view_hint(self, name: str) -> str:
        """Where ``name`` is a view (or a view transform) of the config's displays, not a colourspace:
        which display colourspace to give instead; else ""."""
        config = self.config
        displays = [d for d in config.getDisplays() if name in config.getViews(d)]
        if not displays and name not in config.getViewTransformNames():
            return ""
        display = displays[0] if displays else config.getDefaultDisplay()
        space = display
        if displays:
            named = config.getDisplayViewColorSpaceName(display, name)
            space = named if named and config.getColorSpace(named) is not None else display
        where = f"a view of display {display!r}" if displays else "a view transform"
        return (
            f" It is {where}, not a colourspace: give a display colourspace such as {space!r}, which "
            f"writes frames as that display shows them (through the config's default view transform)."
        )

    def log_spaces(self) -> list[str]:
        """The config's log-encoded colourspaces: by the encoding it gives them, or where it gives
        none (a config written before encodings), by a name or family that says log."""
        spaces = []
        for space in self.config.getColorSpaces():
            encoding = space.getEncoding()
            said = f"{space.getName()} {space.getFamily()}".lower()
            if encoding == "log" or (not encoding and "log" in said):
                spaces.append(space.getName())
        return spaces

    def film_scan_spaces(self) -> list[str]:
        """The config's colourspaces of film scans' printing density (Cineon, ADX, SPI's lg10), by
        their names, aliases or interop IDs."""
        spaces = []
        for space in self.config.getColorSpaces():
            names = " ".join([space.getName(), *space.getAliases(), space.getInteropID()]).lower()
            if any(word in names for word in _FILM_SCAN_WORDS):
                spaces.append(space.getName())
        return spaces

    def choose(
        self, explicit: str | None, declared: str, is_float: bool, what: str, icc: str = ""
    ) -> ColorspaceChoice:
        """Pick a source's colourspace: explicit, else declared by the file, else by data type.
        ``icc``: the description of the ICC profile the file embeds, whose colourspace ``declared``
        then is (``image_io.icc_colorspace``: empty for a profile that is none known)."""
        if explicit:
            return ColorspaceChoice(self.resolve(explicit), f"{what} colourspace given")
        if icc and declared != _SRGB_CANDIDATES[0]:
            # An sRGB profile is declared as OpenImageIO declares every PNG and JPEG, below.
            return self._by_icc_profile(icc, declared, is_float, what)
        if declared and self.config.getColorSpace(declared) is not None:
            return ColorspaceChoice(self.resolve(declared), f"declared in the {what} file header")
        if declared == _SRGB_CANDIDATES[0] and not is_float:
            # OpenImageIO declares every JPEG (and PNG with an sRGB chunk) by the interop ID of
            # sRGB, which configs before OpenColorIO 2.2's naming (the ACES 1.3 ones) do not know:
            # the config's sRGB-encoded space is that one, not a guess.
            return ColorspaceChoice(self.srgb_encoded, f"declared in the {what} file header as sRGB")
        # sRGB declared on a float file stays doubted, as before: OpenImageIO gives that declaration
        # to files by default, and float plates are scene-linear far more often.
        identified = self._identified(declared) if declared and declared != _SRGB_CANDIDATES[0] else ""
        if identified:
            return ColorspaceChoice(
                identified, f"declared in the {what} file header as {declared!r}, which is this config's"
            )
        doubt = (
            f"the {what} file header declares colourspace {declared!r}, which config {self.name!r} "
            f"does not know; it is read as the default for its type: name the {what}'s colourspace if "
            f"that is not it"
            if declared
            else ""
        )
        return replace(self._default(is_float, what), doubt=doubt)

    def _default(self, is_float: bool, what: str) -> ColorspaceChoice:
        """The colourspace of a source whose file declares none, by its data type."""
        if is_float:
            return ColorspaceChoice(self.scene_linear, f"default for float {what} files (scene_linear role)")
        return ColorspaceChoice(self.srgb_encoded, f"default for integer {what} files (sRGB-encoded)")

    def _by_icc_profile(self, icc: str, declared: str, is_float: bool, what: str) -> ColorspaceChoice:
        """The colourspace of a file that embeds ICC profile ``icc``, known as ``declared`` (or none):
        the config's space for it, else the default for its type, doubted."""
        space = self.config.getColorSpace(declared) if declared else None
        name = space.getName() if space is not None else (self._identified(declared) if declared else "")
        if name:
            return ColorspaceChoice(name, f"declared by the ICC profile {icc!r} the {what} file embeds")
        default = self._default(is_float, what)
        known = f"config {self.name!r} has no colourspace for" if declared else "MovingColor does not know"
        return replace(default, doubt=icc_doubt(icc, known, what, default.name))

    @contextmanager
    def reading_files(self) -> Iterator[None]:
        """Around OpenColorIO's work that may read the config's files: in a confined config, a file
        refused outside the roots is raised as such in place of OpenColorIO's error, and its caches
        emptied of what could not be read (:meth:`ConfinedFiles.loading`)."""
        if self.files is None:
            yield
            return
        with self.files.loading():
            try:
                yield
            except OCIO_ERRORS:
                self.files.raise_refused()
                raise

    def build(self, *args) -> ocio.Processor:
        """``getProcessor(*args)`` of the config, its files read as :meth:`reading_files` says."""
        with self.reading_files():
            return self.config.getProcessor(*args)

    def processor(self, transform: ocio.Transform) -> ocio.CPUProcessor:
        """A float32 CPU processor for ``transform`` (errors become ColorConfigError)."""
        return self.build(transform).getDefaultCPUProcessor()

    def converter(self, src: str, dst: str) -> ocio.CPUProcessor | None:
        """The processor from ``src`` to ``dst``, or None when it changes nothing."""
        key = (src, dst)
        if key not in self._processors:
            try:
                processor = self.build(src, dst)
            except OCIO_ERRORS as error:
                # A colourspace whose LUT file is missing or broken: name it, not the frame or grade.
                raise ColorConfigError(
                    f"OpenColorIO config {self.name!r} cannot convert {src!r} to {dst!r} ({error}); "
                    f"check those colourspaces' LUT files in the config"
                ) from error
            self._processors[key] = None if processor.isNoOp() else processor.getDefaultCPUProcessor()
        return self._processors[key]

    def convert(self, rgb: np.ndarray, src: str, dst: str, copy: bool = True) -> np.ndarray:
        """``rgb`` (float32 ``(..., 3)``) from ``src`` to ``dst``; a copy, the input stays. Without
        ``copy``, a conversion that changes nothing returns ``rgb`` itself (read-only callers of a
        full frame save a copy of it)."""
        processor = self.converter(src, dst)
        if processor is None and not copy and rgb.dtype == np.float32 and rgb.flags.c_contiguous:
            return rgb
        return apply_processor(processor, rgb)


#: Pixels a processor is applied to at a time. OpenColorIO's CPU path is several times faster on
#: runs of this size than on a whole HD frame in one call (measured 1080p: 92 ms in one call, 32 ms
#: in chunks on one core), and chunks let every core work.
CHUNK_PIXELS = 1 << 17


def apply_processor(processor: ocio.CPUProcessor | None, rgb: np.ndarray) -> np.ndarray:
    """Apply ``processor`` to a copy of ``rgb`` (float32 ``(..., 3)``); None means identity
    (bit-exact copy). Each pixel is transformed on its own, so the result does not depend on
    how the pixels are split between threads."""
    out = np.array(rgb, dtype=np.float32, order="C", copy=True)
    if processor is None:
        return out
    pixels = out.reshape(-1, 3)
    if len(pixels) <= CHUNK_PIXELS:
        processor.applyRGB(pixels)
        return out
    chunks = [pixels[start : start + CHUNK_PIXELS] for start in range(0, len(pixels), CHUNK_PIXELS)]
    map_parts(processor.applyRGB, chunks)
    return out


#: How often a shared config looks at its LUT files' stamps (:meth:`ColorConfig.luts_changed`).
LUT_CHECK_SECONDS = 1.0


#: A context variable in an OpenColorIO path: ``$SHOT`` or ``${SHOT}``.
_CONTEXT_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def _file_transforms(config: ocio.Config) -> list[ocio.FileTransform]:
    """The file transforms of ``config``'s colourspaces, looks, view and named transforms, inside
    groups too."""
    transforms = []
    for space in config.getColorSpaces(ocio.SEARCH_REFERENCE_SPACE_ALL, ocio.COLORSPACE_ALL):
        transforms += [space.getTransform(d) for d in ocio.ColorSpaceDirection.__members__.values()]
    for look in config.getLooks():
        transforms += [look.getTransform(), look.getInverseTransform()]
    for view in config.getViewTransforms():
        transforms += [view.getTransform(d) for d in ocio.ViewTransformDirection.__members__.values()]
    for named in config.getNamedTransforms():
        transforms += [
            named.getTransform(ocio.TRANSFORM_DIR_FORWARD),
            named.getTransform(ocio.TRANSFORM_DIR_INVERSE),
        ]
    found = []
    while transforms:
        transform = transforms.pop()
        if isinstance(transform, ocio.GroupTransform):
            transforms.extend(transform)
        elif isinstance(transform, ocio.FileTransform):
            found.append(transform)
    return found


def _files_read_by(config: ocio.Config) -> tuple[str, ...]:
    """The files ``config``'s transforms name (:func:`_file_transforms`), where OpenColorIO finds them
    (search folders, context variables as set now); for one it cannot find, each place it would be
    found."""
    context = config.getCurrentContext()
    working = Path(config.getWorkingDir() or ".")
    found: set[str] = set()
    for transform in _file_transforms(config):
        try:
            path = context.resolveFileLocation(transform.getSrc())
            if not os.path.isdir(path):  # an empty $SHOT_LUT resolves to its folder: no LUT
                found.add(path)
        except OCIO_ERRORS:
            # Not there yet (a show LUT copied in later): every place it would be found is
            # watched, so that its arrival reloads the config (OpenColorIO remembers the miss).
            source = context.resolveStringVar(transform.getSrc())
            if not source or source.endswith(("/", os.sep)):
                continue  # names no file (an optional $SHOT_LUT left empty): its folder is no LUT
            folders = [context.resolveStringVar(folder) for folder in config.getSearchPaths()]
            found.update(str(working / folder / source) for folder in folders or [""])
    return tuple(sorted(found))


@functools.lru_cache(maxsize=8)
def _loaded_config(source: str, stamp: tuple[int, int] | None, roots: tuple[Path, ...] | None) -> ColorConfig:
    return ColorConfig(source, roots)
