"""Hostile schema files through ``pyqmp schema check``: always a clean error, never a crash.

Each input runs the command line in a subprocess from the file's folder, with the bare file
name, as a build would.  A bad file must give exit status 1 and one error on stderr starting
``FILE:LINE`` (no traceback); huge files must be refused in bounded time and memory.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
TIMEOUT = 120  # seconds; generous, for slow machines — not a performance assertion
PEAK_MEMORY_LIMIT = 1536 * 1024 * 1024  # bytes


def _env() -> dict[str, str]:
    # Run from the source tree so the test does not depend on how pyqmp was installed.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


def check(cwd: Path, name: str) -> subprocess.CompletedProcess[str]:
    """``pyqmp schema check NAME`` run in ``cwd``; stderr decoded leniently (it may echo bytes)."""
    result = subprocess.run(
        [sys.executable, "-m", "pyqmp", "schema", "check", name],
        cwd=cwd,
        capture_output=True,
        env=_env(),
        check=False,
        timeout=TIMEOUT,
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "backslashreplace"),
        result.stderr.decode("utf-8", "backslashreplace"),
    )


class MeasuredRun:
    def __init__(self, returncode: int, stderr: str, peak_memory: int) -> None:
        self.returncode = returncode
        self.stderr = stderr
        self.peak_memory = peak_memory  # bytes (ru_maxrss)


def check_measured(cwd: Path, name: str) -> MeasuredRun:
    """Like :func:`check`, also measuring the child's peak memory with ``wait4``."""
    stderr_path = cwd / "stderr.txt"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "pyqmp", "schema", "check", name],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=_env(),
        )
    deadline = time.monotonic() + TIMEOUT
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.kill(process.pid, signal.SIGKILL)
            os.wait4(process.pid, 0)
            process.returncode = -signal.SIGKILL
            pytest.fail(f"schema check of {name} ran longer than {TIMEOUT} s")
        time.sleep(0.02)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return MeasuredRun(
        process.returncode,
        stderr_path.read_bytes().decode("utf-8", "backslashreplace"),
        usage.ru_maxrss * 1024,  # kilobytes on Linux
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], name: str, line: int) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{name}:{line}:") or result.stderr.startswith(
        f"{name}:{line}\n"
    ), result.stderr
    assert result.stderr.endswith("\n")
    assert result.stdout == ""


