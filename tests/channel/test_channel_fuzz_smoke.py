"""The channel fuzz target (tests/fuzz/fuzz_balloon_channel.py), run over its seed corpus
and some random inputs without atheris: the harness works and no input crashes it.
"""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

FUZZ_SCRIPT = Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_balloon_channel.py"


def _load_target() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_balloon_channel", FUZZ_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TARGET = _load_target()


@pytest.mark.parametrize("data", TARGET.SEED_CORPUS, ids=range(len(TARGET.SEED_CORPUS)))
def test_seed(data: bytes) -> None:
    TARGET.check_one_input(data)


def test_seed_corpus_decodes_frames() -> None:
    counts = [TARGET.check_one_input(data) for data in TARGET.SEED_CORPUS]
    assert counts[1] == 2  # READY, ACTUAL
    assert sum(counts) >= 100


def test_random_inputs() -> None:
    generator = random.Random(20100823)
    for _ in range(200):
        size = generator.choice([1, 8, 20, 300, 3000])
        data = bytes(generator.choice(b"\x0c\xb1\x00\x08\x11\x12\xff") for _ in range(size))
        TARGET.check_one_input(data)


def test_script_runs_without_atheris(tmp_path: Path) -> None:
    frame = b"\x0c\xb1\x11\x00\x08\x00\x00\x00" + bytes(8)
    (tmp_path / "input").write_bytes(b"junk" + frame + frame)
    # '-S' keeps site-packages out, so this takes the no-atheris path even where it is
    # installed; the script then finds pyqmp in the checkout's src/.
    result = subprocess.run(
        [sys.executable, "-S", str(FUZZ_SCRIPT), str(tmp_path / "input")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{tmp_path / 'input'}: 2 frames"]
