"""`--compat` side by side with QEMU 7.2's `-compat`: the same policy text given to both.

Each case pairs a QEMU 7.2 interface with the machine's interface of the same kind (a
deprecated command, an unstable command, a deprecated parameter, an enum value), sent by the
real `qemu.qmp` client to both processes: both answer with the same error class and the same
text but for the name.  Under `crash` both die of SIGABRT.  Repeated policies: the last one
wins in both.  Introspection: `pyqmp schema introspect --compat deprecated-output=hide` of
QEMU's own schema equals QEMU's answer under that policy, entry for entry; and the machine's
query-qmp-schema hides the enum `values` member exactly where QEMU's does.  Reply hiding:
pyqmp's filter, given QEMU's schema and QEMU's default answers to every argument-less query,
gives QEMU's answers under the policy.  Malformed policies get QEMU's messages; `exec-oob` of a
refused command gets the policy's answer in both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from qemu.qmp import ExecuteError, QMPClient
from qmp_raw import RawQMPError, running_qemu
from qmp_targets import MachineOptions, TargetProcess, make_target
from schema_graph import compare_schema_infos
from test_introspection_vs_qemu import DEBIAN_QEMU_DEFINES, format_differences

from pyqmp.machine.app import schema_path
from pyqmp.schema import load_schema
from pyqmp.schema.introspect import DEPRECATED_SCHEMA_INFO_MEMBERS
from pyqmp.schema.model import ObjectType
from pyqmp.server.compat import CompatPolicy, CompatRules
from pyqmp.server.errors import CommandError

TIMEOUT_SECONDS = 20.0
INTROSPECT_TIMEOUT_SECONDS = 300


class Request(NamedTuple):
    policy: str
    command: str
    arguments: dict[str, Any] | None
    desc: str  # the refusal expected, QEMU's text


class Case(NamedTuple):
    error_class: str
    qemu: Request
    pyqmp: Request


CASES = {
    "deprecated command": Case(
        "CommandNotFound",
        Request(
            "deprecated-input=reject",
            "drive-backup",
            {"device": "d", "target": "t", "sync": "full"},
            "Deprecated command drive-backup disabled by policy",
        ),
        Request(
            "deprecated-input=reject",
            "balloon-stats-request",
            None,
            "Deprecated command balloon-stats-request disabled by policy",
        ),
    ),
    "unstable command": Case(
        "CommandNotFound",
        Request(
            "unstable-input=reject",
            "x-query-irq",
            None,
            "Unstable command x-query-irq disabled by policy",
        ),
        Request(
            "unstable-input=reject",
            "x-guest-fault",
            {"mode": "none"},
            "Unstable command x-guest-fault disabled by policy",
        ),
    ),
    "deprecated parameter": Case(
        "GenericError",
        Request(
            "deprecated-input=reject",
            "eject",
            {"device": "cd0"},
            "Deprecated parameter device disabled by policy",
        ),
        Request(
            "deprecated-input=reject",
            "query-balloon",
            {"refresh": True},
            "Deprecated parameter refresh disabled by policy",
        ),
    ),
    # QEMU 7.2 has unstable enum values but no deprecated ones, the machine the other way
    # round (GuestFaultMode's old name 'stall', in the unstable x-guest-fault: so only
    # deprecated input is refused, else the command goes first, as QEMU checks it first).
    "enum value": Case(
        "GenericError",
        Request(
            "unstable-input=reject",
            "migrate-set-capabilities",
            {"capabilities": [{"capability": "x-colo", "state": True}]},
            "Unstable value x-colo disabled by policy",
        ),
        Request(
            "deprecated-input=reject",
            "x-guest-fault",
            {"mode": "stall"},
            "Deprecated value stall disabled by policy",
        ),
    ),
}


@contextlib.contextmanager
def started(name: str, qemu_binary: Path, compat: tuple[str, ...]) -> Iterator[TargetProcess]:
    target = make_target(name, str(qemu_binary))
    with (
        tempfile.TemporaryDirectory(prefix="pyqmp-compat-") as directory,
        target.start([os.path.join(directory, "qmp.sock")], MachineOptions(compat=compat)) as p,
    ):
        yield p


async def outcome(path: str, request: Request) -> tuple[str, str] | None:
    """The (class, desc) a request gets through qemu.qmp, or None if it succeeded."""
    client = QMPClient("pyqmp-compat")
    await asyncio.wait_for(client.connect(path), TIMEOUT_SECONDS)
    try:
        await asyncio.wait_for(client.execute(request.command, request.arguments), TIMEOUT_SECONDS)
    except ExecuteError as error:
        return error.error_class, error.error.error.desc
    finally:
        await client.disconnect()
    return None


def run_on(name: str, qemu_binary: Path, request: Request) -> tuple[str, str] | None:
    with started(name, qemu_binary, (request.policy,)) as process:
        return asyncio.run(outcome(process.sockets[0], request))


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_refusal_is_qemus(case: str, qemu_binary: Path) -> None:
    error_class, qemu, pyqmp = CASES[case]
    assert run_on("qemu", qemu_binary, qemu) == (error_class, qemu.desc)
    assert run_on("pyqmp", qemu_binary, pyqmp) == (error_class, pyqmp.desc)
    # without the policy neither refuses (whatever else the command then says)
    for name, request in (("qemu", qemu), ("pyqmp", pyqmp)):
        result = run_on(name, qemu_binary, request._replace(policy="deprecated-input=accept"))
        assert result is None or "disabled by policy" not in result[1], (name, result)


def test_a_later_policy_replaces_an_earlier_one_in_both(qemu_binary: Path) -> None:
    case = CASES["deprecated command"]
    both = ("deprecated-input=reject", "unstable-input=reject")
    for name, request in (("qemu", case.qemu), ("pyqmp", case.pyqmp)):
        with started(name, qemu_binary, both) as process:
            result = asyncio.run(outcome(process.sockets[0], request))
        # QEMU's drive-backup then fails for want of a device: not the policy's refusal
        assert result is None or "disabled by policy" not in result[1], (name, result)


@pytest.fixture
def no_core_files() -> Iterator[None]:
    # abort() is the point of 'crash'; a core file in the working directory is not
    saved = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, saved[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, saved)


@pytest.mark.usefixtures("no_core_files")
def test_crash_aborts_both(qemu_binary: Path) -> None:
    case = CASES["deprecated command"]
    for name, request in (("qemu", case.qemu), ("pyqmp", case.pyqmp)):
        with started(name, qemu_binary, ("deprecated-input=crash",)) as process:
            client_died = asyncio.run(crashing(process.sockets[0], request))
            assert client_died
            assert process.wait_exit() == -signal.SIGABRT, name
            if name == "pyqmp":
                assert "deprecated command balloon-stats-request used" in process.stderr_text()


async def crashing(path: str, request: Request) -> bool:
    client = QMPClient("pyqmp-compat")
    await asyncio.wait_for(client.connect(path), TIMEOUT_SECONDS)
    try:
        await asyncio.wait_for(client.execute(request.command, request.arguments), TIMEOUT_SECONDS)
    except Exception:  # the connection is lost: qemu.qmp's own error for it
        return True
    finally:
        with contextlib.suppress(Exception):
            await client.disconnect()
    return False


# -- introspection ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qemu_hidden_introspection(qemu_binary: Path) -> list[dict[str, Any]]:
    with running_qemu(str(qemu_binary), ["-compat", "deprecated-output=hide"]) as connection:
        schema = connection.execute("query-qmp-schema")
    assert isinstance(schema, list)
    return schema


def pyqmp_introspect(schema_file: Path, *options: str) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "pyqmp", "schema", "introspect", str(schema_file), *options]
    for name in DEBIAN_QEMU_DEFINES:
        command += ["--define", name]
    result = subprocess.run(
        command, capture_output=True, timeout=INTROSPECT_TIMEOUT_SECONDS, check=False
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    entries = json.loads(result.stdout)
    assert isinstance(entries, list)
    return entries


def test_introspection_under_hide_equals_qemus(
    qemu_source: Path, qemu_hidden_introspection: list[dict[str, Any]]
) -> None:
    schema_file = qemu_source / "qapi" / "qapi-schema.json"
    ours = pyqmp_introspect(schema_file, "--compat", "deprecated-output=hide")
    differences = compare_schema_infos(qemu_hidden_introspection, ours, "qemu", "pyqmp")
    assert not differences, format_differences(differences)
    assert len(ours) == len(qemu_hidden_introspection)
    for index, (mine, theirs) in enumerate(zip(ours, qemu_hidden_introspection, strict=True)):
        assert mine == theirs, f"entry {index} differs"
    # and the policy did something: the default answer has more, and 'values'
    default = pyqmp_introspect(schema_file)
    assert len(default) > len(ours)
    assert any("values" in entry for entry in default)
    assert not any("values" in entry for entry in ours)
    # unstable-output=hide is not QEMU's business for introspection: nothing hidden
    assert pyqmp_introspect(schema_file, "--compat", "unstable-output=hide") == default


def test_machine_hides_what_qemu_hides(qemu_binary: Path) -> None:
    """Under deprecated-output=hide: enums lose 'values', nothing deprecated is left in
    query-qmp-schema, and query-commands still lists the deprecated commands (QEMU's
    query-commands does not go by the policy)."""
    answers = {}
    for name, deprecated in (("qemu", "drive-backup"), ("pyqmp", "balloon-stats-request")):
        with started(name, qemu_binary, ("deprecated-output=hide",)) as process:
            schema, commands = asyncio.run(query_schema(process.sockets[0]))
        answers[name] = schema
        assert deprecated in commands, name
        assert deprecated not in {entry["name"] for entry in schema}, name
    for schema in answers.values():
        enums = [entry for entry in schema if entry["meta-type"] == "enum"]
        assert enums and all("values" not in e and "members" in e for e in enums)
        assert not any("deprecated" in entry.get("features", ()) for entry in schema)


async def query_schema(path: str) -> tuple[list[dict[str, Any]], set[str]]:
    """query-qmp-schema's answer, and the names query-commands gives."""
    client = QMPClient("pyqmp-compat")
    await asyncio.wait_for(client.connect(path), TIMEOUT_SECONDS)
    try:
        schema = await asyncio.wait_for(client.execute("query-qmp-schema"), TIMEOUT_SECONDS)
        commands = await asyncio.wait_for(client.execute("query-commands"), TIMEOUT_SECONDS)
    finally:
        await client.disconnect()
    assert isinstance(schema, list) and isinstance(commands, list)
    return schema, {command["name"] for command in commands}


