"""The command line's shape: help, usage errors, and the commands that are not built yet."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def run_pyqmp(*args: str) -> subprocess.CompletedProcess[str]:
    # Run from the source tree so the test does not depend on how pyqmp was installed.
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


def test_help_lists_every_command() -> None:
    result = run_pyqmp("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: pyqmp")
    for command in ("machine", "shell", "client", "guest", "schema"):
        assert command in result.stdout


def test_schema_help_lists_every_subcommand() -> None:
    result = run_pyqmp("schema", "--help")
    assert result.returncode == 0, result.stderr
    for subcommand in ("check", "introspect", "gen", "doc", "diff"):
        assert subcommand in result.stdout


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["machine"], "machine"),
        (["machine", "-S", "-m", "512M", "--qmp", "unix:/tmp/x.sock"], "machine"),
        (["shell", "unix:/tmp/x.sock"], "shell"),
        (["client", "unix:/tmp/x.sock", "query-status"], "client"),
        (["guest"], "guest"),
        (["schema", "gen", "python", "s.json", "-o", "out"], "schema gen"),
        (["schema", "doc", "s.json", "-o", "out.html"], "schema doc"),
        (["schema", "diff", "old.json", "new.json"], "schema diff"),
    ],
)
def test_not_built_commands_exit_2(args: list[str], name: str) -> None:
    result = run_pyqmp(*args)
    assert result.returncode == 2
    assert result.stderr == f"pyqmp: '{name}' is not built yet\n"
    assert result.stdout == ""


def test_no_command_is_a_usage_error() -> None:
    result = run_pyqmp()
    assert result.returncode == 2
    assert "usage: pyqmp" in result.stderr


def test_schema_without_subcommand_is_a_usage_error() -> None:
    result = run_pyqmp("schema")
    assert result.returncode == 2
    assert "usage: pyqmp schema" in result.stderr


def test_schema_check_needs_a_file() -> None:
    result = run_pyqmp("schema", "check")
    assert result.returncode == 2
    assert "FILE" in result.stderr


def test_schema_check_rejects_extra_arguments() -> None:
    result = run_pyqmp("schema", "check", "a.json", "b.json")
    assert result.returncode == 2
    assert "unrecognized arguments: b.json" in result.stderr
