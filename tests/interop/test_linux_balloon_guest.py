"""The balloon script (balloon_script.py) on QEMU 7.2 with a real Linux guest running
virtio_balloon, as docs/anchors/real-linux-balloon-guest.md describes it — and, by the same script,
on any other balloon target, with the transcripts compared.

Targets are named: "qemu-linux" is qemu-system-x86_64 (TCG, 512 MiB, virtio-balloon-pci id
balloon0) booting the Debian kernel + busybox initramfs built by linux_guest.py into
$PYQMP_CACHE/linux-guest (the first build downloads ~72 MB); "pyqmp" is
`pyqmp machine -m 512M --balloon id=balloon0 --qmp unix:SOCK` with its guest running.  Adding
"pyqmp" to BALLOON_TARGETS runs the script's checks on the reference machine too; adding it to
COMPARED_TARGETS compares its transcript with QEMU's.  With only "qemu-linux" in
COMPARED_TARGETS, QEMU is compared with a second run of itself, which checks that the comparison
is stable (nothing compared depends on timing or on what the guest happens to report).

A guest that cannot be built or booted fails the tests with the reason; it never skips them.
Once the guest is built the module boots QEMU twice (~5-15 s each) and takes well under 90 s.
"""

from __future__ import annotations

import copy
import gzip
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from balloon_script import (
    BalloonScriptError,
    Transcript,
    check_balloon_transcript,
    compare_balloon_transcripts,
    run_balloon_script,
    summary,
)
from linux_guest import (
    GuestBootError,
    GuestBuildError,
    LinuxGuest,
    boot_linux_guest,
    build_linux_guest,
    cache_dir,
)
from qmp_targets import BALLOON_ID, MachineOptions, PyqmpTarget, TargetError

pytestmark = pytest.mark.timeout(240)

RAM_MIB = 512
RAM_BYTES = RAM_MIB << 20
HALF_BYTES = RAM_BYTES // 2
REFERENCE = "qemu-linux"
BALLOON_TARGETS = ["qemu-linux", "pyqmp"]
COMPARED_TARGETS = ["qemu-linux", "pyqmp"]


# ---------------------------------------------------------------------------------------------
# Targets


@dataclass
class RunningPyqmpMachine(PyqmpTarget):
    """`pyqmp machine` with RAM_MIB of RAM and its guest running (no -S), like the Linux guest."""

    ram: str = f"{RAM_MIB}M"

    def argv(self, sockets: Any, options: MachineOptions) -> list[str]:
        argv = [
            self.python,
            "-m",
            "pyqmp",
            "machine",
            "-m",
            self.ram,
            "--balloon",
            f"id={BALLOON_ID}",
        ]
        for path in sockets:
            argv += ["--qmp", f"unix:{path}"]
        return argv


@pytest.fixture(scope="session")
def built_linux_guest() -> LinuxGuest:
    started = time.monotonic()
    try:
        guest = build_linux_guest()
    except GuestBuildError as error:
        pytest.fail(
            f"cannot build the Linux balloon guest in {cache_dir()}: {error}", pytrace=False
        )
    print(
        f"linux guest: {guest.kernel} + {guest.initrd} "
        f"(ready in {time.monotonic() - started:.1f} s)"
    )
    return guest