@pytest.mark.parametrize("which", ["qemu", "machine"])
def test_hidden_schema_info_members_are_what_the_schemas_deprecate(
    which: str, qemu_source: Path
) -> None:
    """hide_deprecated's list of SchemaInfo's own deprecated members is QEMU's
    qapi/introspect.json's (and the machine's copy of it), nothing more or less."""
    path = str(qemu_source / "qapi" / "qapi-schema.json") if which == "qemu" else schema_path()
    schema = load_schema(path)
    deprecated = {}
    for name, typ in schema.types.items():
        if name.startswith("SchemaInfo") and isinstance(typ, ObjectType):
            hidden = tuple(
                m.name for m in typ.local_members if any(f.name == "deprecated" for f in m.features)
            )
            if hidden:
                deprecated[name] = hidden
    assert deprecated == {"SchemaInfoEnum": DEPRECATED_SCHEMA_INFO_MEMBERS["enum"]}


BAD_POLICIES = [
    "reject",
    "future-input=reject",
    "deprecated-input=bogus",
    "deprecated-output=reject",
    "deprecated-input=reject,,unstable-input=reject",
    "=reject",
    "dep$=x",
    "a.b.c=x",
    "deprecated-input.x=reject",
    "help",
    "future=y,unstable-output=crash",
    "a" * 130 + "=1",
]


