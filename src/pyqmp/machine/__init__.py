"""The reference machine: a QEMU-compatible ``pyqmp machine`` built on the server.

:mod:`.app` assembles it (schema, monitors, human monitor) from the options of
:mod:`.options`; :mod:`.machine` implements the commands of its schema (``qapi/``,
typed bindings generated into :mod:`.machine_qapi`), its run state a table
(:mod:`.run_state`), its balloon (:mod:`.balloon`), QOM paths (:mod:`.qom`) and the
human monitor (:mod:`.hmp`).  The guest is a separate process reached through
:mod:`.guest_link` (the I/O) and :mod:`.guest_channel` (the sans-IO channel engine).
"""
