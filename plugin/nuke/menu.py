# MovingColor for Nuke, GUI sessions: the MovingColor node in the Nodes toolbar.
# Syntax every Nuke's Python reads, as init.py.
try:
    from movingcolor_nuke.menu import install_menu
except Exception:  # noqa: BLE001 - init.py, which Nuke runs first, has said why
    pass
else:
    try:
        install_menu()
    except Exception as error:  # noqa: BLE001 - a menu that fails says why and lets Nuke start
        print("MovingColor: no Nodes toolbar entry (" + type(error).__name__ + ": " + str(error) + ")")
