"""`pyqmp shell` against QEMU 7.2 and `pyqmp machine`, through a pseudo-terminal as a person
types: TAB completion of a command and of its arguments, a reply, an error reply, an event sent
by another monitor's command appearing by itself while a half-typed line waits (and the line
surviving it), the human monitor (`-H`), a frozen server costing one timeout, a lost
connection ending the shell with status 4; and the same shell scripted through a pipe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pty_terminal import Terminal
from qmp_targets import TargetProcess

PROCESS_TIMEOUT = 60
# A timeout long enough for the slow CI machine, short enough to wait out in a test.
FROZEN_TIMEOUT = "2"


@contextmanager
def pyqmp_shell(socket_path: str, *options: str, home: str | None = None) -> Iterator[Terminal]:
    with tempfile.TemporaryDirectory() as fresh_home:
        # A real terminal type, so that prompt_toolkit draws (and redraws) the line; no cursor
        # position requests, which a pty answers with nobody.
        home = home or fresh_home
        env = {"TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "HOME": home}
        env["XDG_STATE_HOME"] = os.path.join(home, ".local", "state")
        terminal = Terminal(
            [sys.executable, "-m", "pyqmp", "shell", *options, socket_path], env=env
        )
        try:
            yield terminal
        finally:
            terminal.close()


def interrupt_until_interrupted(terminal: Terminal, tries: int = 50) -> None:
    """Type Ctrl-C until the command running gives up.  The first one may still reach the
    prompt that is just closing (where it only clears an empty line), so it is repeated."""
    for _ in range(tries):
        terminal.type("\x03")
        try:
            terminal.wait_for("interrupted (a late reply will be dropped)", 0.5, plain=True)
            return
        except AssertionError:
            continue
    raise AssertionError(f"Ctrl-C never interrupted the command:\n{terminal.text()[-2000:]}")


def client(socket_path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyqmp", "client", socket_path, *args],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )


def test_completion_replies_errors_and_events(running3: TargetProcess) -> None:
    process = running3
    mine, other, _ = process.sockets
    with pyqmp_shell(mine) as terminal:
        terminal.wait_for("(QMP)", plain=True)
        terminal.type("query-statu\t")
        terminal.wait_for("query-status", plain=True)
        terminal.type("\n")
        terminal.wait_for('"status": "prelaunch"', plain=True)

        terminal.type("qom-get pa\t")
        terminal.wait_for("qom-get path=", plain=True)
        terminal.type("/machine/peripheral/balloon0 prop\t")
        terminal.wait_for("balloon0 property=", plain=True)
        terminal.type("guest-stats-polling-interval\n")
        terminal.wait_for("guest-stats-polling-interval\n0\n", plain=True)

        terminal.type("balloon value=0\n")
        terminal.wait_for("GenericError: Parameter 'target' expects a size", plain=True)
        terminal.type("no-such-command\n")
        terminal.wait_for(
            "CommandNotFound: The command no-such-command has not been found", plain=True
        )

        # An event caused by ANOTHER monitor shows up by itself while a line is half typed,
        # and the half-typed line is still there to finish.
        terminal.type("query-sta")
        terminal.wait_for("query-sta", plain=True)
        assert client(other, "cont").returncode == 0
        terminal.wait_for("event RESUME at ", plain=True)
        terminal.type("tus\n")
        terminal.wait_for('"status": "running"', plain=True)
        assert client(other, "stop").returncode == 0
        terminal.wait_for("event STOP at ", plain=True)
        terminal.type("query-status\n")
        terminal.wait_for('"status": "paused"', plain=True, then="(QMP)")
        # Ctrl-D once the prompt is back: between prompts the terminal is in cooked mode,
        # where Ctrl-D is the end of input, not a key.
        terminal.type("\x04")
        assert terminal.wait_exit() == 0


def test_the_human_monitor(running: TargetProcess) -> None:
    process = running
    with pyqmp_shell(process.sockets[0], "-H") as terminal:
        terminal.wait_for("(HMP)", plain=True)
        terminal.type("info ball\t")
        terminal.wait_for("info balloon", plain=True)
        terminal.type("\n")
        terminal.wait_for("balloon: actual=128", plain=True)
        terminal.type("info status\n")
        terminal.wait_for("VM status: paused (prelaunch)", plain=True, then="(HMP)")
        terminal.type("\x04")
        assert terminal.wait_exit() == 0


def test_a_frozen_server_costs_one_timeout(running: TargetProcess) -> None:
    process = running
    with pyqmp_shell(process.sockets[0], "--timeout", FROZEN_TIMEOUT) as terminal:
        terminal.wait_for("(QMP)", plain=True)
        os.kill(process.process.pid, signal.SIGSTOP)
        try:
            terminal.type("query-status\n")
            terminal.wait_for(f"no reply to 'query-status' within {FROZEN_TIMEOUT} s", plain=True)
        finally:
            os.kill(process.process.pid, signal.SIGCONT)
        # The prompt came back; on a server frozen again, Ctrl-C gives up waiting.
        terminal.wait_for("will be dropped)", plain=True, then="(QMP)")
        os.kill(process.process.pid, signal.SIGSTOP)
        try:
            terminal.type("query-status\n")
            terminal.wait_for("will be dropped)", plain=True, then="(QMP) query-status\n")
            interrupt_until_interrupted(terminal)
        finally:
            os.kill(process.process.pid, signal.SIGCONT)
        # The next command gets its own reply, not one of the late ones.
        terminal.wait_for("interrupted", plain=True, then="(QMP)")
        terminal.type("query-balloon\n")
        terminal.wait_for('"actual": 134217728', plain=True)


def test_a_lost_connection_ends_the_shell_with_status_4(running: TargetProcess) -> None:
    process = running
    with pyqmp_shell(process.sockets[0]) as terminal:
        terminal.wait_for("(QMP)", plain=True)
        terminal.type("query-sta")  # the prompt is waiting, a line half typed
        terminal.wait_for("query-sta", plain=True)
        process.stop()
        assert terminal.wait_exit() == 4
        assert "pyqmp shell: connection lost" in terminal.text()


def test_history_is_kept_across_sessions(running: TargetProcess) -> None:
    with tempfile.TemporaryDirectory() as home:
        with pyqmp_shell(running.sockets[0], home=home) as terminal:
            terminal.wait_for("(QMP)", plain=True)
            terminal.type("query-balloon\n")
            terminal.wait_for('"actual": 134217728', plain=True, then="(QMP)")
            terminal.type("\x04")
            assert terminal.wait_exit() == 0
        history = Path(home, ".local", "state", "pyqmp", "shell_history")
        assert "+query-balloon\n" in history.read_text(encoding="utf-8")
        with pyqmp_shell(running.sockets[0], home=home) as terminal:
            terminal.wait_for("(QMP)", plain=True)
            terminal.type("\x1b[A")  # the Up arrow brings back the last session's line
            terminal.wait_for("query-balloon", plain=True)
            terminal.type("\n")
            terminal.wait_for('"actual": 134217728', plain=True)


def test_scripted_through_a_pipe(running: TargetProcess) -> None:
    script = "query-status\n\n# a comment\nballoon value=0\ncont\nquery-status\n"
    done = subprocess.run(
        [sys.executable, "-m", "pyqmp", "shell", running.sockets[0]],
        input=script,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert done.returncode == 1  # one line failed
    assert done.stderr == ""
    assert '"status": "prelaunch"' in done.stdout
    assert "GenericError: Parameter 'target' expects a size\n" in done.stdout
    assert "event RESUME at " in done.stdout
    assert done.stdout.index('"status": "prelaunch"') < done.stdout.index("GenericError")
    assert done.stdout.rindex('"status": "running"') > done.stdout.index("GenericError")

    done = subprocess.run(
        [sys.executable, "-m", "pyqmp", "shell", "-H", running.sockets[0]],
        input="info balloon\n",
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "balloon: actual=128\n", "")


def test_a_script_whose_server_goes_away_exits_4(running: TargetProcess) -> None:
    shell = subprocess.Popen(
        [sys.executable, "-m", "pyqmp", "shell", running.sockets[0]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert shell.stdin is not None and shell.stdout is not None
        shell.stdin.write("query-status\n")
        shell.stdin.flush()
        assert shell.stdout.readline() == "{\n"  # the first reply came: connected and running
        running.stop()
        _, stderr = shell.communicate("query-status\nquery-status\n", timeout=PROCESS_TIMEOUT)
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()
    assert shell.returncode == 4
    assert stderr.startswith("pyqmp shell: connection lost: ")


def test_usage_mistakes_and_unreachable_servers() -> None:
    def shell(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pyqmp", "shell", *args],
            input="",
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
        )

    done = shell("tcp:nowhere")
    assert (done.returncode, done.stderr) == (
        2,
        "pyqmp shell: invalid address 'tcp:nowhere': expected tcp:HOST:PORT\n",
    )
    done = shell("--timeout", "0", "x.sock")
    assert done.returncode == 2
    assert "argument --timeout: expected a positive number of seconds, not 0" in done.stderr
    done = shell("--bogus", "x.sock")
    assert done.returncode == 2 and "unrecognized arguments: --bogus" in done.stderr
    with tempfile.TemporaryDirectory() as directory:
        missing = os.path.join(directory, "none.sock")
        done = shell(missing)
        assert done.returncode == 4
        assert (
            done.stderr.startswith("pyqmp shell: ") and "No such file or directory" in done.stderr
        )
