"""The ``--watch DIR`` directory: which unix sockets are in it now, and what changed.

Every unix socket in the directory is a VM named after the file's stem (``100.qmp`` is VM
``100``, as ``/var/run/qemu-server/*.qmp`` on a Proxmox host).  The directory is scanned
(one ``scandir`` a second by default: cheap, and it works on every file system, unlike
change notification); a scan returns what appeared, what vanished and what was replaced
(the same name, a new socket file: a restarted VM).  Memory is bounded by the number of
sockets kept (:data:`MAX_SOCKETS`); entries past it, names that are not UTF-8 text, and a
second socket with a stem already taken (or a name ``--qmp`` gave) are skipped and
counted, never guessed at.
"""

from __future__ import annotations

import os
import stat
from pathlib import PurePath
from typing import Final, NamedTuple

from .errors import SubjectError
from .subjects import escape_token

#: Sockets one watcher keeps at most.
MAX_SOCKETS: Final = 4096


class SocketFile(NamedTuple):
    """A socket file, identified so that a replaced one is told apart (a new socket can
    get the inode number of the one it replaces, but not its change time)."""

    path: str
    device: int
    inode: int
    changed: int  # st_ctime_ns


class Changes(NamedTuple):
    added: dict[str, SocketFile]
    removed: dict[str, SocketFile]


class DirectoryWatcher:
    """Scans one directory; :meth:`scan` returns the changes since the last scan."""

    def __init__(
        self, directory: str, reserved: frozenset[str] = frozenset(), max_sockets: int = MAX_SOCKETS
    ) -> None:
        self.directory = directory
        self.reserved = reserved  # names taken elsewhere (--qmp): their sockets are skipped
        self.max_sockets = max_sockets
        self.sockets: dict[str, SocketFile] = {}
        #: Sockets skipped in the last scan (over the bound, bad names, taken stems).
        self.skipped = 0
        #: Why the last scan failed (the directory is missing, say), or None.
        self.error: str | None = None

    def scan(self) -> Changes:
        found, self.skipped, self.error = self._list()
        if self.error is not None:
            found = {}  # an unreadable directory has no VMs we can reach
        added = {}
        removed = {}
        for name, entry in self.sockets.items():
            if found.get(name) != entry:
                removed[name] = entry
        for name, entry in found.items():
            if self.sockets.get(name) != entry:
                added[name] = entry
        self.sockets = found
        return Changes(added, removed)

    def _list(self) -> tuple[dict[str, SocketFile], int, str | None]:
        candidates: list[tuple[str, SocketFile]] = []
        skipped = 0
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # vanished between listing and stat
                    if not stat.S_ISSOCK(info.st_mode):
                        continue
                    if len(candidates) >= 2 * self.max_sockets:
                        skipped += 1
                        continue
                    candidates.append(
                        (
                            entry.name,
                            SocketFile(entry.path, info.st_dev, info.st_ino, info.st_ctime_ns),
                        )
                    )
        except OSError as error:
            return {}, 0, f"cannot read {self.directory}: {error.strerror or error}"
        # In name order, so that which of two sockets with one stem wins never flaps.
        candidates.sort()
        found: dict[str, SocketFile] = {}
        for file_name, socket_file in candidates:
            name = PurePath(file_name).stem
            if (
                len(found) >= self.max_sockets
                or name in found
                or name in self.reserved
                or not _usable(name)
            ):
                skipped += 1
                continue
            found[name] = socket_file
        return found, skipped, None


def _usable(name: str) -> bool:
    if not name or not name.isprintable():
        return False
    try:
        escape_token(name)
    except SubjectError:
        return False
    return True
