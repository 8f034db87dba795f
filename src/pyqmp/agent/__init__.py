"""The fleet agent: one process per host that watches every VM's QMP monitor.

``pyqmp agent`` connects to each monitor with :mod:`pyqmp.client` (found by ``--watch DIR``
or named by ``--qmp``), learns from each server's introspection what it can ask, keeps
what it learns in a cache (:mod:`.state`), serves that cache as Prometheus metrics
(:mod:`.metrics`, :mod:`.exporter`) and bridges events and commands to NATS
(:mod:`.nats_bridge`, subjects in :mod:`.subjects`); ``pyqmp fleet`` is the other end of
NATS (:mod:`.fleet`).  The part's one rule: no VM, frozen, hostile or gone, can stall the
agent or make its memory grow.  Every wait has a deadline, every queue a bound — events
per VM (the client's bounded stream), messages for NATS (:mod:`.outbox`), commands
outstanding per VM (:mod:`.calls`), the watched set (:mod:`.watch`), concurrent requests
and metrics connections — and what is dropped at a bound is counted in the metrics.
The agent depends on the client (and the schema and protocol below it), never on the
server or the machine.
"""
