"""Fixtures of the interop tests: a QMP server to run against, real QEMU 7.2 or `pyqmp
machine`, started with its monitors on unix sockets in a private directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from qmp_targets import Target, TargetProcess, make_target, monitors


@pytest.fixture(params=["qemu", "pyqmp"])
def server_target(request: pytest.FixtureRequest) -> Target:
    """Each of the two servers in turn."""
    if request.param == "qemu":
        return make_target("qemu", str(request.getfixturevalue("qemu_binary")))
    return make_target("pyqmp")


@pytest.fixture
def running(server_target: Target) -> Iterator[TargetProcess]:
    """The server of ``server_target``, running with one monitor."""
    yield from monitors(server_target, 1)


@pytest.fixture
def running3(server_target: Target) -> Iterator[TargetProcess]:
    """The server of ``server_target``, running with three monitors."""
    yield from monitors(server_target, 3)
