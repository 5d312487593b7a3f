"""MovingColor: fuse the clip under the playhead (Workspace > Scripts > MovingColor).

Resolve runs this file from its Scripts folder (a link to it there: see README.md).
Settings come from $MOVINGCOLOR_RESOLVE_SETTINGS (or ~/.config/movingcolor/resolve.json)
and MOVINGCOLOR_* environment variables; progress and errors go to the Console
(Workspace > Console) and the log file.
"""

import os
import sys

# The bridge lives beside the real file (Resolve may run this through a link in its Scripts
# folder), or in the folder $MOVINGCOLOR_RESOLVE names.
_here = os.environ.get("MOVINGCOLOR_RESOLVE") or (
    os.path.dirname(os.path.realpath(__file__)) if "__file__" in globals() else ""
)
if _here and _here not in sys.path:
    sys.path.insert(0, _here)


def _resolve():
    # Inside Resolve, scripts see `resolve` (and `bmd`); elsewhere (None) the command line's main
    # connects through the scripting module, reporting a failure in the log like any other.
    app = globals().get("resolve")
    if app is None and "bmd" in globals():
        app = bmd.scriptapp("Resolve")  # noqa: F821 (defined by Resolve)
    return app


def run() -> int:
    try:
        from movingcolor_resolve.cli import main
    except ImportError as error:
        print(f"MovingColor: cannot load ({error}); install movingcolor for Resolve's Python: see README.md")
        return 2
    return main([], resolve=_resolve())


if __name__ != "MovingColor":  # run from Resolve's menu or a shell, not imported
    run()
