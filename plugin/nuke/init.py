# MovingColor for Nuke. Nuke runs this file in every session (GUI and `nuke -t`) once this
# folder is on NUKE_PATH, and puts the folder on sys.path, so `movingcolor_nuke` imports.
# A missing dependency is reported, never allowed to break Nuke's start-up.
try:
    import movingcolor_nuke  # noqa: F401
except ImportError as error:
    print(
        f"MovingColor: not loaded ({error}). Install the movingcolor package for Nuke's Python: "
        f"see plugin/nuke/README.md"
    )
