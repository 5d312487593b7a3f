# MovingColor for Nuke. Nuke runs this file in every session (GUI and `nuke -t`) once this
# folder is on NUKE_PATH, and puts the folder on sys.path, so `movingcolor_nuke` imports.
# A missing dependency or a Nuke too old is reported, never allowed to break Nuke's start-up.
# Syntax every Nuke's Python reads (no f-strings), so an old one prints why instead of failing.
# It also makes renders outside the GUI (`nuke -x` on a farm) fail where a MovingColor node has no take
# or one of other knobs (movingcolor_nuke/farm.py): menu.py, the GUI's, is not run there.
try:
    from movingcolor_nuke.farm import install_render_checks

    install_render_checks()
except ImportError as error:
    import sys

    if tuple(sys.version_info[:2]) < (3, 10):  # movingcolor_nuke.MINIMUM_PYTHON; its error says so
        print("MovingColor: not loaded: " + str(error))
    else:
        print(
            "MovingColor: not loaded (" + str(error) + "). Install the movingcolor package for Nuke's "
            "Python: see plugin/nuke/README.md"
        )
except Exception as error:  # whatever it is (a package version clash), the rest of Nuke's start goes on
    print("MovingColor: not loaded (" + type(error).__name__ + ": " + str(error) + ")")
