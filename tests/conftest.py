"""Fixtures shared by every test: where QEMU's source tree and binary are.

QEMU's source (its QAPI schema, docs and schema test cases) is test data fetched by ./test.sh into
a cache outside the repository. A missing tree is a broken setup, not a reason to skip: the tests
fail and say how to fix it.
"""

import os
import shutil
from pathlib import Path

import pytest

DEFAULT_QEMU_SOURCE = "/var/cache/pyqmp/qemu-src"


@pytest.fixture(scope="session")
def qemu_source() -> Path:
    """QEMU's unpacked source tree (``PYQMP_QEMU_SRC``), as set up by ./test.sh."""
    source = Path(os.environ.get("PYQMP_QEMU_SRC", DEFAULT_QEMU_SOURCE))
    schema = source / "qapi" / "qapi-schema.json"
    if not source.is_dir():
        pytest.fail(
            f"QEMU source tree {source} does not exist (PYQMP_QEMU_SRC); "
            "run the tests with ./test.sh, which fetches it",
            pytrace=False,
        )
    if not schema.is_file():
        pytest.fail(
            f"QEMU source tree {source} has no {schema.relative_to(source)}; "
            "remove it and run ./test.sh to fetch it again",
            pytrace=False,
        )
    return source


@pytest.fixture(scope="session")
def qemu_binary() -> Path:
    """Path of ``qemu-system-x86_64``, installed by ./test.sh."""
    found = shutil.which("qemu-system-x86_64")
    if found is None:
        pytest.fail(
            "qemu-system-x86_64 is not on PATH; run the tests with ./test.sh, which installs it",
            pytrace=False,
        )
    return Path(found)


def generate_bindings(schema: Path, directory: Path, package: str) -> object:
    """Generate ``package`` from ``schema`` with the real command line, then import it."""
    import importlib
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyqmp",
            "schema",
            "gen",
            "python",
            str(schema),
            "-o",
            str(directory),
            "--package",
            package,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    return importlib.import_module(package)


@pytest.fixture(scope="session")
def qemu_bindings_dir(qemu_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``qemu_api``: bindings generated from QEMU's whole schema."""
    directory = tmp_path_factory.mktemp("bindings")
    generate_bindings(qemu_source / "qapi" / "qapi-schema.json", directory, "qemu_api")
    return directory


@pytest.fixture(scope="session")
def qemu_bindings(qemu_bindings_dir: Path) -> object:
    import importlib

    return importlib.import_module("qemu_api")


@pytest.fixture(scope="session")
def older_qemu_bindings(qemu_source: Path, tmp_path_factory: pytest.TempPathFactory) -> object:
    """``qemu_api_older``: bindings from a copy of QEMU's schema as an older QEMU might have
    had it: RunState without 'prelaunch', StatusInfo without 'singlestep'."""
    import shutil

    directory = tmp_path_factory.mktemp("older")
    qapi = directory / "qapi"
    shutil.copytree(qemu_source / "qapi", qapi)
    run_state = qapi / "run-state.json"
    text = run_state.read_text()
    for old, new in (
        ("# @prelaunch: QEMU was started with -S and guest has not started\n", ""),
        ("'postmigrate', 'prelaunch', ", "'postmigrate', "),
        ("# @singlestep: true if VCPUs are in single-step mode\n", ""),
        (
            "'data': {'running': 'bool', 'singlestep': 'bool', 'status': 'RunState'}",
            "'data': {'running': 'bool', 'status': 'RunState'}",
        ),
    ):
        assert old in text, f"QEMU's run-state.json changed: {old!r} not found"
        text = text.replace(old, new, 1)
    run_state.write_text(text)
    return generate_bindings(qapi / "qapi-schema.json", directory / "out", "qemu_api_older")