# -- garbage ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_binary_garbage(tmp_path: Path, seed: int) -> None:
    data = random.Random(seed).randbytes(4096)
    (tmp_path / "garbage.json").write_bytes(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
    else:  # pragma: no cover - 4 KiB of random bytes are never valid UTF-8 in practice
        pytest.fail("seed gives valid UTF-8; pick another")
    result = check(tmp_path, "garbage.json")
    assert_clean_error(result, "garbage.json", line)
    assert "invalid UTF-8" in result.stderr


@pytest.mark.parametrize("seed", range(6))
def test_ascii_garbage(tmp_path: Path, seed: int) -> None:
    # Mostly the schema language's own characters, so the parser gets further than the first
    # byte.  The final '@' line guarantees an error however the garbage parses.
    rng = random.Random(seed)
    alphabet = "{}[]:,'#\\ \n\t\"@xyz-_=" + "".join(chr(c) for c in range(0x20))
    text = "".join(rng.choice(alphabet) for _ in range(2000)) + "\n@\n"
    (tmp_path / "garbage.json").write_text(text, encoding="utf-8")
    result = check(tmp_path, "garbage.json")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert re.match(r"garbage\.json:\d+(:\d+)?: ", result.stderr), result.stderr


def test_invalid_utf8(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_bytes(b"{ 'enum': '\xff' }\n")
    result = check(tmp_path, "bad.json")
    assert_clean_error(result, "bad.json", 1)
    assert result.stderr == "bad.json:1: invalid UTF-8 (byte 0xff)\n"


def test_invalid_utf8_reports_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_bytes(b"# one\n# two\n{ 'enum': 'Caf\xc3', 'data': [] }\n")
    result = check(tmp_path, "bad.json")
    assert_clean_error(result, "bad.json", 3)
    assert "UTF-8" in result.stderr


def test_invalid_utf8_in_an_included_file(tmp_path: Path) -> None:
    (tmp_path / "top.json").write_text("# top\n{ 'include': 'sub.json' }\n")
    (tmp_path / "sub.json").write_bytes(b"\n\n\x80\n")
    result = check(tmp_path, "top.json")
    assert result.returncode == 1
    assert (
        result.stderr
        == "In file included from top.json:2:\nsub.json:3: invalid UTF-8 (byte 0x80)\n"
    )


def test_nul_in_a_string(tmp_path: Path) -> None:
    (tmp_path / "nul.json").write_bytes(b"{ 'enum': 'A\0', 'data': [] }\n")
    result = check(tmp_path, "nul.json")
    assert_clean_error(result, "nul.json", 1)
    # as QEMU, at the string's opening quote
    assert result.stderr == "nul.json:1:11: funny character in string\n"


def test_nul_bytes_outside_strings(tmp_path: Path) -> None:
    (tmp_path / "nul.json").write_bytes(b"{ 'enum': 'A',\n  \0\0\0 }\n")
    result = check(tmp_path, "nul.json")
    assert_clean_error(result, "nul.json", 2)
    assert result.stderr.startswith("nul.json:2:3: stray '")


def test_only_nul_bytes(tmp_path: Path) -> None:
    (tmp_path / "nul.json").write_bytes(b"\0" * 1000)
    assert_clean_error(check(tmp_path, "nul.json"), "nul.json", 1)


# -- nesting -------------------------------------------------------------------------------


def test_deep_list_nesting(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("{ 'a': " + "[" * 10_000 + "\n")
    result = check(tmp_path, "deep.json")
    assert_clean_error(result, "deep.json", 1)
    # the object is the first level: the 256th '[' is the first too many
    assert result.stderr == "deep.json:1:263: nesting too deep (more than 256 levels)\n"


def test_deep_object_nesting(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("{'a':" * 10_000 + "\n")
    result = check(tmp_path, "deep.json")
    assert_clean_error(result, "deep.json", 1)
    assert result.stderr == "deep.json:1:1281: nesting too deep (more than 256 levels)\n"


def test_deep_nesting_across_lines(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[\n" * 10_000)
    result = check(tmp_path, "deep.json")
    assert result.stderr == "deep.json:257:1: nesting too deep (more than 256 levels)\n"


def test_nesting_to_the_limit_is_fine(tmp_path: Path) -> None:
    # 256 levels are allowed: the reader accepts this, and the error comes from the next
    # stage (the object is not a definition).
    (tmp_path / "deep.json").write_text("{ 'a': " + "[" * 255 + "]" * 255 + " }\n")
    result = check(tmp_path, "deep.json")
    assert result.returncode == 1
    assert result.stderr == (
        "deep.json:1: expression must have exactly one key "
        "'enum', 'struct', 'union', 'alternate', 'command', 'event'\n"
    )


# -- includes -----------------------------------------------------------------------


def test_include_loop(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{ 'include': 'b.json' }\n")
    (tmp_path / "b.json").write_text("# b\n{ 'include': 'a.json' }\n")
    result = check(tmp_path, "a.json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr == "In file included from a.json:1:\nb.json:2: inclusion loop for a.json\n"


def test_file_including_itself(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("\n\n{ 'include': 'a.json' }\n")
    result = check(tmp_path, "a.json")
    assert result.stderr == "a.json:3: inclusion loop for a.json\n"


def test_missing_include(tmp_path: Path) -> None:
    (tmp_path / "top.json").write_text("# first\n\n{ 'include': 'nope.json' }\n")
    result = check(tmp_path, "top.json")
    assert_clean_error(result, "top.json", 3)
    assert result.stderr == (
        "top.json:3: can't read include file 'nope.json': No such file or directory\n"
    )


def test_include_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "top.json").write_text("{ 'include': 'sub' }\n")
    result = check(tmp_path, "top.json")
    assert_clean_error(result, "top.json", 1)
    assert result.stderr == "top.json:1: can't read include file 'sub': Is a directory\n"


# -- huge files --------------------------------------------------------------------------


def test_50_megabytes_of_doc_comments_then_an_error(tmp_path: Path) -> None:
    block = "##\n# Free-form prose about the schema, long enough to look like the real thing.\n##\n"
    count = 50_000_000 // len(block) + 1
    with open(tmp_path / "big.json", "w") as stream:
        for _ in range(count // 1000):
            stream.write(block * 1000)
        stream.write(block * (count % 1000))
        stream.write("{ 'enum': 'Bad' 'data': [] }\n")
    assert (tmp_path / "big.json").stat().st_size > 50_000_000
    result = check_measured(tmp_path, "big.json")
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"big.json:{3 * count + 1}:17: expected ',' or '}}'\n"
    assert result.peak_memory < PEAK_MEMORY_LIMIT


def test_50_megabytes_of_brackets(tmp_path: Path) -> None:
    (tmp_path / "brackets.json").write_bytes(b"[" * 50_000_000)
    result = check_measured(tmp_path, "brackets.json")
    assert result.returncode == 1, result.stderr
    assert result.stderr == "brackets.json:1:257: nesting too deep (more than 256 levels)\n"
    assert result.peak_memory < PEAK_MEMORY_LIMIT


def test_one_very_long_line(tmp_path: Path) -> None:
    name = "x" * 5_000_000
    (tmp_path / "long.json").write_text(f"{{ 'enum': '{name}', 'data': [] }} @\n")
    result = check(tmp_path, "long.json")
    assert result.stderr == f"long.json:1:{len(name) + 28}: stray '@'\n"


# -- odd paths and empty files -----------------------------------------------------------


def test_empty_file_is_a_valid_schema(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_bytes(b"")
    result = check(tmp_path, "empty.json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_only_comments_is_a_valid_schema(tmp_path: Path) -> None:
    (tmp_path / "comments.json").write_text("# nothing\n\n   # here\n")
    result = check(tmp_path, "comments.json")
    assert result.returncode == 0, result.stderr


def test_directory_path(tmp_path: Path) -> None:
    (tmp_path / "dir.json").mkdir()
    result = check(tmp_path, "dir.json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "can't read schema file" in result.stderr
    assert "dir.json" in result.stderr


def test_nonexistent_file(tmp_path: Path) -> None:
    result = check(tmp_path, "nope.json")
    assert result.returncode == 1
    assert result.stderr == "can't read schema file 'nope.json': No such file or directory\n"


def test_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "file.json").write_text("")
    result = check(tmp_path, "file.json/x.json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "can't read schema file 'file.json/x.json'" in result.stderr


# -- inputs that once crashed (now refused or loaded) ------------------------------------


def _limit_memory() -> None:
    import resource

    limit = 512 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.parametrize(
    ("name", "text", "start"),
    [
        ("zero.json", "{ 'include': '/dev/zero' }\n", "zero.json:1: "),
        ("/dev/zero", None, "can't read schema file '/dev/zero'"),
    ],
    ids=["include", "schema"],
)
def test_endless_file_is_refused(tmp_path: Path, name: str, text: str | None, start: str) -> None:
    # A schema (or an include it names) that never ends: the read must stop with an error
    # instead of taking all memory (the test runs under a 512 MiB address-space limit).
    if text is not None:
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "pyqmp", "schema", "check", name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
        timeout=TIMEOUT,
        preexec_fn=_limit_memory,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(start)


def assert_loads_or_clean_error(result: subprocess.CompletedProcess[str], name: str) -> None:
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1), result.stderr
    if result.returncode == 1:
        # the error may be in an included file, after the chain of includes that led there
        located = r"(In file included from [^\n]*:\d+:\n)*[^\n:]+\.json:\d+: "
        assert re.match(located, result.stderr), result.stderr
        assert result.stderr.startswith((f"{name}:", "In file included from "))


def camel(number: int) -> str:
    return "S" + "".join(chr(ord("a") + int(digit)) for digit in str(number))


def test_long_chain_of_bases(tmp_path: Path) -> None:
    # A valid schema: S0's base is S1, whose base is S2, ... 1500 deep.  Checking once
    # recursed per base and died of RecursionError past ~1000.
    depth = 1500
    lines = [
        f"{{ 'struct': '{camel(i)}', 'base': '{camel(i + 1)}', 'data': {{}} }}"
        for i in range(depth)
    ]
    lines.append(f"{{ 'struct': '{camel(depth)}', 'data': {{ 'a': 'int' }} }}")
    (tmp_path / "chain.json").write_text("\n".join(lines) + "\n")
    assert_loads_or_clean_error(check(tmp_path, "chain.json"), "chain.json")


def test_deep_chain_of_includes(tmp_path: Path) -> None:
    # f0.json includes f1.json, which includes f2.json, ... 300 deep: the reader refuses
    # such depth with an error rather than exhausting the stack.
    depth = 300
    for i in range(depth):
        (tmp_path / f"f{i}.json").write_text(f"{{ 'include': 'f{i + 1}.json' }}\n")
    (tmp_path / f"f{depth}.json").write_text("{ 'enum': 'Deep', 'data': [] }\n")
    assert_loads_or_clean_error(check(tmp_path, "f0.json"), "f0.json")
