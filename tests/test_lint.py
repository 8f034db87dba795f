"""The source is typed (`mypy --strict` on src/) and linted (`ruff check`), as ARCHITECTURE.md's
conventions ask."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_mypy_strict_on_src() -> None:
    result = _run_tool("mypy", "--strict", "src")
    assert result.returncode == 0, f"mypy --strict failed:\n{result.stdout}{result.stderr}"


def test_ruff_check() -> None:
    result = _run_tool("ruff", "check", "src", "tests")
    assert result.returncode == 0, f"ruff check failed:\n{result.stdout}{result.stderr}"
