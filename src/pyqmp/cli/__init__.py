"""The ``pyqmp`` command line: argument parsing in :mod:`pyqmp.cli.main`, one module per command
family behind it. Nothing here is imported until the chosen command needs it, because the start-up
time of ``pyqmp schema check`` is measured against QEMU's own schema front end.
"""