def test_a_policy_qemu_refuses_is_refused_with_qemus_message(qemu_binary: Path) -> None:
    for text in BAD_POLICIES:
        qemu = subprocess.run(
            [str(qemu_binary), "-M", "none", "-display", "none", "-S", "-compat", text],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        ours = subprocess.run(
            [sys.executable, "-m", "pyqmp", "machine", "--balloon", "none", "--compat", text],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        assert qemu.returncode == ours.returncode == 1, text
        theirs = qemu.stderr.decode().strip().removeprefix(f"{qemu_binary.name}: ")
        mine = ours.stderr.decode().strip().removeprefix("pyqmp machine: ")
        assert mine == theirs.replace("-compat", "--compat", 1), text


def oob_replies(process: TargetProcess, commands: list[str]) -> list[dict[str, Any]]:
    """The replies to `exec-oob` of each command, after negotiating the oob capability."""
    sock = process.connect()
    try:
        stream = sock.makefile("rwb")
        json.loads(stream.readline())  # the greeting
        stream.write(b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}\n')
        stream.flush()
        assert json.loads(stream.readline()) == {"return": {}}
        replies = []
        for index, command in enumerate(commands):
            stream.write(json.dumps({"exec-oob": command, "id": index}).encode() + b"\n")
            stream.flush()
            replies.append(json.loads(stream.readline()))
        return replies
    finally:
        sock.close()


def test_out_of_band_the_policy_answers_first_as_in_qemu(qemu_binary: Path) -> None:
    # QEMU applies the policy before it asks whether a command may run out of band
    policy = ("deprecated-input=reject,unstable-input=reject",)
    names = {
        "qemu": ["drive-backup", "x-query-irq", "query-status"],
        "pyqmp": ["balloon-stats-request", "x-guest-fault", "query-status"],
    }
    answers = {}
    for name, commands in names.items():
        with started(name, qemu_binary, policy) as process:
            replies = oob_replies(process, commands)
        for reply, command in zip(replies, commands, strict=True):
            reply["error"]["desc"] = reply["error"]["desc"].replace(command, "NAME")
        answers[name] = replies
    assert answers["qemu"] == answers["pyqmp"]
    assert [reply["error"]["desc"] for reply in answers["qemu"]] == [
        "Deprecated command NAME disabled by policy",
        "Unstable command NAME disabled by policy",
        "The command NAME does not support OOB",
    ]


# Differ between two QEMU processes whatever the policy: the monitor's socket path.
PER_PROCESS_ANSWERS = {"query-chardev"}


def test_reply_hiding_on_qemus_own_answers(qemu_binary: Path, qemu_source: Path) -> None:
    """pyqmp's reply filter, given QEMU's schema and QEMU's answer to every query that takes
    no argument, gives what QEMU answers under the policy: unstable members hidden
    (query-migrate-parameters' x-checkpoint-delay), unstable enum values still sent
    (query-migrate-capabilities' x-colo), everything else untouched."""
    schema = load_schema(str(qemu_source / "qapi" / "qapi-schema.json"))
    queries = [
        name
        for name, command in schema.commands.items()
        if name.startswith(("query-", "x-query-"))
        and name not in PER_PROCESS_ANSWERS | {"query-qmp-schema"}  # (its own tests above)
        and (
            command.arg_type is None
            or all(member.optional for member in schema.types[command.arg_type].members)
        )
    ]
    policy = "deprecated-output=hide,unstable-output=hide"

    def answers(extra: list[str]) -> dict[str, Any]:
        found = {}
        with running_qemu(str(qemu_binary), extra) as connection:
            for name in queries:
                with contextlib.suppress(RawQMPError):  # not on this machine type
                    found[name] = connection.execute(name)
        return found

    default, hidden = answers([]), answers(["-compat", policy])
    assert default.keys() == hidden.keys() and len(default) > 40
    rules = CompatRules(schema, CompatPolicy.parse(policy))
    for name, answer in default.items():
        assert rules.filter_reply(name, answer) == hidden[name], name
    changed = {name for name in default if default[name] != hidden[name]}
    assert changed == {"query-migrate-parameters"}
    assert "x-checkpoint-delay" in default["query-migrate-parameters"]
    capabilities = {entry["capability"] for entry in hidden["query-migrate-capabilities"]}
    assert "x-colo" in capabilities


def test_every_special_command_of_qemu_is_refused_as_qemu_refuses_it(
    qemu_binary: Path, qemu_source: Path
) -> None:
    """pyqmp's rules on QEMU's schema refuse exactly the commands QEMU's binary refuses, with
    the same class and text, for every deprecated or unstable command it has."""
    schema = load_schema(str(qemu_source / "qapi" / "qapi-schema.json"))
    policy = "deprecated-input=reject,unstable-input=reject"
    rules = CompatRules(schema, CompatPolicy.parse(policy))
    with running_qemu(str(qemu_binary), ["-compat", policy]) as connection:
        present = {entry["name"] for entry in connection.execute("query-commands")}
        special = sorted(
            name
            for name in present & schema.commands.keys()
            if any(feature.is_special for feature in schema.commands[name].features)
        )
        assert len(special) > 10
        for name in special:
            with pytest.raises(RawQMPError) as theirs:
                connection.execute(name, {})
            with pytest.raises(CommandError) as ours:
                rules.check_input(name, {})
            expected = {"class": ours.value.error_class.value, "desc": ours.value.desc}
            assert str(theirs.value) == f"{name}: {expected}", name
    assert rules.refused_commands & present == set(special)
