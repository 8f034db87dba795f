"""The guest: a separate process that plays the virtual machine's guest for the machine.

It holds the guest's RAM as real anonymous memory, runs a workload in it, and drives the
balloon over the guest channel (:mod:`pyqmp.channel`, the only part of pyqmp it uses):
inflating really gives pages back to the host, and the statistics describe the process's
real memory.  Fault modes make it hang, crash, send garbage, flood, lie or answer slowly.
Run it as ``python -m pyqmp.guest --fd N --ram BYTES [--fault MODE]``, or through
:func:`pyqmp.guest.main.main`.
"""
