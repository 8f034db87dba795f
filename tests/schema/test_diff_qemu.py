"""``schema diff`` on QEMU's whole schema: mutated copies, one change each, with known verdicts.

Each mutation copies QEMU's ``qapi/`` tree from the fetched source, edits it as a person
evolving the schema would (doc comments kept valid, so the copy still compiles), and states
what the diff must say in both directions: every change (by the end of its path), its kind and
its verdict, nothing more. The verdicts are QEMU's rules (``docs/devel/qapi-code-gen.rst``,
"Compatibility considerations"), as README.md explains them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from pyqmp.schema import Schema, load_schema
from pyqmp.schema.diff import Change, diff_schemas
from pyqmp.schema.diff.report import describe

QAPI = Path("/var/cache/pyqmp/qemu-src/qapi")
pytestmark = pytest.mark.skipif(not QAPI.is_dir(), reason="QEMU's source is not fetched")

Expected = frozenset[tuple[str, str, str]]  # (end of the path, kind, verdict)
Transform = Callable[[str, str], str]  # (file name, text) -> text


class Mutation(NamedTuple):
    name: str
    edits: tuple[tuple[str, str, str], ...]  # (file, old text: found exactly once, new text)
    forward: Expected  # OLD = QEMU's schema, NEW = the mutated copy
    backward: Expected | None = None  # NEW = QEMU's schema, OLD = the mutated copy
    transform: Transform | None = None  # applied to every file, before the edits


def change(path_end: str, kind: str, verdict: str) -> tuple[str, str, str]:
    return (path_end, kind, verdict)


def expect(*changes: tuple[str, str, str]) -> Expected:
    return frozenset(changes)


NOTHING: Expected = frozenset()

BALLOON = "{ 'command': 'balloon', 'data': {'value': 'int'} }"
BALLOON_INFO = "{ 'struct': 'BalloonInfo', 'data': {'actual': 'int' } }"
STATUS_INFO = "  'data': {'running': 'bool', 'singlestep': 'bool', 'status': 'RunState'} }"
SCREENDUMP = "  'data': {'filename': 'str', '*device': 'str', '*head': 'int',"
CPU_MODEL = "  'data': { 'name': 'str',\n            '*props': 'any' } }"
OBJECT_PROPERTY = "            'type': 'str',\n            '*description': 'str',"


def definition_of(text: str, name: str) -> str:
    """The doc comment and expression of definition ``name`` in ``text``."""
    match = re.search(rf"##\n# @{re.escape(name)}:\n.*?\n##\n\{{.*?\}}\n\n", text, re.DOTALL)
    assert match is not None, name
    return match.group(0)


def remove_definition(name: str) -> Transform:
    def transform(fname: str, text: str) -> str:
        if f"# @{name}:\n" not in text:
            return text
        return text.replace(definition_of(text, name), "")

    return transform


def rename_types(*names: str) -> Transform:
    def transform(_fname: str, text: str) -> str:
        for name in names:
            text = re.sub(rf"\b{name}\b", f"Renamed{name}", text)
        return text

    return transform


def rename_every_type(schema: Schema) -> Transform:
    """Every named type gets a new name, wherever it is written (docs and pragmas too)."""
    names = sorted(
        (t.name for t in schema.types.values() if t.meta not in ("built-in", "array")),
        key=len,
        reverse=True,
    )
    pattern = re.compile(r"\b(" + "|".join(n for n in names if not n.startswith("q_")) + r")\b")

    def transform(_fname: str, text: str) -> str:
        return pattern.sub(r"\1Renamed", text)

    return transform


def reword_docs(_fname: str, text: str) -> str:
    # prose lines only: symbol lines, sections and examples keep their form
    return re.sub(r"(?m)^(# [a-z][^\n]*)$", r"\1 (reworded)", text)


def reformat(_fname: str, text: str) -> str:
    # more blank lines, indentation and spacing inside definitions; line numbers all move
    text = re.sub(r"(?m)^\{ '", "\n\n{   '", text)
    return re.sub(r"(?m)^(  +'.*)$", r"\1   ", text)


def reorder_definitions(fname: str, text: str) -> str:
    if fname != "run-state.json":
        return text
    first, second = definition_of(text, "RunState"), definition_of(text, "ShutdownCause")
    return text.replace(first, "@@FIRST@@").replace(second, first).replace("@@FIRST@@", second)


MUTATIONS = [
    # -- arguments: what senders give ---------------------------------------------------
    Mutation(
        "argument added, mandatory",
        (("machine.json", BALLOON, BALLOON.replace("'int'}", "'int', 'force': 'bool'}")),),
        expect(change("command 'balloon' → argument 'force'", "added, mandatory", "senders")),
        expect(change("command 'balloon' → argument 'force'", "removed", "senders")),
    ),
    Mutation(
        "argument added, optional",
        (("machine.json", BALLOON, BALLOON.replace("'int'}", "'int', '*force': 'bool'}")),),
        expect(change("command 'balloon' → argument 'force'", "added, optional", "safe")),
        expect(change("argument 'force'", "optional member removed", "senders")),
    ),
    Mutation(
        "argument made optional",
        (("machine.json", BALLOON, BALLOON.replace("'value'", "'*value'")),),
        expect(change("command 'balloon' → argument 'value'", "made optional", "safe")),
        expect(change("command 'balloon' → argument 'value'", "made mandatory", "senders")),
    ),
    Mutation(
        "argument type changed",
        (("machine.json", BALLOON, BALLOON.replace("'int'", "'str'")),),
        expect(change("command 'balloon' → argument 'value'", "type changed", "senders")),
        expect(change("command 'balloon' → argument 'value'", "type changed", "senders")),
    ),
    Mutation(
        "argument narrowed to int8",
        (("machine.json", BALLOON, BALLOON.replace("'int'", "'int8'")),),
        expect(change("argument 'value'", "type narrowed", "senders")),
        expect(change("argument 'value'", "type widened", "safe")),
    ),
    Mutation(
        "argument narrowed from str to an enum",
        (
            (
                "ui.json",
                SCREENDUMP,
                SCREENDUMP.replace("'*device': 'str'", "'*device': 'ImageFormat'"),
            ),
        ),
        expect(change("command 'screendump' → argument 'device'", "type narrowed", "senders")),
        expect(change("command 'screendump' → argument 'device'", "type widened", "safe")),
    ),
    Mutation(
        "argument widened to an alternate that accepts the old JSON",
        (
            (
                "ui.json",
                SCREENDUMP,
                SCREENDUMP.replace("'filename': 'str'", "'filename': 'StrOrNull'"),
            ),
        ),
        expect(change("command 'screendump' → argument 'filename'", "type widened", "safe")),
        expect(change("command 'screendump' → argument 'filename'", "type narrowed", "senders")),
    ),
    Mutation(
        "argument changed to an alternate without the old JSON type",
        (("ui.json", SCREENDUMP, SCREENDUMP.replace("'*head': 'int'", "'*head': 'StrOrNull'")),),
        expect(change("command 'screendump' → argument 'head'", "type changed", "senders")),
        expect(change("command 'screendump' → argument 'head'", "type changed", "senders")),
    ),
    Mutation(
        "mandatory member added deep in a union branch of blockdev-add",
        (
            (
                "block-core.json",
                "{ 'struct': 'BlockdevOptionsFile',\n  'data': { 'filename': 'str',",
                "{ 'struct': 'BlockdevOptionsFile',\n  'data': { 'filename': 'str', 'x': 'int',",
            ),
        ),
        expect(
            change(
                "command 'blockdev-add' → branch 'file' → argument 'x'",
                "added, mandatory",
                "senders",
            )
        ),
        expect(
            change("command 'blockdev-add' → branch 'file' → argument 'x'", "removed", "senders")
        ),
    ),
    # -- replies and events: what receivers read ----------------------------------------
    Mutation(
        "reply member made optional",
        (("machine.json", BALLOON_INFO, BALLOON_INFO.replace("'actual'", "'*actual'")),),
        expect(change("'query-balloon' → returns → member 'actual'", "made optional", "receivers")),
        expect(change("'query-balloon' → returns → member 'actual'", "made mandatory", "safe")),
    ),
    Mutation(
        "reply member added",
        (
            (
                "machine.json",
                BALLOON_INFO,
                BALLOON_INFO.replace("'int' }", "'int', 'target': 'int' }"),
            ),
        ),
        expect(change("'query-balloon' → returns → member 'target'", "added, mandatory", "safe")),
        expect(change("'query-balloon' → returns → member 'target'", "removed", "receivers")),
    ),
    Mutation(
        "reply member removed",
        (
            ("run-state.json", STATUS_INFO, STATUS_INFO.replace("'singlestep': 'bool', ", "")),
            ("run-state.json", "# @singlestep: true if VCPUs are in single-step mode\n#\n", ""),
        ),
        expect(change("'query-status' → returns → member 'singlestep'", "removed", "receivers")),
        expect(
            change("'query-status' → returns → member 'singlestep'", "added, mandatory", "safe")
        ),
    ),
    Mutation(
        "reply member type changed",
        (("machine.json", BALLOON_INFO, BALLOON_INFO.replace("'int'", "'str'")),),
        expect(change("'query-balloon' → returns → member 'actual'", "type changed", "receivers")),
        expect(change("'query-balloon' → returns → member 'actual'", "type changed", "receivers")),
    ),
    Mutation(
        "reply member widened to number",
        (("machine.json", BALLOON_INFO, BALLOON_INFO.replace("'int'", "'number'")),),
        expect(change("returns → member 'actual'", "type widened", "receivers")),
        expect(change("returns → member 'actual'", "type narrowed", "safe")),
    ),
    Mutation(
        "reply member widened to an alternate",
        (
            (
                "qom.json",
                OBJECT_PROPERTY,
                OBJECT_PROPERTY.replace("'type': 'str'", "'type': 'StrOrNull'"),
            ),
        ),
        expect(change("returns[] → member 'type'", "type widened", "receivers")),
        expect(change("returns[] → member 'type'", "type narrowed", "safe")),
    ),
    Mutation(
        "optional reply member made mandatory",
        (
            (
                "qom.json",
                OBJECT_PROPERTY,
                OBJECT_PROPERTY.replace("'*description'", "'description'"),
            ),
        ),
        expect(change("returns[] → member 'description'", "made mandatory", "safe")),
        expect(change("returns[] → member 'description'", "made optional", "receivers")),
    ),
    Mutation(
        "reply changed from an object to a list",
        (("run-state.json", "'returns': 'StatusInfo'", "'returns': ['StatusInfo']"),),
        expect(change("command 'query-status' → returns", "type changed", "receivers")),
        expect(change("command 'query-status' → returns", "type changed", "receivers")),
    ),
    Mutation(
        "event member made optional",
        (("machine.json", "  'data': { 'actual': 'int' } }", "  'data': { '*actual': 'int' } }"),),
        expect(change("event 'BALLOON_CHANGE' → member 'actual'", "made optional", "receivers")),
        expect(change("event 'BALLOON_CHANGE' → member 'actual'", "made mandatory", "safe")),
    ),
    Mutation(
        "alternative added to a reply's alternate",
        (("stats.json", "'boolean': 'bool',", "'boolean': 'bool', 'text': 'String',"),),
        expect(change("alternative object", "alternative added", "receivers")),
        expect(change("alternative object", "alternative removed", "safe")),
    ),
    # -- definitions ---------------------------------------------------------------------
    Mutation(
        "command removed",
        (),
        expect(change("command 'balloon'", "command removed", "senders")),
        expect(change("command 'balloon'", "command added", "safe")),
        remove_definition("balloon"),
    ),
    Mutation(
        "event removed",
        (),
        expect(change("event 'BALLOON_CHANGE'", "event removed", "receivers")),
        expect(change("event 'BALLOON_CHANGE'", "event added", "safe")),
        remove_definition("BALLOON_CHANGE"),
    ),
    Mutation(
        "include removed: its event goes",
        (("qapi-schema.json", "{ 'include': 'rdma.json' }\n", ""),),
        expect(change("event 'RDMA_GID_STATUS_CHANGED'", "event removed", "receivers")),
        expect(change("event 'RDMA_GID_STATUS_CHANGED'", "event added", "safe")),
    ),
    Mutation(
        "out-of-band execution removed",
        (
            (
                "migration.json",
                "{ 'command': 'migrate-pause', 'allow-oob': true }",
                "{ 'command': 'migrate-pause' }",
            ),
        ),
        expect(change("command 'migrate-pause'", "out-of-band execution removed", "senders")),
        expect(change("command 'migrate-pause'", "out-of-band execution added", "safe")),
    ),
    # -- enums, unions and alternates ----------------------------------------------------
    Mutation(
        "enum value removed from an argument",
        (
            ("ui.json", "  'data': ['ppm', 'png'] }", "  'data': ['ppm'] }"),
            ("ui.json", "# @png: PNG format\n#\n", ""),
        ),
        expect(
            change(
                "'screendump' → argument 'format' → value 'png'",
                "enum value removed",
                "senders",
            )
        ),
        expect(
            change("'screendump' → argument 'format' → value 'png'", "enum value added", "safe")
        ),
    ),
    Mutation(
        "enum value removed from a reply (it can no longer be sent)",
        (
            (
                "run-state.json",
                "            'guest-panicked', 'colo' ] }",
                "            'guest-panicked' ] }",
            ),
            (
                "run-state.json",
                "# @colo: guest is paused to save/restore VM state under colo checkpoint,\n"
                "#        VM can not get into this state unless colo capability is enabled\n"
                "#        for migration. (since 2.8)\n",
                "",
            ),
        ),
        expect(change("value 'colo'", "enum value removed", "safe")),
        expect(change("value 'colo'", "enum value added", "receivers")),
    ),
    Mutation(
        "enum value removed from an enum sent and received",
        (
            ("run-state.json", "'none',\n            'inject-nmi' ] }", "'none' ] }"),
            (
                "run-state.json",
                "# @inject-nmi: a non-maskable interrupt is injected into the first VCPU (all\n"
                "#              VCPUS on x86) (since 2.4)\n",
                "",
            ),
        ),
        expect(change("value 'inject-nmi'", "enum value removed", "senders")),
        expect(change("value 'inject-nmi'", "enum value added", "receivers")),
    ),
    Mutation(
        "union branch removed (and its tag value)",
        (
            (
                "sockets.json",
                "  'data': [ 'inet', 'unix', 'vsock', 'fd' ] }",
                "  'data': [ 'inet', 'unix', 'vsock' ] }",
            ),
            (
                "sockets.json",
                "            'vsock': 'VsockSocketAddress',\n            'fd': 'String' } }",
                "            'vsock': 'VsockSocketAddress' } }",
            ),
            (
                "sockets.json",
                "    'vsock': 'VsockSocketAddressWrapper',\n    'fd': 'StringWrapper' } }",
                "    'vsock': 'VsockSocketAddressWrapper' } }",
            ),
            (
                "sockets.json",
                "# @fd: decimal is for file descriptor number, otherwise a file descriptor name.\n"
                "#      Named file descriptors are permitted in monitor commands, in combination\n"
                "#      with the 'getfd' command. Decimal file descriptors are permitted at\n"
                "#      startup or other contexts where no monitor context is active.\n",
                "",
            ),
        ),
        expect(change("member 'type' → branch 'fd'", "branch removed", "senders")),
        expect(change("member 'type' → branch 'fd'", "branch added", "receivers")),
    ),
    Mutation(
        "union branch emptied in a type sent and received",
        (
            (
                "sockets.json",
                "            'vsock': 'VsockSocketAddress',\n            'fd': 'String' } }",
                "            'vsock': 'VsockSocketAddress' } }",
            ),
        ),
        expect(change("branch 'fd' → member 'str'", "removed", "both")),
        expect(change("branch 'fd' → member 'str'", "added, mandatory", "senders")),
    ),
    Mutation(
        "alternative removed from an argument's alternate",
        (
            (
                "common.json",
                "  'data': { 's': 'str',\n            'n': 'null' } }",
                "  'data': { 's': 'str' } }",
            ),
            ("common.json", "# @n: no string value\n", ""),
        ),
        expect(change("alternative null", "alternative removed", "senders")),
        expect(change("alternative null", "alternative added", "safe")),
    ),
    Mutation(
        "member type changed in a type sent and received",
        (("machine-target.json", CPU_MODEL, CPU_MODEL.replace("'name': 'str'", "'name': 'int'")),),
        expect(change("member 'name'", "type changed", "both")),
        expect(change("member 'name'", "type changed", "both")),
    ),
    Mutation(
        "optional member removed from a type sent and received",
        (
            ("machine-target.json", CPU_MODEL, "  'data': { 'name': 'str' } }"),
            ("machine-target.json", "# @props: a dictionary of QOM properties to be applied\n", ""),
        ),
        expect(change("member 'props'", "optional member removed", "senders")),
        expect(change("member 'props'", "added, optional", "safe")),
    ),
    # -- deprecations, features, conditions ----------------------------------------------
    Mutation(
        "command no longer deprecated",
        (
            (
                "block-core.json",
                "  'data': 'DriveBackup', 'features': ['deprecated'],",
                "  'data': 'DriveBackup',",
            ),
            (
                "block-core.json",
                "# Features:\n# @deprecated: This command is deprecated. "
                "Use @blockdev-backup instead.\n#\n",
                "",
            ),
        ),
        expect(change("command 'drive-backup'", "no longer deprecated", "deprecation")),
        expect(change("command 'drive-backup'", "deprecated", "deprecation")),
    ),
    Mutation(
        "argument member no longer deprecated",
        (
            (
                "block-core.json",
                "'*base': { 'type': 'str', 'features': [ 'deprecated' ] },",
                "'*base': 'str',",
            ),
        ),
        expect(
            change(
                "command 'block-commit' → argument 'base'", "no longer deprecated", "deprecation"
            )
        ),
        expect(change("command 'block-commit' → argument 'base'", "deprecated", "deprecation")),
    ),
    Mutation(
        "command made conditional",
        (("machine.json", BALLOON, BALLOON.replace(" }", ", 'if': 'CONFIG_BALLOON' }")),),
        expect(change("command 'balloon'", "condition changed", "safe")),
        expect(change("command 'balloon'", "condition changed", "safe")),
    ),
    Mutation(
        "argument made conditional",
        (
            (
                "machine.json",
                BALLOON,
                BALLOON.replace("'int'", "{ 'type': 'int', 'if': { 'not': 'CONFIG_X' } }"),
            ),
        ),
        expect(change("command 'balloon' → argument 'value'", "condition changed", "safe")),
        expect(change("command 'balloon' → argument 'value'", "condition changed", "safe")),
    ),
    Mutation(
        "unstable feature added to a command",
        (
            ("machine.json", BALLOON, BALLOON.replace(" }", ", 'features': [ 'unstable' ] }")),
            (
                "machine.json",
                "# Returns: - Nothing on success\n#          - If the balloon",
                "# Features:\n# @unstable: experimental\n#\n"
                "# Returns: - Nothing on success\n#          - If the balloon",
            ),
        ),
        expect(change("command 'balloon'", "features changed", "safe")),
        expect(change("command 'balloon'", "features changed", "safe")),
    ),
    # -- what is no change at all --------------------------------------------------------
    Mutation("the same schema", (), NOTHING, NOTHING),
    Mutation("doc comments reworded", (), NOTHING, NOTHING, reword_docs),
    Mutation("whitespace and line numbers changed", (), NOTHING, NOTHING, reformat),
    Mutation(
        "types renamed",
        (),
        NOTHING,
        NOTHING,
        rename_types("RunState", "BalloonInfo", "StatusInfo", "SocketAddress", "StrOrNull"),
    ),
    Mutation("definitions reordered", (), NOTHING, NOTHING, reorder_definitions),
    Mutation(
        "members and enum values reordered",
        (
            (
                "run-state.json",
                STATUS_INFO,
                "  'data': {'status': 'RunState', 'singlestep': 'bool', 'running': 'bool'} }",
            ),
            ("ui.json", "  'data': ['ppm', 'png'] }", "  'data': ['png', 'ppm'] }"),
        ),
        NOTHING,
        NOTHING,
    ),
    Mutation(
        "members moved into a base",
        (
            (
                "run-state.json",
                STATUS_INFO,
                "  'base': 'StatusInfoBase',\n"
                "  'data': {'singlestep': 'bool', 'status': 'RunState'} }\n\n"
                "##\n# @StatusInfoBase:\n#\n# @running: true if all VCPUs are runnable\n#\n"
                "# Since: 8.0\n##\n{ 'struct': 'StatusInfoBase', 'data': {'running': 'bool'} }",
            ),
            (
                "run-state.json",
                "# @running: true if all VCPUs are runnable, false if not runnable\n#\n",
                "",
            ),
        ),
        NOTHING,
        NOTHING,
    ),
    Mutation(
        "inline arguments moved to a named struct",
        (
            (
                "machine.json",
                BALLOON,
                "{ 'command': 'balloon', 'data': 'BalloonArguments' }\n\n"
                "##\n# @BalloonArguments:\n#\n# @value: the target size\n#\n# Since: 8.0\n##\n"
                "{ 'struct': 'BalloonArguments', 'data': {'value': 'int'} }",
            ),
        ),
        NOTHING,
        NOTHING,
        lambda fname, text: text.replace(
            "# Request the balloon driver to change its balloon size.\n#\n# @value: the target",
            "# Request the balloon driver to change its balloon size.\n#\n# the target",
        ),
    ),
]


@pytest.fixture(scope="module")
def qemu_schema() -> Schema:
    return load_schema(str(QAPI / "qapi-schema.json"))


def mutated_copy(mutation: Mutation, directory: Path) -> Schema:
    target = directory / "qapi"
    shutil.copytree(QAPI, target)
    edited = 0
    for path in target.glob("*.json"):
        original = text = path.read_text(encoding="utf-8")
        if mutation.transform is not None:
            text = mutation.transform(path.name, text)
        for fname, old, new in mutation.edits:
            if fname == path.name:
                assert text.count(old) == 1, (fname, old)
                text = text.replace(old, new)
        if text != original:
            edited += 1
            path.write_text(text, encoding="utf-8")
    # every mutation but the identity really edits the copy
    assert (edited == 0) == (mutation.edits == () and mutation.transform is None)
    return load_schema(str(target / "qapi-schema.json"))


def assert_found(changes: list[Change], expected: Expected) -> None:
    """Each change found matches one expected (path end, kind, verdict), and none is left."""
    found = [(describe(c).rsplit(": ", 1)[0], c.kind, c.verdict) for c in changes]
    unmatched = list(found)
    for path_end, kind, verdict in expected:
        matches = [f for f in unmatched if f[0].endswith(path_end) and f[1:] == (kind, verdict)]
        assert matches, (path_end, kind, verdict, found)
        unmatched.remove(matches[0])
    assert unmatched == []


def test_there_are_enough_mutations() -> None:
    assert len(MUTATIONS) >= 40
    both_ways = [m for m in MUTATIONS if m.backward is not None]
    assert len(both_ways) >= 40
    assert {verdict for m in MUTATIONS for _, _, verdict in m.forward} == {
        "senders", "receivers", "both", "safe", "deprecation"
    }  # fmt: skip


def test_every_type_renamed_is_no_change(qemu_schema: Schema, tmp_path: Path) -> None:
    mutation = Mutation("all renamed", (), NOTHING, transform=rename_every_type(qemu_schema))
    renamed = mutated_copy(mutation, tmp_path)
    assert "RunStateRenamed" in renamed.types and "RunState" not in renamed.types
    assert diff_schemas(qemu_schema, renamed) == []
    assert diff_schemas(renamed, qemu_schema) == []


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_mutated_qemu_schema(mutation: Mutation, qemu_schema: Schema, tmp_path: Path) -> None:
    mutated = mutated_copy(mutation, tmp_path)
    assert_found(diff_schemas(qemu_schema, mutated), mutation.forward)
    if mutation.backward is not None:
        assert_found(diff_schemas(mutated, qemu_schema), mutation.backward)
