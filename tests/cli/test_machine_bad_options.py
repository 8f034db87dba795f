"""Every bad value of `pyqmp machine --qmp`, `--balloon` and `--compat`: exit 1, a message
naming it, and nothing started.

Run in this process through the real command line (`pyqmp.cli.entry.main`), with the
machine's start replaced by a failure: a row that the parser let through would start a
machine, and fails instead.  A table row exists for every option key a monitor takes
(a test holds the table to the parser's list), so a new key cannot arrive unchecked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyqmp.cli.entry import main
from pyqmp.machine import app, options

# (the --qmp value, what stderr must contain). Paths are relative: nothing listens anyway.
BAD_QMP = [
    ("udp:127.0.0.1:4444", "expected unix:PATH or tcp:HOST:PORT"),
    ("unix:", "expected unix:PATH or tcp:HOST:PORT"),
    ("tcp:127.0.0.1:70000", "expected unix:PATH or tcp:HOST:PORT"),
    ("tcp:no host:1", "expected unix:PATH or tcp:HOST:PORT"),
    ("unix:q.sock,bogus=1", "unknown option 'bogus'"),
    ("unix:q.sock,", "unknown option ''"),
    ("unix:q.sock,server=off", "server=off"),
    ("unix:q.sock,server=maybe", "server expects on or off, not 'maybe'"),
    ("unix:q.sock,wait=on", "wait=on"),
    ("unix:q.sock,wait=later", "wait expects on or off, not 'later'"),
    ("unix:q.sock,nowait=1", "nowait expects on or off, not '1'"),
    ("unix:q.sock,nowait=off", "wait=on"),
    ("unix:q.sock,read-only=maybe", "read-only expects on or off, not 'maybe'"),
    ("unix:q.sock,read-only", "option 'read-only' needs a value"),
    ("unix:q.sock,read-only=on,read-only=off", "option 'read-only' given twice"),
    ("unix:q.sock,allow=query-[a]*", "invalid command pattern 'query-[a]*'"),
    ("unix:q.sock,deny=", "option 'deny' has an empty value"),
    ("unix:q.sock,max-connections=0", "max-connections expects a positive number, not '0'"),
    ("unix:q.sock,max-connections=1e3", "max-connections expects a positive number"),
    ("unix:q.sock,negotiation-timeout=-1", "negotiation-timeout expects a positive number"),
    ("unix:q.sock,negotiation-timeout=soon", "negotiation-timeout expects a positive number"),
    ("unix:q.sock,uid=no-such-user-here", "uid expects numbers or names"),
    ("unix:q.sock,uid=1000:", "'' is neither"),
    ("unix:q.sock,gid=no-such-group-here", "gid expects numbers or names"),
    ("unix:q.sock,mode=0999", "mode expects octal permissions such as 0660, not '0999'"),
    ("unix:q.sock,mode=u+rw", "mode expects octal permissions"),
    ("unix:q.sock,tls-creds=/tmp", "unknown option 'tls-creds' (a tcp option)"),
    ("tcp:127.0.0.1:0,uid=0", "unknown option 'uid' (a unix option)"),
    ("tcp:127.0.0.1:0,mode=0600", "unknown option 'mode' (a unix option)"),
    ("tcp:127.0.0.1:0,tls-creds=", "option 'tls-creds' has an empty value"),
    ("tcp:127.0.0.1:0,verify-peer=on", "verify-peer needs tls-creds=DIR"),
    ("tcp:127.0.0.1:0,tls-creds=/tmp,verify-peer=sometimes", "verify-peer expects on or off"),
]

# Checked when the listener is set up (against the schema, the x509 files): run as a real
# process, which must exit 1 before anything listens.
BAD_AT_START = [
    (",allow=nosuch-*", "command pattern 'nosuch-*' matches no command"),
    (",deny=quit:no-such-command", "command pattern 'no-such-command' matches no command"),
    (",read-only=on,allow=qmp_*:nosuch", "command pattern 'nosuch' matches no command"),
]

BAD_BALLOON = [
    ("bus=pci.0", "unknown option 'bus'"),
    ("id=b0,bus=pci.0", "unknown option 'bus'"),
    ("id=b0,id=b1", "option 'id' given twice"),
    ("id=0bad", "id expects a name"),
    ("id=", "id expects a name"),
    ("id", "id expects a name"),
    ("", "unknown option ''"),
    ("None", "unknown option 'None'"),  # only the exact word none means no balloon
]

# QEMU's -compat messages, after the option that caused them.
BAD_COMPAT = [
    ("reject", "--compat reject: Expected '=' after parameter 'reject'"),
    ("deprecated-input=maybe", "Parameter 'deprecated-input' does not accept value 'maybe'"),
    ("deprecated-output=reject", "Parameter 'deprecated-output' does not accept value 'reject'"),
    ("unstable-input=hide", "Parameter 'unstable-input' does not accept value 'hide'"),
    ("unstable-output=crash", "Parameter 'unstable-output' does not accept value 'crash'"),
    ("future-input=reject", "Parameter 'future-input' is unexpected"),
    ("deprecated-input.x=accept", "Parameters 'deprecated-input.*' are unexpected"),
    ("1bad=accept", "Invalid parameter '1bad'"),
    ("help", "Help is not available for this option"),
]


@pytest.fixture(autouse=True)
def no_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> int:
        raise AssertionError("a bad option reached the machine's start")

    monkeypatch.setattr(app, "run", refuse)


def _fails_naming(
    capsys: pytest.CaptureFixture[str], argv: list[str], value: str, message: str
) -> None:
    assert main(["machine", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pyqmp machine: "), err
    assert message in err, err
    assert value in err, err  # the option is named as given
    assert "Traceback" not in err


@pytest.mark.parametrize(("value", "message"), BAD_QMP, ids=[row[0] for row in BAD_QMP])
def test_bad_qmp_exits_1_naming_it(
    capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    _fails_naming(capsys, ["--qmp", "unix:good.sock", "--qmp", value], value, message)


@pytest.mark.parametrize(("option", "message"), BAD_AT_START, ids=[r[0] for r in BAD_AT_START])
def test_bad_qmp_found_at_start_exits_1_naming_it(
    tmp_path: Path, option: str, message: str
) -> None:
    path = tmp_path / "q.sock"
    result = subprocess.run(
        [sys.executable, "-m", "pyqmp", "machine", "-S", "--qmp", f"unix:{path}{option}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not path.exists()


def test_tls_directory_that_does_not_exist_exits_1_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-pki"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyqmp",
            "machine",
            "-S",
            "--qmp",
            f"tcp:127.0.0.1:0,tls-creds={missing}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert str(missing) in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("value", "message"), BAD_BALLOON, ids=[r[0] for r in BAD_BALLOON])
def test_bad_balloon_exits_1_naming_it(
    capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    _fails_naming(capsys, ["--balloon", value], value, message)


@pytest.mark.parametrize(("value", "message"), BAD_COMPAT, ids=[r[0] for r in BAD_COMPAT])
def test_bad_compat_exits_1_naming_it(
    capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    _fails_naming(
        capsys, ["--compat", "deprecated-input=reject", "--compat", value], value, message
    )


def test_the_table_has_a_bad_value_for_every_monitor_option() -> None:
    keys = {key for kind_keys in options._KEYS.values() for key in kind_keys}
    covered = {
        item.partition("=")[0] for value, _ in BAD_QMP for item in options.split_options(value)[1:]
    }
    assert keys <= covered, f"no bad value in the table for {sorted(keys - covered)}"
