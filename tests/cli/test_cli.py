"""The command line's shape: help and usage errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyqmp.machine.app import schema_path

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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["machine", "-m", "lots"], "invalid RAM size 'lots'"),
        (["machine", "--qmp", "udp:1"], "invalid monitor 'udp:1'"),
        (["machine", "--balloon", "bus=pci.0"], "invalid device option 'bus=pci.0'"),
        (["machine", "--uuid", "not-a-uuid"], "badly formed hexadecimal UUID string"),
        # QEMU's -compat errors, word for word, after the option that caused them
        (["machine", "--compat", "reject"], "--compat reject: Expected '=' after parameter"),
        (
            ["machine", "--compat", "deprecated-input=reject,future-input=reject"],
            "--compat deprecated-input=reject,future-input=reject: "
            "Parameter 'future-input' is unexpected",
        ),
        (
            ["machine", "--compat", "deprecated-output=drop"],
            "Parameter 'deprecated-output' does not accept value 'drop'",
        ),
        (
            ["machine", "--compat", "unstable-input=accept", "--compat", "unstable-input=hide"],
            "--compat unstable-input=hide: Parameter 'unstable-input' does not accept value 'hide'",
        ),
    ],
)
def test_machine_option_errors(args: list[str], message: str) -> None:
    result = run_pyqmp(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message", "status"),
    [
        (["machine", "--guest-fault", "sulk"], "invalid choice: 'sulk'", 2),  # argparse's
    ],
)
def test_machine_usage_errors(args: list[str], message: str, status: int) -> None:
    result = run_pyqmp(*args)
    assert result.returncode == status
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_gen_python_writes_a_module(tmp_path: Path) -> None:
    schema = tmp_path / "tiny-api.json"
    schema.write_text(
        "{ 'struct': 'Point', 'data': { 'x': 'int', '*label': 'str' } }\n"
        "{ 'command': 'move', 'data': { 'to': 'Point' }, 'returns': 'Point' }\n"
        "{ 'event': 'MOVED', 'data': { 'to': 'Point' } }\n"
    )
    result = run_pyqmp("schema", "gen", "python", str(schema), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "tiny_api_qapi.py").read_text()
    assert "class Point(msgspec.Struct" in text
    assert "def move(self, *, to: Point) -> Point:" in text
    assert "def moved(self, *, to: Point) -> None:" in text


def test_schema_gen_python_reports_schema_errors(tmp_path: Path) -> None:
    schema = tmp_path / "bad.json"
    schema.write_text("{ 'struct': 'point', 'data': {} }\n")
    result = run_pyqmp("schema", "gen", "python", str(schema), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.endswith("bad.json:1: name of struct must use CamelCase\n")
    assert not (tmp_path / "out").exists()


def test_guest_command_takes_its_own_options() -> None:
    result = run_pyqmp("guest", "--help")
    assert result.returncode == 0
    assert "--fd FD" in result.stdout
    result = run_pyqmp("guest", "--fd", "99", "--ram", "1048576")
    assert result.returncode == 2
    assert "--fd 99 is not a usable socket" in result.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (",read-only=maybe", "read-only expects on or off, not 'maybe'"),
        (",tls-creds=/tmp", "unknown option 'tls-creds' (a tcp option)"),
        (",uid=no-such-user-here", "'no-such-user-here' is neither"),
        (",allow=nosuch-*", "command pattern 'nosuch-*' matches no command"),
        (",bogus=1", "unknown option 'bogus'"),
    ],
)
def test_bad_monitor_option_exits_1_and_the_machine_does_not_start(
    tmp_path: Path, option: str, message: str
) -> None:
    socket_path = tmp_path / "q.sock"
    result = run_pyqmp("machine", "--qmp", f"unix:{socket_path}{option}")
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not socket_path.exists()  # nothing listened, nothing left behind


def test_bad_tls_directory_exits_1_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "ca-cert.pem").write_text("not a certificate")
    result = run_pyqmp("machine", "--qmp", f"tcp:127.0.0.1:0,tls-creds={tmp_path}")
    assert result.returncode == 1
    assert "has no server-cert.pem" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["0", "many", "-3"])
def test_bad_max_connections_exits_1(value: str) -> None:
    result = run_pyqmp("machine", "--max-connections", value)
    assert result.returncode == 1
    assert f"--max-connections expects a positive number, not '{value}'" in result.stderr


def test_cli_default_cap_is_the_servers() -> None:
    from pyqmp.cli.machine_command import DEFAULT_MAX_CONNECTIONS
    from pyqmp.server.runtime import DEFAULT_MAX_CONNECTIONS as SERVER_DEFAULT

    assert DEFAULT_MAX_CONNECTIONS == SERVER_DEFAULT


def test_schema_introspect_compat() -> None:
    refused = run_pyqmp("schema", "introspect", schema_path(), "--compat", "deprecated-output=drop")
    assert refused.returncode == 1
    assert refused.stderr == (
        "pyqmp schema introspect: --compat deprecated-output=drop: "
        "Parameter 'deprecated-output' does not accept value 'drop'\n"
    )
    assert refused.stdout == ""
    default = json.loads(run_pyqmp("schema", "introspect", schema_path()).stdout)
    hidden = run_pyqmp("schema", "introspect", schema_path(), "--compat", "deprecated-output=hide")
    assert hidden.returncode == 0
    names = {entry["name"] for entry in json.loads(hidden.stdout)}
    assert "balloon-stats-request" in {entry["name"] for entry in default}
    assert "balloon-stats-request" not in names
