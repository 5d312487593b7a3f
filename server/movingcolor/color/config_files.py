"""The files an OpenColorIO config reads: its LUTs (FileTransforms) and the folders it searches.

A server that reads only inside its root folders takes a config file from a client's job (RunJob):
the config's own path is checked like any input, but the LUTs it names are opened by OpenColorIO
wherever its search path or an absolute path points, and OpenColorIO's errors list every place it
tried. :func:`files_outside` says which of them lie outside the roots, before the config is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import PyOpenColorIO as ocio

from ..frames.confine import lies_within
from .config import OCIO_ERRORS

#: The directions each kind of config entry may hold a transform in.
_COLORSPACE_DIRECTIONS = (ocio.COLORSPACE_DIR_TO_REFERENCE, ocio.COLORSPACE_DIR_FROM_REFERENCE)
_VIEW_DIRECTIONS = (ocio.VIEWTRANSFORM_DIR_TO_REFERENCE, ocio.VIEWTRANSFORM_DIR_FROM_REFERENCE)
_NAMED_DIRECTIONS = (ocio.TRANSFORM_DIR_FORWARD, ocio.TRANSFORM_DIR_INVERSE)


def file_sources(config: ocio.Config) -> Iterator[str]:
    """Every FileTransform's source as the config writes it, from its colourspaces (display ones
    too), looks, view transforms and named transforms, groups opened."""
    transforms = []
    for space in config.getColorSpaces(ocio.SEARCH_REFERENCE_SPACE_ALL, ocio.COLORSPACE_ALL):
        transforms += [space.getTransform(direction) for direction in _COLORSPACE_DIRECTIONS]
    for look in config.getLooks():
        transforms += [look.getTransform(), look.getInverseTransform()]
    for view in config.getViewTransforms():
        transforms += [view.getTransform(direction) for direction in _VIEW_DIRECTIONS]
    for named in config.getNamedTransforms(ocio.NAMEDTRANSFORM_ALL):
        transforms += [named.getTransform(direction) for direction in _NAMED_DIRECTIONS]
    while transforms:
        transform = transforms.pop()
        if isinstance(transform, ocio.GroupTransform):
            transforms += list(transform)
        elif isinstance(transform, ocio.FileTransform):
            yield transform.getSrc()


def files_outside(config: ocio.Config, roots: Sequence[Path]) -> list[str]:
    """The folders ``config`` searches for its LUTs and the LUTs it names, by their real paths, that
    lie outside ``roots`` (symbolic links and ``..`` resolved): where a LUT it names is found, that
    file; its search folders in any case, since a LUT it cannot find is looked for in each."""
    working = Path(config.getWorkingDir() or ".")
    context = config.getCurrentContext()
    places = [working / context.resolveStringVar(folder) for folder in config.getSearchPaths()]
    for source in set(file_sources(config)):
        try:
            places.append(Path(context.resolveFileLocation(source)))
        except OCIO_ERRORS:
            # Not found: OpenColorIO looks only in the search folders (checked above) unless the
            # name is absolute, which says where it would be read.
            named = Path(context.resolveStringVar(source))
            if named.is_absolute():
                places.append(named)
    real = {Path(os.path.realpath(place)) for place in places}
    return sorted(str(path) for path in real if not lies_within(path, roots))
