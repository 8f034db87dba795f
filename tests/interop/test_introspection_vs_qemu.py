"""pyqmp's introspection of QEMU's own schema must be what real QEMU 7.2 answers.

Real `qemu-system-x86_64` is asked for `query-qmp-schema` over a raw socket; pyqmp's CLI
introspects the QAPI schema from QEMU's source tree with the conditions Debian's build has true.
The two results are compared structurally (see schema_graph.py), since masked type names are
arbitrary.  Missing QEMU or a missing source tree is a failure, not a skip (the `qemu_binary`
and `qemu_source` fixtures of tests/conftest.py fail): these tests are the evidence that the
introspection face matches QEMU.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from qmp_raw import query_qmp_schema
from schema_graph import compare_schema_infos, is_masked_name, rename_types

INTROSPECT_TIMEOUT_SECONDS = 300
SHOWN_DIFFERENCES = 30

# The conditions Debian's qemu-system-x86 7.2 build has true; every other `if` is false.
DEBIAN_QEMU_DEFINES = (
    "CONFIG_CURSES",
    "CONFIG_DBUS_DISPLAY",
    "CONFIG_FDT",
    "CONFIG_FUSE",
    "CONFIG_GBM",
    "CONFIG_GTK",
    "CONFIG_LIBPMEM",
    "CONFIG_LINUX",
    "CONFIG_LINUX_IO_URING",
    "CONFIG_OPENGL",
    "CONFIG_POSIX",
    "CONFIG_REPLICATION",
    "CONFIG_SDL",
    "CONFIG_SECRET_KEYRING",
    "CONFIG_SPICE",
    "CONFIG_SPICE_PROTOCOL",
    "CONFIG_TCG",
    "CONFIG_TPM",
    "CONFIG_VDUSE_BLK_EXPORT",
    "CONFIG_VHOST_CRYPTO",
    "CONFIG_VHOST_USER_BLK_SERVER",
    "CONFIG_VNC",
    "CONFIG_ZSTD",
    "HAVE_HOST_BLOCK_DEVICE",
    "HAVE_IPPROTO_MPTCP",
    "TARGET_I386",
)

SchemaInfoList = list[dict[str, Any]]


def format_differences(differences: list[str]) -> str:
    shown = "\n".join(differences[:SHOWN_DIFFERENCES])
    more = len(differences) - SHOWN_DIFFERENCES
    return f"{len(differences)} differences:\n{shown}" + (
        f"\n... and {more} more" if more > 0 else ""
    )


@pytest.fixture(scope="module")
def qemu_introspection(qemu_binary: Path) -> SchemaInfoList:
    return query_qmp_schema(str(qemu_binary))


def run_pyqmp_introspect(schema_file: Path) -> SchemaInfoList:
    """pyqmp's query-qmp-schema for schema_file, from its CLI in a separate process."""
    command = [sys.executable, "-m", "pyqmp", "schema", "introspect", str(schema_file)]
    for name in DEBIAN_QEMU_DEFINES:
        command += ["--define", name]
    try:
        result = subprocess.run(
            command, capture_output=True, timeout=INTROSPECT_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"pyqmp schema introspect took over {INTROSPECT_TIMEOUT_SECONDS} s", pytrace=False
        )
    if result.returncode != 0:
        pytest.fail(
            f"pyqmp schema introspect exited {result.returncode}:\n"
            f"{result.stderr.decode(errors='replace')[-3000:]}",
            pytrace=False,
        )
    try:
        introspection = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        pytest.fail(f"pyqmp schema introspect did not print JSON: {error}", pytrace=False)
    if not isinstance(introspection, list):
        pytest.fail("pyqmp schema introspect did not print a JSON array", pytrace=False)
    return introspection


def test_pyqmp_introspection_matches_qemu(
    qemu_source: Path, qemu_introspection: SchemaInfoList
) -> None:
    pyqmp_introspection = run_pyqmp_introspect(qemu_source / "qapi" / "qapi-schema.json")
    differences = compare_schema_infos(qemu_introspection, pyqmp_introspection, "qemu", "pyqmp")
    if differences:
        pytest.fail(format_differences(differences), pytrace=False)


def test_pyqmp_introspection_equals_qemu_exactly(
    qemu_source: Path, qemu_introspection: SchemaInfoList
) -> None:
    """Stronger than the structural match: pyqmp numbers masked names as QEMU's generator
    does (whole schema first, conditions after), so the two answers are the same list,
    entry for entry and in the same order; only the order of keys in an object may differ."""
    pyqmp_introspection = run_pyqmp_introspect(qemu_source / "qapi" / "qapi-schema.json")
    assert len(pyqmp_introspection) == len(qemu_introspection)
    for index, (ours, theirs) in enumerate(
        zip(pyqmp_introspection, qemu_introspection, strict=True)
    ):
        assert ours == theirs, f"entry {index} differs"


# The comparison is only evidence if it would notice a difference on QEMU's real output.


def test_comparison_accepts_qemu_against_itself_remasked(
    qemu_introspection: SchemaInfoList,
) -> None:
    masked = [info["name"] for info in qemu_introspection if is_masked_name(info["name"])]
    remasked = rename_types(
        qemu_introspection,
        {name: str(10000 + index) for index, name in enumerate(reversed(masked))},
    )
    differences = compare_schema_infos(
        qemu_introspection, list(reversed(remasked)), "qemu", "remasked"
    )
    assert differences == [], format_differences(differences)


def perturbed(schema: SchemaInfoList, command: str) -> tuple[SchemaInfoList, dict[str, Any]]:
    """A deep copy of schema and the arguments object of `command` in it."""
    copied = copy.deepcopy(schema)
    entries = {info["name"]: info for info in copied}
    return copied, entries[entries[command]["arg-type"]]


def test_comparison_detects_changes_to_qemu_output(qemu_introspection: SchemaInfoList) -> None:
    base = qemu_introspection
    cases: dict[str, SchemaInfoList] = {}

    swapped, arguments = perturbed(base, "blockdev-add")
    arguments["members"][2], arguments["members"][3] = (
        arguments["members"][3],
        arguments["members"][2],
    )
    cases["member order swap"] = swapped

    dropped, arguments = perturbed(base, "blockdev-add")
    del arguments["members"][-1]
    cases["missing member"] = dropped

    no_default, arguments = perturbed(base, "blockdev-add")
    del next(m for m in arguments["members"] if "default" in m)["default"]
    cases["missing default"] = no_default

    cases["missing command"] = [info for info in base if info["name"] != "query-status"]

    oob = copy.deepcopy(base)
    next(info for info in oob if info["name"] == "query-status")["allow-oob"] = True
    cases["extra allow-oob"] = oob

    no_feature = copy.deepcopy(base)
    del next(info for info in no_feature if info["name"] == "drive-backup")["features"]
    cases["missing feature"] = no_feature

    for what, changed in cases.items():
        assert compare_schema_infos(base, changed, "qemu", "changed"), f"{what} went unnoticed"
