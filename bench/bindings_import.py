"""How long a program waits to import the typed bindings of QEMU's whole schema.

Generates the bindings from the fetched QEMU source (``pyqmp schema gen python``) into a
temporary directory, then imports them ``--rounds`` times, each in a fresh interpreter, and
prints the median and worst wall time of ``import NAME`` twice: on its own (what a program
that already uses ``pyqmp.client`` adds) and with the pyqmp runtime it pulls in (a cold
start).  Issue 7's goal: under 0.5 s.  Nothing is kept: the generated code is not committed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "qemu_api"
PROBE = """
import time
{before}
start = time.perf_counter()
import {package}
print(time.perf_counter() - start)
"""


def import_seconds(python: str, directory: str, before: str) -> float:
    probe = PROBE.format(before=before, package=PACKAGE)
    done = subprocess.run(
        [python, "-c", probe], cwd=directory, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise SystemExit(f"bindings_import: importing {PACKAGE} failed:\n{done.stderr}")
    return float(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qemu-src", type=Path, default=Path("/var/cache/pyqmp/qemu-src"))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--python", default=sys.executable)
    options = parser.parse_args(argv)
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")
    schema = options.qemu_src / "qapi" / "qapi-schema.json"
    if not schema.is_file():
        parser.error(f"no QEMU schema at {schema} (--qemu-src)")
    with tempfile.TemporaryDirectory(prefix="pyqmp-import-") as directory:
        generated = subprocess.run(
            [options.python, "-m", "pyqmp", "schema", "gen", "python", str(schema),
             "-o", directory, "--package", PACKAGE],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if generated.returncode != 0:
            raise SystemExit(f"bindings_import: generating failed:\n{generated.stderr}")
        for label, before in (
            ("after pyqmp.client", "import pyqmp.client"),
            ("cold (with pyqmp)", ""),
        ):
            times = [
                import_seconds(options.python, directory, before) for _ in range(options.rounds)
            ]
            print(
                f"import {PACKAGE} {label:<20} median {statistics.median(times):.3f} s"
                f"   worst {max(times):.3f} s   ({options.rounds} fresh processes)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
