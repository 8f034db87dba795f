"""Serve your own QAPI schema over QMP with typed handlers (pyqmp.server).

    pyqmp schema gen python examples/counter.json -o examples   # writes counter_qapi.py
    python examples/serve_counter.py counter.sock               # then: pyqmp client ...
"""

import asyncio
import os
import sys

import counter_qapi as api  # generated from counter.json

from pyqmp.schema import load_schema
from pyqmp.server.dispatch import Dispatcher
from pyqmp.server.runtime import QMPServer


class Counter:  # implements api.Commands: one typed method per command
    def __init__(self, events: api.Events) -> None:
        self.value = 0
        self.events = events

    def counter_add(self, *, amount: int) -> api.CounterInfo:
        self.value += amount
        self.events.counter_changed(value=self.value)
        return api.CounterInfo(value=self.value)


async def main(path: str) -> None:
    schema = load_schema(os.path.join(os.path.dirname(__file__), "counter.json"))
    counter = Counter(api.Events(lambda name, data: server.emit(name, data)))
    dispatcher = Dispatcher(schema, counter, api.COMMAND_METHODS, api.COMMAND_ARGUMENTS)
    version = {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": "counter"}
    server = QMPServer(dispatcher, version)
    await server.listen_unix(path)
    print(f"serving on {path}", flush=True)
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
