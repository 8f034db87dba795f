"""The QMP server: the I/O around the sans-IO engine of :mod:`pyqmp.protocol`.

:mod:`.runtime` listens (unix or TCP, optionally TLS from :mod:`.tls`) and admits
monitors (:mod:`.monitor`), each a connection engine on an asyncio transport;
:mod:`.dispatch` binds a schema's commands to a handler object, with arguments checked
and converted by :mod:`.arguments`; :mod:`.access` is a monitor's policy (read-only,
allow/deny, peer identity); :mod:`.events` is the bus monitors join once negotiated.
The server knows nothing of the machine: it serves whatever schema and handlers it is
given.
"""
