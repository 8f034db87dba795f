"""The protocol fuzz target (tests/fuzz/fuzz_qmp_framing.py), run over its seed corpus and
over the side-by-side cases, without atheris: the harness works and no input crashes it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from test_protocol_vs_qemu import CASES

FUZZ_SCRIPT = Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_qmp_framing.py"


def _load_target() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_qmp_framing", FUZZ_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TARGET = _load_target()


@pytest.mark.parametrize("data", TARGET.SEED_CORPUS, ids=range(len(TARGET.SEED_CORPUS)))
def test_seed(data: bytes) -> None:
    TARGET.check_one_input(data)


def test_side_by_side_cases() -> None:
    for _, chunks in CASES:
        TARGET.check_one_input(b"".join(chunks))


def test_script_runs_without_atheris(tmp_path: Path) -> None:
    (tmp_path / "input").write_bytes(b'{"execute": "qmp_capabilities"}{"a": 1, "a": 2}')
    result = subprocess.run(
        [sys.executable, str(FUZZ_SCRIPT), str(tmp_path / "input")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{tmp_path / 'input'}: 2 items"]
