"""A QMP server that lies: run as ``python hostile_qmp.py SOCKET EVENTS``.

It greets and negotiates like QEMU, then answers the agent's questions with values no
honest server sends (a status of 10,000 characters, negative and 70-bit sizes, a
thousand made-up statistics, malformed introspection) and sends EVENTS events under
thousands of different names, some of which no subject token could carry unescaped and
one that is empty.  Once it has sent them it prints ``sent N events``.  Any other command
gets an error.
"""

from __future__ import annotations

import asyncio
import json
import sys

GREETING = {
    "QMP": {
        "version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""},
        "capabilities": [],
    }
}
SCHEMA = [
    {"name": "query-status", "meta-type": "command"},
    {"name": "query-balloon-stats", "meta-type": "command"},
    12345,
    {"name": ["not", "a", "name"], "meta-type": "command"},
    {"meta-type": "command"},
]
ANSWERS = {
    "query-qmp-schema": SCHEMA,
    "query-status": {"status": "x" * 10_000, "running": "yes", "singlestep": 3},
    "query-balloon-stats": {
        "actual": -5,
        "target": 2**70,
        "last-update": -1,
        "request-outstanding": "no",
        "stats": {
            "stat-free-memory": "lots",
            "stat-" + "a" * 500: 1,
            "bogus": 2,
            **{f"stat-x{index}": index for index in range(1000)},
        },
    },
}
ODD_NAMES = ["bad name!", "dots.in.name", "*", ">", "", "É" * 40]


def event_names(count: int) -> list[str]:
    names = [f"EVENT_{index}" for index in range(count - len(ODD_NAMES))]
    return names + ODD_NAMES


async def serve(path: str, events: int) -> None:
    # The events go to the first session only, so that they add up to EVENTS however often
    # the agent reconnects (a loaded machine can miss a deadline and make it reconnect).
    unsent = [events]

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(message: object) -> None:
            writer.write(json.dumps(message).encode() + b"\r\n")

        send(GREETING)
        negotiated = False
        while line := await reader.readline():
            request = json.loads(line)
            name, request_id = request.get("execute"), request.get("id")
            if name == "qmp_capabilities":
                send({"return": {}, "id": request_id})
                if not negotiated and unsent[0]:
                    negotiated = True
                    unsent[0] = 0
                    for event in event_names(events):
                        send(
                            {
                                "event": event,
                                "data": {"junk": [1] * 100, "x": 2**80},
                                "timestamp": {"seconds": -1, "microseconds": "never"},
                            }
                        )
                    await writer.drain()
                    print(f"sent {events} events", flush=True)
            elif name in ANSWERS:
                send({"return": ANSWERS[name], "id": request_id})
            else:
                send(
                    {"error": {"class": "CommandNotFound", "desc": f"no {name}"}, "id": request_id}
                )
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(client, path)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
