# MovingColor for Nuke, GUI sessions: the MovingColor node in the Nodes toolbar.
# Syntax every Nuke's Python reads, as init.py.
try:
    from movingcolor_nuke.menu import install_menu
except ImportError:
    pass  # init.py, which Nuke runs first, has said why
else:
    install_menu()
