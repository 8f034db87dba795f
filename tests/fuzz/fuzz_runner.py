"""What every fuzz target here shares: run under atheris when it is installed (with
the package under test instrumented), else run each input of a corpus once."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def run_fuzz_target(
    argv: list[str],
    check_one_input: Callable[[bytes], object],
    package: str,
    seed_corpus: Sequence[bytes],
    describe: Callable[[object], str] = str,
) -> int:
    """Fuzz ``check_one_input`` (atheris), or run it on the files named in ``argv`` or
    on ``seed_corpus``; ``describe`` turns a result into the line printed for it."""
    try:
        import atheris
    except ImportError:
        atheris = None
    if os.environ.get("PYQMP_NO_ATHERIS"):  # replay inputs plainly even where it is installed
        atheris = None
    if atheris is not None:
        with atheris.instrument_imports(include=["pyqmp"]):
            top = importlib.import_module(package)
            for module in pkgutil.iter_modules(top.__path__, package + "."):
                importlib.import_module(module.name)
        atheris.Setup(argv, check_one_input)
        atheris.Fuzz()
        return 0
    inputs = argv[1:]
    corpus = [Path(name).read_bytes() for name in inputs] if inputs else list(seed_corpus)
    print("atheris is not installed: running each input once", file=sys.stderr)
    for number, data in enumerate(corpus):
        outcome = check_one_input(data)
        print(f"{inputs[number] if inputs else number}: {describe(outcome)}".splitlines()[0])
    return 0
