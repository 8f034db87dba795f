"""The fuzz target, run over a fixed corpus without atheris: the harness itself works, and
the seeds and QEMU's own schema test files give SchemaErrors or load, never crash.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fuzz_schema_reader import SEED_CORPUS, check_one_input

FUZZ_SCRIPT = Path(__file__).resolve().parent / "fuzz_schema_reader.py"


@pytest.mark.parametrize("data", SEED_CORPUS, ids=[f"seed{i}" for i in range(len(SEED_CORPUS))])
def test_seed(tmp_path: Path, data: bytes) -> None:
    outcome = check_one_input(data, str(tmp_path))
    if outcome is not None:
        # an error names the file (or the file it included), and where
        assert str(tmp_path / "fuzz.json") in outcome or outcome.startswith("In file included")


def test_seed_corpus_has_valid_and_invalid_inputs(tmp_path: Path) -> None:
    outcomes = [check_one_input(data, str(tmp_path)) for data in SEED_CORPUS]
    assert len(SEED_CORPUS) >= 30
    assert outcomes.count(None) >= 10
    assert len(outcomes) - outcomes.count(None) >= 10


def test_qemu_suite_files(qemu_source: Path, tmp_path: Path) -> None:
    files = sorted((qemu_source / "tests" / "qapi-schema").glob("*.json"))
    assert len(files) > 190
    valid = 0
    for path in files:
        # Alone in a directory: includes of neighbours fail, which is just another error.
        valid += check_one_input(path.read_bytes(), str(tmp_path)) is None
    assert valid >= 5


def test_qemu_schema_file(qemu_source: Path, tmp_path: Path) -> None:
    # QEMU's top file is only includes: alone, it stops at the first one.
    data = (qemu_source / "qapi" / "qapi-schema.json").read_bytes()
    outcome = check_one_input(data, str(tmp_path))
    assert outcome is not None
    assert "can't read include file" in outcome


def test_known_crash_is_caught(tmp_path: Path) -> None:
    check_one_input(
        b"##\n# @Foo:\n#\n# @a\tb: text\n##\n{ 'enum': 'Foo', 'data': [] }\n", str(tmp_path)
    )


def test_script_runs_without_atheris(tmp_path: Path) -> None:
    # With files named, the script runs each once (how a crash found by atheris is replayed).
    # '-S' keeps site-packages out, so this takes the no-atheris path even where it is installed.
    (tmp_path / "input").write_bytes(b"{ 'enum': 'Colour', 'data': [] }\n")
    (tmp_path / "bad").write_bytes(b"{ 'enum' }\n")
    result = subprocess.run(
        [sys.executable, "-S", str(FUZZ_SCRIPT), str(tmp_path / "input"), str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{tmp_path / 'input'}: valid"
    assert lines[1].startswith(f"{tmp_path / 'bad'}: ")
    assert "expected ':'" in lines[1]
