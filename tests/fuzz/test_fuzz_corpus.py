"""Every fuzz target's corpus in the repository (tests/fuzz/corpus/TARGET/), replayed: the
seeds and every input a fuzzer found a crash with stay harmless for ever.  And the crashes
found so far, each as a test that says what was wrong.

``tools/fuzz.sh`` runs the targets for a budget (in .ci/run, and longer as a soak).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
TARGETS = sorted(path.name for path in CORPUS.iterdir() if path.is_dir())
sys.path.insert(0, str(HERE.parent / "protocol"))  # the framing target's lexer oracle


def target(name: str) -> ModuleType:
    return importlib.import_module(f"fuzz_{name}")


def check(name: str, data: bytes, tmp_path: Path) -> object:
    module = target(name)
    if name == "schema_reader":
        return module.check_one_input(data, str(tmp_path))
    return module.check_one_input(data)


def test_every_target_has_a_corpus_and_a_script() -> None:
    scripts = sorted(path.name[len("fuzz_") : -3] for path in HERE.glob("fuzz_*.py"))
    scripts.remove("runner")
    assert scripts == TARGETS
    fuzz_sh = (HERE.parents[1] / "tools" / "fuzz.sh").read_text()
    for name in TARGETS:
        assert name in fuzz_sh, f"tools/fuzz.sh does not run {name}"


@pytest.mark.parametrize("name", TARGETS)
def test_the_seeds_are_in_the_corpus(name: str) -> None:
    kept = {path.read_bytes() for path in (CORPUS / name).iterdir()}
    missing = [data for data in target(name).SEED_CORPUS if data not in kept]
    assert not missing, f"seeds of fuzz_{name}.py not in corpus/{name}/: {missing[:3]}"


@pytest.mark.parametrize(
    ("name", "file"),
    [(name, path.name) for name in TARGETS for path in sorted((CORPUS / name).iterdir())],
)
def test_corpus_input(name: str, file: str, tmp_path: Path) -> None:
    check(name, (CORPUS / name / file).read_bytes(), tmp_path)


# -- crashes found by fuzzing, as regressions ---------------------------------------------


def test_unicode_digits_in_a_uid_are_refused_by_name() -> None:
    # str.isdigit() takes '²', which int() refuses: a ValueError escaped the parser, and the
    # machine printed int()'s message instead of naming the option.
    outcome = check("monitor_options", "\x00unix:q.sock,uid=1000:²".encode(), Path())
    assert outcome == (
        "refused: invalid monitor 'unix:q.sock,uid=1000:²': uid expects numbers or names "
        "separated by ':', and '²' is neither"
    )


def test_unicode_digits_in_a_port_or_size_are_refused() -> None:
    port = check("monitor_options", "\x00tcp:127.0.0.1:²".encode(), Path())
    assert isinstance(port, str) and "expected unix:PATH or tcp:HOST:PORT" in port
    arabic = check("monitor_options", "\x00tcp:127.0.0.1:\u0664\u0664".encode(), Path())
    assert isinstance(arabic, str) and arabic.startswith("refused: ")  # was port 44
    size = check("monitor_options", "\x03\u0661G".encode(), Path())
    assert size == "refused: invalid RAM size '\u0661G': expected e.g. 512, 512M or 1G"


def test_nowait_with_a_value_is_a_boolean() -> None:
    refused = check("monitor_options", b"\x00unix:q.sock,nowait=1", Path())
    assert refused == (
        "refused: invalid monitor 'unix:q.sock,nowait=1': nowait expects on or off, not '1'"
    )
    assert check("monitor_options", b"\x00unix:q.sock,nowait=on", Path()) == "unix:q.sock"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # QEMU checks a sized integer as a 64-bit one first ("expected: integer" for the
        # signed ones, "expects uint64" for the unsigned), then against the C type, naming
        # the member alone; pyqmp said "expects int32" for a string or a fraction.
        (b'\x0a{"n": 1.5}', "Invalid parameter type for 'n', expected: integer"),
        (b'\x0a{"n": "1"}', "Invalid parameter type for 'n', expected: integer"),
        (b'\x0a{"n": 128}', "Parameter 'n' expects int8_t"),
        (b'\x0a{"n": 1, "big": -1}', "Parameter 'big' expects uint32_t"),
        (b'\x0a{"n": 1, "big": true}', "Parameter 'big' expects uint64"),
        (b'\x0a{"n": 1, "small": -32769}', "Parameter 'small' expects int16_t"),
        (
            b'\x08{"shape": {"name": "s", "points": [{"x": 2147483648, "y": 0}]}}',
            "Parameter 'x' expects int32_t",
        ),
        (
            b'\x08{"shape": {"name": "s", "points": [{"x": "far", "y": 0}]}}',
            "Invalid parameter type for 'shape.points[0].x', expected: integer",
        ),
        (
            b'\x08{"shape": {"name": "s", "points": [], "depth": 256}}',
            "Parameter 'depth' expects uint8_t",
        ),
        (
            b'\x08{"shape": {"name": "s", "points": [], "size": 0.5}}',
            "Parameter 'shape.size' expects uint64",
        ),
        (b'\x09{"colours": [], "alpha": 18446744073709551616}', "Parameter 'alpha' expects uint64"),
        (b'\x09{"colours": [], "alpha": -1}', "decoded q_obj_paint-arg"),  # QEMU takes it
    ],
)
def test_sized_integer_messages_are_qemus(data: bytes, message: str) -> None:
    assert check("command_arguments", data, Path()) == message
