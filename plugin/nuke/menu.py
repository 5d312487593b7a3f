# MovingColor for Nuke, GUI sessions: the MovingColor node in the Nodes toolbar.
try:
    from movingcolor_nuke.menu import install_menu
except ImportError as error:
    print(f"MovingColor: no menu ({error}); see plugin/nuke/README.md")
else:
    install_menu()
