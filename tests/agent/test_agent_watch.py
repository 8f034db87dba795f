"""The watched directory: unix sockets come, go and are replaced; nothing else counts."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pyqmp.agent.watch import DirectoryWatcher


def make_socket(path: Path) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    return listener


def test_sockets_appear_vanish_and_are_replaced(tmp_path: Path) -> None:
    watcher = DirectoryWatcher(str(tmp_path))
    assert watcher.scan() == ({}, {})
    first = make_socket(tmp_path / "100.qmp")
    (tmp_path / "notes.txt").write_text("not a socket")
    os.mkdir(tmp_path / "sub.qmp")
    os.symlink(tmp_path / "100.qmp", tmp_path / "link.qmp")  # a link is not a socket file
    added, removed = watcher.scan()
    assert list(added) == ["100"] and not removed
    assert added["100"].path == str(tmp_path / "100.qmp")
    assert watcher.scan() == ({}, {})  # nothing changed
    # replaced: a restarted VM binds a new socket at the same path
    first.close()
    os.unlink(tmp_path / "100.qmp")
    second = make_socket(tmp_path / "100.qmp")
    added, removed = watcher.scan()
    assert list(added) == ["100"] and list(removed) == ["100"]
    second.close()
    os.unlink(tmp_path / "100.qmp")
    assert watcher.scan().removed.keys() == {"100"}
    assert watcher.sockets == {}


def test_bounds_taken_names_and_reserved_names(tmp_path: Path) -> None:
    sockets = [
        make_socket(tmp_path / name)
        for name in ("a.qmp", "a.sock", "b.qmp", "c.qmp", "d.qmp", "static.qmp", "dot..qmp")
    ]
    try:
        watcher = DirectoryWatcher(str(tmp_path), reserved=frozenset({"static"}), max_sockets=4)
        added, _ = watcher.scan()
        # name order decides: a.qmp wins over a.sock, and the first four names are kept
        assert sorted(added) == ["a", "b", "c", "d"]
        assert watcher.skipped == 3  # a.sock (taken), dot. (over 4), static (reserved)
        # past twice the bound, sockets are not even considered (which ones: any)
        small = DirectoryWatcher(str(tmp_path), max_sockets=2)
        added, _ = small.scan()
        assert len(added) == 2 and small.skipped == 5
    finally:
        for sock in sockets:
            sock.close()


def test_a_missing_directory_is_an_error_with_no_vms(tmp_path: Path) -> None:
    directory = tmp_path / "vms"
    directory.mkdir()
    listener = make_socket(directory / "vm.qmp")
    try:
        watcher = DirectoryWatcher(str(directory))
        assert list(watcher.scan().added) == ["vm"]
        listener.close()
        os.unlink(directory / "vm.qmp")
        os.rmdir(directory)
        assert list(watcher.scan().removed) == ["vm"]
        assert watcher.error is not None and "cannot read" in watcher.error
    finally:
        listener.close()
