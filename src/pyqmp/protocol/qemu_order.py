"""The orders in which QEMU walks the members of a JSON object.

When a request has several faults, QEMU reports the first one it meets, and it meets
them in the iteration order of its containers, not in the order the client wrote
them.  Two containers matter: ``QDict`` (``qobject/qdict.c``: 512 buckets chosen by
``tdb_hash``, each bucket a list with the newest entry first), which holds every parsed
JSON object; and GLib's ``GHashTable`` (open addressing with quadratic probing, an
in-place resize), which the QAPI input visitor fills from a ``QDict`` to find members
nobody asked for.  This module computes both orders from the members' insertion order,
so that the engine names the same member QEMU names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

_MASK32 = 0xFFFFFFFF
_QDICT_BUCKETS = 512
_GHASH_MIN_SHIFT = 3
# First prime below each power of two, indexed by the power (GLib's table sizes).
_PRIME_MOD = (
    1,
    2,
    3,
    7,
    13,
    31,
    61,
    127,
    251,
    509,
    1021,
    2039,
    4093,
    8191,
    16381,
    32749,
    65521,
    131071,
    262139,
    524287,
    1048573,
    2097143,
    4194301,
    8388593,
    16777213,
    33554393,
    67108859,
    134217689,
    268435399,
    536870909,
    1073741789,
    2147483647,
)


def modified_utf8(text: str) -> bytes:
    """``text`` as QEMU stores it: UTF-8, except U+0000 is ``C0 80``."""
    return text.encode("utf-8", "surrogatepass").replace(b"\x00", b"\xc0\x80")


def tdb_hash(key: bytes) -> int:
    """QDict's hash of a key (the gdbm/tdb hash of ``qobject/qdict.c``)."""
    value = (0x238F13AF * len(key)) & _MASK32
    for index, byte in enumerate(key):
        value = (value + (byte << (index * 5 % 24))) & _MASK32
    return (1103515243 * value + 12345) & _MASK32


def qdict_order(keys: Iterable[str]) -> list[str]:
    """``keys`` (in insertion order) in the order ``qdict_first``/``qdict_next`` visit them:
    by bucket, and within a bucket the most recently inserted first."""
    ranked = [
        (tdb_hash(modified_utf8(key)) % _QDICT_BUCKETS, -position, key)
        for position, key in enumerate(keys)
    ]
    ranked.sort()
    return [key for _, _, key in ranked]


def g_str_hash(key: bytes) -> int:
    """GLib's ``g_str_hash`` (djb2 over *signed* chars)."""
    value = 5381
    for byte in key:
        value = (value * 33 + (byte - 256 if byte >= 0x80 else byte)) & _MASK32
    return value


class _GHashTable:
    """Just enough of GLib 2.74's ``GHashTable`` to know where each key lands."""

    def __init__(self) -> None:
        self._set_shift(_GHASH_MIN_SHIFT)
        self.hashes = [0] * self.size
        self.keys: list[bytes | None] = [None] * self.size
        self.nnodes = 0
        self.noccupied = 0

    def _set_shift(self, shift: int) -> None:
        self.size = 1 << shift
        self.mod = _PRIME_MOD[shift]
        self.mask = self.size - 1

    def _index(self, key_hash: int) -> int:
        return ((key_hash * 11) & _MASK32) % self.mod

    def _lookup(self, key: bytes, key_hash: int) -> int:
        index = self._index(key_hash)
        step = 0
        tombstone = -1
        while self.hashes[index] != 0:
            if self.hashes[index] == key_hash and self.keys[index] == key:
                return index
            if self.hashes[index] == 1 and tombstone < 0:
                tombstone = index
            step += 1
            index = (index + step) & self.mask
        return tombstone if tombstone >= 0 else index

    @staticmethod
    def _hash(key: bytes) -> int:
        key_hash = g_str_hash(key)
        return 2 if key_hash <= 1 else key_hash

    def insert(self, key: bytes) -> None:
        key_hash = self._hash(key)
        index = self._lookup(key, key_hash)
        old = self.hashes[index]
        if old >= 2:
            return
        self.hashes[index] = key_hash
        self.keys[index] = key
        self.nnodes += 1
        if old == 0:
            self.noccupied += 1
            self._maybe_resize()

    def remove(self, key: bytes) -> None:
        index = self._lookup(key, self._hash(key))
        if self.hashes[index] >= 2:
            self.hashes[index] = 1
            self.keys[index] = None
            self.nnodes -= 1
            self._maybe_resize()

    def _maybe_resize(self) -> None:
        size = self.size
        if (size > self.nnodes * 4 and size > 1 << _GHASH_MIN_SHIFT) or (
            size <= self.noccupied + self.noccupied // 16
        ):
            self._resize()

    def _resize(self) -> None:
        old_size = self.size
        wanted = int(self.nnodes * 1.333)
        self._set_shift(max(wanted.bit_length(), _GHASH_MIN_SHIFT))
        if self.size > old_size:
            self.hashes.extend([0] * (self.size - old_size))
            self.keys.extend([None] * (self.size - old_size))
        placed = [False] * max(self.size, old_size)
        # GLib relocates in place: walk the old slots, evicting whatever sits where an
        # entry belongs and carrying the evicted entry on until it finds a free slot.
        for slot in range(old_size):
            node_hash = self.hashes[slot]
            if node_hash < 2:
                self.hashes[slot] = 0
                continue
            if placed[slot]:
                continue
            self.hashes[slot] = 0
            key = self.keys[slot]
            self.keys[slot] = None
            while True:
                index = self._index(node_hash)
                step = 0
                while placed[index]:
                    step += 1
                    index = (index + step) & self.mask
                placed[index] = True
                replaced_hash = self.hashes[index]
                replaced_key = self.keys[index]
                self.hashes[index] = node_hash
                self.keys[index] = key
                if replaced_hash < 2:
                    break
                node_hash, key = replaced_hash, replaced_key
        if self.size < old_size:
            del self.hashes[self.size :]
            del self.keys[self.size :]
        self.noccupied = self.nnodes

    def first(self) -> bytes | None:
        for index in range(self.size):
            if self.hashes[index] >= 2:
                return self.keys[index]
        return None


def first_unvisited_member(keys: Sequence[str], visited: Iterable[str]) -> str | None:
    """The member QEMU's input visitor reports as unexpected (``Parameter '%s' is
    unexpected``) for an object with members ``keys`` (insertion order) after the
    members ``visited`` were consumed, or None if every member was visited."""
    table = _GHashTable()
    for key in qdict_order(keys):
        table.insert(modified_utf8(key))
    for key in visited:
        if key in keys:
            table.remove(modified_utf8(key))
    first = table.first()
    if first is None:
        return None
    return first.replace(b"\xc0\x80", b"\x00").decode("utf-8", "surrogatepass")
