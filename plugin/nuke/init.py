# MovingColor for Nuke. Nuke runs this file in every session (GUI and `nuke -t`) once this
# folder is on NUKE_PATH, and puts the folder on sys.path, so `movingcolor_nuke` imports.
# A missing dependency or a Nuke too old is reported, never allowed to break Nuke's start-up.
# Syntax every Nuke's Python reads (no f-strings), so an old one prints why instead of failing.
try:
    import movingcolor_nuke  # noqa: F401
except ImportError as error:
    import sys

    if tuple(sys.version_info[:2]) < (3, 10):  # movingcolor_nuke.MINIMUM_PYTHON; its error says so
        print("MovingColor: not loaded: " + str(error))
    else:
        print(
            "MovingColor: not loaded (" + str(error) + "). Install the movingcolor package for Nuke's "
            "Python: see plugin/nuke/README.md"
        )
