"""``pyqmp schema diff OLD NEW`` as a process: its report, ``--json`` and its exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyqmp.machine.app import schema_path

SRC = Path(__file__).resolve().parents[2] / "src"

BALLOON = "{ 'command': 'balloon', 'data': {'value': 'int'} }"
QEMU_SCHEMA = Path("/var/cache/pyqmp/qemu-src/qapi/qapi-schema.json")


def run_pyqmp(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pyqmp", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def machine_copy(tmp_path: Path, old: str = "", new: str = "") -> str:
    text = Path(schema_path()).read_text(encoding="utf-8")
    if old:
        assert text.count(old) == 1
        text = text.replace(old, new)
    target = tmp_path / "machine.json"
    target.write_text(text, encoding="utf-8")
    return str(target)


def test_a_schema_against_itself_reports_nothing_and_exits_0() -> None:
    result = run_pyqmp("schema", "diff", schema_path(), schema_path())
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "No changes that a client can see.\n"


def test_a_breaking_change_is_named_with_both_sources_and_exits_1(tmp_path: Path) -> None:
    line = Path(schema_path()).read_text(encoding="utf-8").splitlines().index(BALLOON) + 1
    new = machine_copy(tmp_path, BALLOON, "\n\n" + BALLOON.replace("'int'}", "'int', 'x': 'str'}"))
    result = run_pyqmp("schema", "diff", schema_path(), new)
    assert result.returncode == 1, result.stderr
    assert "Breaks senders (1):\n  command 'balloon' → argument 'x': added, mandatory\n" in (
        result.stdout
    )
    assert f"      old machine.json:{line}  new machine.json:{line + 2}\n" in result.stdout
    assert result.stdout.endswith(
        "1 breaking (1 senders, 0 receivers, 0 both), 0 safe, 0 deprecations\n"
    )


def test_json_for_tools(tmp_path: Path) -> None:
    new = machine_copy(tmp_path, BALLOON, BALLOON.replace("'value'", "'*value'"))
    result = run_pyqmp("schema", "diff", "--json", schema_path(), new)
    assert result.returncode == 0, result.stderr  # a safe change: nothing breaks
    report = json.loads(result.stdout)
    assert report["breaks"] is False
    (change,) = report["changes"]
    assert change["path"] == ["command 'balloon'", "argument 'value'"]
    assert (change["change"], change["verdict"], change["breaks"]) == ("made optional", "safe", [])
    assert change["directions"] == ["input"]
    assert change["old"] == change["new"] == f"machine.json:{709}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{ 'command': 'x', 'data': { 'a': 'Nope' } }\n", "uses unknown type 'Nope'"),
        ("{ 'command': 'x',\n", "expected"),
    ],
)
def test_a_bad_schema_gets_its_compiler_error_and_exit_3(
    tmp_path: Path, text: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text, encoding="utf-8")
    for args in ((schema_path(), str(bad)), (str(bad), schema_path())):
        result = run_pyqmp("schema", "diff", *args)
        assert result.returncode == 3
        assert result.stderr.startswith(f"{bad}:") and message in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_missing_file_exits_3(tmp_path: Path) -> None:
    result = run_pyqmp("schema", "diff", schema_path(), str(tmp_path / "none.json"))
    assert result.returncode == 3
    assert "can't read schema file" in result.stderr


@pytest.mark.parametrize(
    "args", [("one.json",), ("a.json", "b.json", "c.json"), ("--colour", "a.json", "b.json")]
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = run_pyqmp("schema", "diff", *args)
    assert result.returncode == 2
    assert "usage: pyqmp" in result.stderr and "error:" in result.stderr


@pytest.mark.skipif(not QEMU_SCHEMA.is_file(), reason="QEMU's source is not fetched")
def test_qemu_schema_against_itself() -> None:
    result = run_pyqmp("schema", "diff", str(QEMU_SCHEMA), str(QEMU_SCHEMA))
    assert (result.returncode, result.stdout) == (0, "No changes that a client can see.\n")


def test_define_compares_one_build(tmp_path: Path) -> None:
    new = machine_copy(tmp_path, BALLOON, BALLOON.replace(" }", ", 'if': 'CONFIG_BALLOON' }"))
    as_written = run_pyqmp("schema", "diff", schema_path(), new)
    assert as_written.returncode == 0
    assert "command 'balloon': condition changed (always → CONFIG_BALLOON)" in as_written.stdout
    without = run_pyqmp("schema", "diff", "-D", "CONFIG_OTHER", schema_path(), new)
    assert without.returncode == 1
    assert "Breaks senders (1):\n  command 'balloon': command removed\n" in without.stdout
    with_it = run_pyqmp("schema", "diff", "--define", "CONFIG_BALLOON", schema_path(), new)
    assert with_it.returncode == 0
    assert "condition changed" in with_it.stdout and "removed" not in with_it.stdout
