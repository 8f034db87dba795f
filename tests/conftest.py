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
