"""What every fuzz target here shares: run under atheris when it is installed (with
the package under test instrumented); without it, run each input of a corpus once or, given
a budget (``-max_total_time=SECONDS``, libFuzzer's option), explore with hypothesis for
that long.  Corpus arguments may be files or directories, as for libFuzzer."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
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
    options = [arg for arg in argv[1:] if arg.startswith("-")]
    paths = [Path(arg) for arg in argv[1:] if not arg.startswith("-")]
    files = [p for path in paths for p in (sorted(path.iterdir()) if path.is_dir() else [path])]
    corpus = [path.read_bytes() for path in files] if paths else list(seed_corpus)
    seconds = next(
        (float(o.partition("=")[2]) for o in options if o.startswith("-max_total_time=")), None
    )
    if seconds is not None:  # a fuzzing budget, and no atheris: hypothesis explores instead
        print(f"atheris is not installed: hypothesis for {seconds:g} s", file=sys.stderr)
        return _hypothesis_fuzz(check_one_input, seconds, [*corpus, *seed_corpus])
    print("atheris is not installed: running each input once", file=sys.stderr)
    for number, data in enumerate(corpus):
        outcome = check_one_input(data)
        print(f"{files[number] if paths else number}: {describe(outcome)}".splitlines()[0])
    return 0


def _hypothesis_fuzz(
    check_one_input: Callable[[bytes], object], seconds: float, corpus: Sequence[bytes]
) -> int:
    """Run every corpus input, then random and mutated ones for ``seconds``; a failing input
    is printed (as Python bytes) and makes the run fail."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    for data in corpus:
        check_one_input(data)
    seeds = st.sampled_from(list(corpus) or [b""])
    inputs = st.one_of(
        st.binary(max_size=4096),
        st.tuples(seeds, st.binary(max_size=64), st.integers(0, 4096)).map(
            lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
        ),
    )

    @settings(
        max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(inputs)
    def explore(data: bytes) -> None:
        check_one_input(data)

    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        explore()
        rounds += 1
    print(f"hypothesis: {rounds * 200} inputs, no failure", file=sys.stderr)
    return 0