@contextmanager
def started_target(name: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """Start balloon target `name` with a running guest; yield its QMP socket path."""
    with tempfile.TemporaryDirectory(prefix="pyqmp-lbg-") as directory:
        if name == "qemu-linux":
            guest = request.getfixturevalue("built_linux_guest")
            qemu_binary = str(request.getfixturevalue("qemu_binary"))
            try:
                with boot_linux_guest(
                    guest, directory, ram_mib=RAM_MIB, qemu_binary=qemu_binary
                ) as running:
                    print(f"{name}: guest ready {running.boot_seconds:.1f} s after launch")
                    yield running.qmp_socket
            except GuestBootError as error:
                pytest.fail(f"{name}: {error}", pytrace=False)
        elif name == "pyqmp":
            socket_path = os.path.join(directory, "qmp.sock")
            try:
                with RunningPyqmpMachine().start([socket_path]):
                    yield socket_path
            except TargetError as error:
                pytest.fail(f"{name}: {error}", pytrace=False)
        else:
            raise ValueError(f"unknown balloon target {name!r}")


def play(name: str, request: pytest.FixtureRequest) -> Transcript:
    """Start target `name`, run the balloon script on it, stop it; the transcript."""
    started = time.monotonic()
    with started_target(name, request) as socket_path:
        try:
            transcript = run_balloon_script(socket_path, RAM_BYTES)
        except BalloonScriptError as error:
            pytest.fail(f"{name}: {error}\n{summary(error.transcript)}", pytrace=False)
    print(
        f"{name}: script + boot took {time.monotonic() - started:.1f} s "
        f"(script {transcript['elapsed']} s)\n{summary(transcript)}"
    )
    return transcript


class Transcripts:
    """One run per target and test worker, shared by the tests that only read it."""

    def __init__(self, request: pytest.FixtureRequest):
        self._request = request
        self._cache: dict[str, Transcript] = {}

    def of(self, name: str) -> Transcript:
        if name not in self._cache:
            self._cache[name] = play(name, self._request)
        return self._cache[name]

    def fresh(self, name: str) -> Transcript:
        return play(name, self._request)


@pytest.fixture(scope="module")
def transcripts(request: pytest.FixtureRequest) -> Transcripts:
    return Transcripts(request)


# ---------------------------------------------------------------------------------------------
# The guest


def test_guest_is_built_once_as_the_anchor_says(built_linux_guest: LinuxGuest) -> None:
    guest = built_linux_guest
    assert guest.directory == cache_dir()
    assert guest.manifest["kernel_package"].startswith("linux-image-6")
    assert guest.kernel.name.startswith("vmlinuz-6")
    assert guest.manifest["modules"][-1] == "virtio_balloon"
    archive = gzip.decompress(guest.initrd.read_bytes())
    for member in (b"init", b"bin/busybox", b"lib/modules/virtio_balloon.ko"):
        assert member + b"\x00" in archive, f"{member!r} missing from {guest.initrd}"
    assert b'echo "GUEST: ready"' in archive
    started = time.monotonic()
    again = build_linux_guest()  # idempotent: found, not rebuilt
    assert again.manifest == guest.manifest
    assert time.monotonic() - started < 1.0


# ---------------------------------------------------------------------------------------------
# The script, on each target


@pytest.mark.parametrize("name", BALLOON_TARGETS)
def test_balloon_script(name: str, transcripts: Transcripts) -> None:
    t = transcripts.of(name)
    assert check_balloon_transcript(t) == []

    # What the anchor measured, spelled out.
    first = t["stats_first"]
    assert first["last_update_is_host_time"], first
    stats = first["reply"]["stats"]
    for key in ("stat-total-memory", "stat-free-memory", "stat-available-memory"):
        assert 0 < stats[key] < RAM_BYTES, (key, stats)  # real, not 2**64 - 1
    assert stats["stat-free-memory"] <= stats["stat-total-memory"]

    down = [event["actual"] for event in t["down"]["events"]]
    up = [event["actual"] for event in t["up"]["events"]]
    assert down[-1] == HALF_BYTES and up[-1] == RAM_BYTES
    # The guest moves `actual` in steps: the first change goes out at once, the rest are held
    # back by the throttle (one per second), so the target shows up about 1 s later.
    assert len(down) >= 2, t["down"]
    assert t["down"]["events"][0]["received"] < 1.0, "the first event is not throttled"
    assert t["down"]["events"][-1]["received"] >= 0.9, "the last one is"
    # Throttled across both `balloon` commands: when the second comes within a second of the
    # first one's last event (a fresh stats update can arrive that soon), its first event is
    # held back as well, and only the final value may be left to report.
    assert all(gap >= 0.9 for gap in t["balloon_change_gaps"]), t["balloon_changes"]
    assert t["up"]["events"][0]["received"] < 1.5, t["up"]

    assert t["info_balloon"] == "balloon: actual=256\r\n"
    half = t["stats_half"]["reply"]["stats"]
    assert half["stat-total-memory"] <= stats["stat-total-memory"] - (RAM_BYTES - HALF_BYTES)
    assert t["final_actual"] == RAM_BYTES
    assert t["quit"]["events"] == [
        {"event": "SHUTDOWN", "data": {"guest": False, "reason": "host-qmp-quit"}}
    ]


# ---------------------------------------------------------------------------------------------
# Comparing targets


@pytest.mark.parametrize("name", COMPARED_TARGETS)
def test_balloon_transcripts_agree(name: str, transcripts: Transcripts) -> None:
    reference = transcripts.of(REFERENCE)
    other = transcripts.fresh(name) if name == REFERENCE else transcripts.of(name)
    problems = compare_balloon_transcripts(reference, other)
    assert problems == [], "\n".join(problems)


def test_comparison_catches_differences(transcripts: Transcripts) -> None:
    """The comparison is not vacuous: each way a target could differ is reported."""
    reference = transcripts.of(REFERENCE)
    assert compare_balloon_transcripts(reference, reference) == []

    def changed(edit: Any) -> list[str]:
        other = copy.deepcopy(reference)
        edit(other)
        return compare_balloon_transcripts(reference, other)

    def drop_stat(t: Transcript) -> None:
        t["stats_first"]["keys"].remove("stat-disk-caches")
        del t["stats_first"]["reply"]["stats"]["stat-disk-caches"]

    def guest_clock(t: Transcript) -> None:
        t["stats_first"]["last_update_is_host_time"] = False

    def unthrottled(t: Transcript) -> None:
        t["down"]["received_gaps"] = [0.01 for _ in t["down"]["received_gaps"]]

    def unthrottled_across(t: Transcript) -> None:
        t["balloon_change_gaps"][-1] = 0.2

    def overshoot(t: Transcript) -> None:
        t["up"]["events"].append(dict(t["up"]["events"][-1], actual=RAM_BYTES + (1 << 20)))

    def short_of_target(t: Transcript) -> None:
        t["down"]["events"].pop()
        t["down"]["reached"] = False

    def final(t: Transcript) -> None:
        t["final_actual"] = HALF_BYTES

    def info_format(t: Transcript) -> None:
        t["info_balloon"] = "balloon: actual=256 MB\r\n"

    def reply_shape(t: Transcript) -> None:
        t["steps"][0]["return"] = {"actual": RAM_BYTES, "extra": 1}

    def event_shape(t: Transcript) -> None:
        t["up"]["events"][0]["shape"] = {"event": "<str>", "data": {"actual": "<str>"}}

    for edit in (
        drop_stat,
        guest_clock,
        unthrottled,
        unthrottled_across,
        overshoot,
        short_of_target,
        final,
        info_format,
        reply_shape,
        event_shape,
    ):
        assert changed(edit), f"{edit.__name__} went unnoticed"
