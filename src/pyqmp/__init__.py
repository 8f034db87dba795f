"""pyqmp: QEMU's machine-management protocol (QMP) and its QAPI schema language in Python.

One QAPI schema file is the single source of truth: from it pyqmp derives the typed Python API,
the QMP wire protocol with its validation and errors, ``query-qmp-schema`` introspection, a typed
client, reference documentation and a compatibility verdict between schema versions. The package
is layered as ARCHITECTURE.md describes (schema, codegen, protocol, server, client, machine,
channel, guest, shell, agent); this top-level module stays import-light so that the command line
starts quickly.
"""

__version__ = "0.1.0"
