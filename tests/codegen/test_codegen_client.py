"""The generated client bindings: typed for mypy (a user's misuse is a type error), tolerant
of a newer server at run time, marked where the schema says deprecated or unstable."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from pyqmp.codegen.runtime import UnstableWarning, decode, unknown_members
from pyqmp.protocol import Event

USER_CODE = """
from pyqmp.client import QMPClient
import qemu_api


async def main(qmp: QMPClient) -> None:
    api = qemu_api.Client(qmp)
    status = await api.query_status(timeout=1)
    running: bool = status.running
    await api.balloon(value=1 << 30)
    info = await api.query_balloon()
    print(info.actual + 1, running)
    await api.qom_set(path="/machine/peripheral/balloon0",
                      property="guest-stats-polling-interval", value=2)
    event = await api.wait_event(qemu_api.BalloonChangeEvent, timeout=5)
    print(event.actual)
"""

MISUSE = """
from pyqmp.client import QMPClient
import qemu_api


async def main(qmp: QMPClient) -> None:
    api = qemu_api.Client(qmp)
    await api.balloon(valu=1)
    await api.balloon(value="1G")
    status = await api.query_status()
    status.runing
    await api.query_everything()
    await api.balloon()
    await api.nbd_server_remove(name="export")
"""


def mypy(
    directory: Path, *files: str, options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(directory / ".mypy_cache"),
            *options,
            *files,
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_qemus_whole_schema_passes_mypy_strict_and_so_does_its_use(qemu_bindings_dir: Path) -> None:
    (qemu_bindings_dir / "user_code.py").write_text(USER_CODE)
    done = mypy(qemu_bindings_dir, "qemu_api", "user_code.py")
    assert done.returncode == 0, done.stdout[-3000:]


def test_misuse_is_a_type_error(qemu_bindings_dir: Path) -> None:
    (qemu_bindings_dir / "misuse.py").write_text(MISUSE)
    done = mypy(qemu_bindings_dir, "misuse.py", options=("--enable-error-code", "deprecated"))
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    expected = [
        ('Unexpected keyword argument "valu" for "balloon"', "call-arg"),
        ('Argument "value" to "balloon" of "Client" has incompatible type "str"', "arg-type"),
        ('"StatusInfo" has no attribute "runing"', "attr-defined"),
        ('"Client" has no attribute "query_everything"', "attr-defined"),
        ('Missing named argument "value" for "balloon"', "call-arg"),
        ("nbd_server_remove is deprecated", "deprecated"),
    ]
    assert len(errors) == len(expected), done.stdout
    for line, (text, code) in zip(errors, expected, strict=True):
        assert text in line and f"[{code}]" in line, line


def test_unknown_members_and_enum_values_are_kept(qemu_bindings: Any) -> None:
    api = qemu_bindings
    status = decode(
        {"running": True, "singlestep": False, "status": "hibernating", "new-member": [1]},
        api.StatusInfo,
    )
    assert isinstance(status, api.StatusInfo)
    assert status.status == "hibernating" and status.running is True
    assert unknown_members(status) == {"new-member": [1]}
    # strict decoding when the server matches: no unknown members
    known = decode({"running": True, "singlestep": False, "status": "running"}, api.StatusInfo)
    assert unknown_members(known) == {}
    # nested, in lists, and in unions
    infos = decode(
        [
            {
                "name": "query-status",
                "meta-type": "command",
                "arg-type": "0",
                "ret-type": "1",
                "future": True,
            },
            {"name": "x", "meta-type": "wormhole"},
        ],
        list[api.SchemaInfo],
    )
    assert isinstance(infos[0], api.SchemaInfo_command)
    assert unknown_members(infos[0]) == {"future": True}
    assert infos[1] == {"name": "x", "meta-type": "wormhole"}  # a branch nobody knew: as sent


def test_events_are_typed_and_unknown_ones_stay_untyped(qemu_bindings: Any) -> None:
    api = qemu_bindings.Client(object())
    change = api.decode_event(Event("BALLOON_CHANGE", {"actual": 5}, None))
    assert isinstance(change, qemu_bindings.BalloonChangeEvent) and change.actual == 5
    assert qemu_bindings.BalloonChangeEvent.NAME == "BALLOON_CHANGE"
    assert api.decode_event(Event("FROM_THE_FUTURE", {"x": 1}, None)) is None


class Recorder:
    """Stands in for a QMPClient: records calls, answers {}."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []

    async def execute(self, name: str, arguments: Any = None, **options: Any) -> Any:
        self.calls.append((name, arguments, options))
        return {}


def test_arguments_go_out_with_their_wire_names_and_unset_ones_omitted(qemu_bindings: Any) -> None:
    qmp = Recorder()
    api = qemu_bindings.Client(qmp)

    async def main() -> None:
        await api.human_monitor_command(command_line="info status")
        await api.human_monitor_command(command_line="info cpus", cpu_index=1, timeout=2)
        await api.query_status()

    asyncio.run(main())
    assert qmp.calls == [
        ("human-monitor-command", {"command-line": "info status"}, {}),
        ("human-monitor-command", {"command-line": "info cpus", "cpu-index": 1}, {"timeout": 2}),
        ("query-status", None, {}),
    ]


def test_deprecated_and_unstable_commands_warn_at_run_time(qemu_bindings: Any) -> None:
    api = qemu_bindings.Client(Recorder())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(api.nbd_server_remove(name="x"))
        asyncio.run(api.x_exit_preconfig())
    kinds = [(type(w.message), str(w.message)) for w in caught]
    assert (DeprecationWarning, "nbd-server-remove is deprecated") in kinds
    assert any(kind is UnstableWarning and "x-exit-preconfig" in text for kind, text in kinds)


def test_generated_docstrings_come_from_the_schema(qemu_bindings: Any) -> None:
    doc = qemu_bindings.Client.query_balloon.__doc__
    assert doc is not None and "balloon" in doc.lower()
