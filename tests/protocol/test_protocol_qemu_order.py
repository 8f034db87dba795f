"""QEMU's iteration orders: QDict buckets, and GLib's hash table for unexpected members.

The expected answers are what QEMU 7.2 printed (see test_protocol_vs_qemu.py, which
checks more of them against the running binary).
"""

from __future__ import annotations

from pyqmp.protocol.qemu_order import (
    first_unvisited_member,
    g_str_hash,
    modified_utf8,
    qdict_order,
    tdb_hash,
)


def test_tdb_hash_buckets() -> None:
    assert [tdb_hash(key.encode()) % 512 for key in ("return", "id", "error")] == [401, 486, 489]


def test_qdict_order_of_qemus_own_messages() -> None:
    # As QEMU prints them: {"return": ..., "id": ...}, {"id": ..., "error": ...} and the
    # version triple, inserted major, minor, micro and printed micro, minor, major.
    assert qdict_order(["return", "id"]) == ["return", "id"]
    assert qdict_order(["error", "id"]) == ["id", "error"]
    assert qdict_order(["class", "desc"]) == ["class", "desc"]
    assert qdict_order(["major", "minor", "micro"]) == ["micro", "minor", "major"]
    assert qdict_order(["event", "timestamp", "data"]) == ["timestamp", "event", "data"]
    assert qdict_order(["running", "singlestep", "status"]) == ["status", "singlestep", "running"]


def test_qdict_order_newest_first_within_a_bucket() -> None:
    assert qdict_order(["minor", "micro"]) == ["micro", "minor"]
    assert qdict_order(["micro", "minor"]) == ["minor", "micro"]


def test_qdict_order_decides_which_bad_member_qemu_names() -> None:
    assert qdict_order(["foo", "bar", "execute"])[0] == "bar"
    assert qdict_order(["id", "zzz", "execute"])[0] == "execute"


def test_modified_utf8() -> None:
    assert modified_utf8("a\x00\u00e9") == b"a\xc0\x80\xc3\xa9"


def test_g_str_hash_is_djb2_over_signed_chars() -> None:
    assert g_str_hash(b"") == 5381
    assert g_str_hash(b"a") == 5381 * 33 + 97
    assert g_str_hash(b"\xc3") == (5381 * 33 + 0xC3 - 256) & 0xFFFFFFFF


def test_first_unvisited_member() -> None:
    assert first_unvisited_member(["foo", "bar"], ()) == "bar"
    assert first_unvisited_member(["bar", "foo"], ()) == "bar"
    assert first_unvisited_member(["enable"], ("enable",)) is None
    assert first_unvisited_member(["enable", "foo"], ("enable",)) == "foo"
    assert first_unvisited_member([], ()) is None


def test_first_unvisited_member_survives_resizes() -> None:
    keys = [f"key{number}" for number in range(100)]
    # Past seven members the table grows (in place, GLib's way); the random cases of
    # test_protocol_vs_qemu.py check the answers against QEMU.
    assert first_unvisited_member(keys, ()) in keys
    assert first_unvisited_member([*keys, "enable"], ("enable",)) in keys
