"""The interactive monitor, ``pyqmp shell``: qmp-shell's command lines over :mod:`pyqmp.client`.

:mod:`.command_line` reads a typed line (pure), :mod:`.completion` answers TAB from the
server's introspection (pure), :mod:`.session` runs lines on a connected client and formats
what comes back, :mod:`.terminal` is the prompt_toolkit prompt, and :mod:`.script` runs
lines from a non-terminal stdin.
"""
