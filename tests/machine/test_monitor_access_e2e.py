"""Per-monitor policy on a real `pyqmp machine`: a read-only monitor beside a full one.

On the read-only monitor every command with a side effect answers CommandNotFound, as if it
did not exist, and changes nothing (checked on the full monitor and on the guest process);
its query-commands and query-qmp-schema show only what it may run, and its human monitor
has `info` but no `stop`.  The full monitor beside it is unaffected.  Which commands are
read-only comes from the schema's `read-only` feature: the test reads the schema too.
"""

from __future__ import annotations

import time

from machine_process import BALLOON, MachineProcess, process_state

from pyqmp.machine.app import schema_path
from pyqmp.schema import load_schema

SIDE_EFFECTS = [
    ("stop", None),
    ("cont", None),
    ("balloon", {"value": 64 << 20}),
    ("system_reset", None),
    ("system_powerdown", None),
    ("quit", None),
    ("qom-set", {"path": BALLOON, "property": "guest-stats-polling-interval", "value": 1}),
    ("x-guest-fault", {"mode": "crash"}),
    ("balloon-stats-refresh", None),
]

# The human monitor's commands that change something: none of them runs on a read-only one.
HMP_SIDE_EFFECTS = ["stop", "cont", "balloon 64", "system_reset", "system_powerdown", "quit"]


def read_only_commands() -> set[str]:
    schema = load_schema(schema_path())
    return {
        name
        for name, command in schema.commands.items()
        if any(feature.name == "read-only" for feature in command.features)
    }


def test_read_only_monitor_refuses_every_side_effect_and_shows_only_the_rest() -> None:
    with MachineProcess("-m", "128M", monitors=2, monitor_options=["", ",read-only=on"]) as machine:
        full, looker = machine.monitors
        guest = machine.wait_guest()
        machine.monitors[0].value("query-status")  # running
        before = full.value("query-balloon-stats")["target"]

        for name, arguments in SIDE_EFFECTS:
            reply = looker.execute(name, arguments)
            assert reply == {
                "error": {
                    "class": "CommandNotFound",
                    "desc": f"The command {name} has not been found",
                }
            }
        for line in HMP_SIDE_EFFECTS:
            hmp = looker.value("human-monitor-command", {"command-line": line})
            assert hmp == f"unknown command: '{line.split()[0]}'\r\n"
        assert looker.value("human-monitor-command", {"command-line": "info status"}) == (
            "VM status: running\r\n"
        )
        help_text = looker.value("human-monitor-command", {"command-line": "help"})
        assert "info [subcommand]" in help_text and "stop" not in help_text

        # Nothing happened: the machine runs, the guest is the same process and not frozen,
        # the balloon target and polling interval are unchanged, and no event came.
        assert full.value("query-status")["status"] == "running"
        assert machine.guest_pids() == [guest]
        assert process_state(guest) != "T"
        stats = full.value("query-balloon-stats")
        assert stats["target"] == before and stats["polling-interval"] == 0
        assert [e for _, e in full.events if e["event"] in ("STOP", "RESET", "SHUTDOWN")] == []

        # What it lists is exactly the schema's read-only commands.
        expected = read_only_commands()
        listed = {entry["name"] for entry in looker.value("query-commands")}
        assert listed == expected
        assert {"query-status", "query-balloon", "qom-get"} <= listed
        schema = looker.value("query-qmp-schema")
        commands = {e["name"] for e in schema if e["meta-type"] == "command"}
        assert commands == expected
        names = {e["name"] for e in schema}
        # every type a listed command or event refers to is there; nothing dangles
        for entry in schema:
            for key in ("arg-type", "ret-type", "element-type"):
                if key in entry:
                    assert entry[key] in names, entry
        full_schema = full.value("query-qmp-schema")
        assert len(schema) < len(full_schema)
        assert {e["name"] for e in full_schema if e["meta-type"] == "command"} > commands

        # The full monitor beside it is unaffected.
        assert len(full.value("query-commands")) > len(listed)
        full.value("stop")
        assert looker.value("query-status")["status"] == "paused"
        deadline = time.monotonic() + 10
        while process_state(guest) != "T" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process_state(guest) == "T"
        full.value("cont")
        assert looker.value("query-status")["status"] == "running"


def test_allow_and_deny_patterns() -> None:
    with MachineProcess(
        monitors=2, monitor_options=[",allow=query-*:qom-*", ",deny=quit:system_*:x-*"]
    ) as machine:
        allowed, denied = machine.monitors
        names = {entry["name"] for entry in allowed.value("query-commands")}
        assert "qom-set" in names and "stop" not in names and "qmp_capabilities" in names
        assert all(n.startswith(("query-", "qom-")) or n == "qmp_capabilities" for n in names)
        assert allowed.execute("stop")["error"]["class"] == "CommandNotFound"
        allowed.value(
            "qom-set", {"path": BALLOON, "property": "guest-stats-polling-interval", "value": 3}
        )

        names = {entry["name"] for entry in denied.value("query-commands")}
        assert not names & {"quit", "system_reset", "system_powerdown", "x-guest-fault"}
        assert {"stop", "cont", "balloon"} <= names
        assert denied.execute("quit")["error"]["class"] == "CommandNotFound"
        assert denied.value("human-monitor-command", {"command-line": "quit"}) == (
            "unknown command: 'quit'\r\n"
        )
        denied.value("stop")
        denied.value("cont")
        assert denied.value("query-status")["running"] is True
