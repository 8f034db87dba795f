"""A real Linux guest running virtio_balloon under QEMU 7.2: build it, boot it.

This follows docs/anchors/real-linux-balloon-guest.md step by step.  The guest is a
Debian kernel and a tiny busybox initramfs whose /init loads the virtio modules (virtio_balloon
last) and prints "GUEST: ready".  Only Debian packages are used, fetched with `apt-get download`
and unpacked with `dpkg-deb -x`: nothing is installed on the host, and nothing lands in the
repository.  The result is cached in `$PYQMP_CACHE/linux-guest` (PYQMP_CACHE defaults to
/var/cache/pyqmp) and reused; the first build downloads ~72 MB.

`build_linux_guest()` builds (or finds) the guest; `boot_linux_guest()` starts
`qemu-system-x86_64 -accel tcg` with it — the anchor's launch line, QMP on a unix socket, the
serial console in a file — and returns once the serial log says "GUEST: ready".  Every external
command and every wait is bounded, processes are only ever stopped by their PID, and failures
raise with the reason (the tests turn them into pytest.fail, never a skip).

Run it by hand:  python tests/interop/linux_guest.py build | boot | run
(`run` also plays balloon_script.py against the booted guest and prints the transcript).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

DEFAULT_CACHE = "/var/cache/pyqmp"
GUEST_SUBDIR = "linux-guest"
DEFAULT_QEMU_BINARY = "qemu-system-x86_64"
BALLOON_ID = "balloon0"
DEFAULT_RAM_MIB = 512

# Load order follows the modules' depends= (checked at build time).
MODULES = (
    "virtio_ring",
    "virtio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_balloon",
)
BUSYBOX_PACKAGE = "busybox-static"
KERNEL_META_PACKAGE = "linux-image-amd64"

APT_TIMEOUT_SECONDS = 600.0  # apt-get update / download (~72 MB)
TOOL_TIMEOUT_SECONDS = 120.0  # dpkg-deb -x, cpio, gzip
LOCK_TIMEOUT_SECONDS = 900.0  # another process building the same cache
BOOT_TIMEOUT_SECONDS = 90.0  # launch → "GUEST: ready" (the anchor measured 13.7 s)
EXIT_TIMEOUT_SECONDS = 10.0

READY_LINE = "GUEST: ready"
MANIFEST = "manifest.json"

# The anchor's /init, verbatim (the module list is MODULES).
INIT_SCRIPT = """\
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in @MODULES@; do
  insmod /lib/modules/$m.ko && echo "GUEST: loaded $m"
done
echo "GUEST: balloon driver: $(ls /sys/bus/virtio/drivers/ 2>&1)"
echo "GUEST: ready"
while true; do
  echo "GUEST: $(grep -E 'MemTotal|MemFree' /proc/meminfo | tr -s ' ' | tr '\\n' ' ')"
  sleep 5
done
""".replace("@MODULES@", " ".join(MODULES))


class GuestBuildError(Exception):
    """The guest could not be built (apt, dpkg-deb, a missing module, ...)."""


class GuestBootError(Exception):
    """QEMU did not start, or the guest did not reach "GUEST: ready" in time."""


Progress = Callable[[str], None]


def say(message: str) -> None:
    """Default progress reporter: stderr, unbuffered (visible under `pytest -s`)."""
    print(f"linux-guest: {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Where the guest is built: `$PYQMP_CACHE/linux-guest`."""
    return Path(os.environ.get("PYQMP_CACHE") or DEFAULT_CACHE) / GUEST_SUBDIR


@dataclass(frozen=True)
class LinuxGuest:
    """A built guest: the kernel and the initramfs to boot, and what they were built from."""

    directory: Path
    kernel: Path
    initrd: Path
    manifest: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Building


def _run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout: float = TOOL_TIMEOUT_SECONDS,
    stdin: bytes | None = None,
) -> str:
    """Run a command, return its stdout; raise GuestBuildError with its stderr on failure."""
    try:
        result = subprocess.run(
            list(argv), cwd=cwd, input=stdin, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise GuestBuildError(f"{' '.join(argv)}: no result after {timeout:.0f} s") from error
    except OSError as error:
        raise GuestBuildError(f"{' '.join(argv)}: {error}") from error
    if result.returncode != 0:
        raise GuestBuildError(
            f"{' '.join(argv)} exited with status {result.returncode}:\n"
            f"{result.stderr.decode(errors='replace')[-3000:]}"
        )
    return result.stdout.decode(errors="replace")


def _as_root(argv: Sequence[str]) -> list[str]:
    if os.geteuid() == 0:
        return list(argv)
    if shutil.which("sudo"):
        return ["sudo", "-n", *argv]
    raise GuestBuildError(f"need root (or sudo) to run: {' '.join(argv)}")


def kernel_package(progress: Progress = say) -> str:
    """The versioned kernel package that linux-image-amd64 depends on (e.g.
    linux-image-6.1.0-56-amd64), running `apt-get update` first if apt knows none."""
    pattern = re.compile(r"Depends:\s+(linux-image-6\S*)")

    def lookup() -> str | None:
        try:
            text = _run(["apt-cache", "depends", KERNEL_META_PACKAGE])
        except GuestBuildError:
            return None
        match = pattern.search(text)
        return match.group(1) if match else None

    package = lookup()
    if package is None:
        progress(f"apt knows no {KERNEL_META_PACKAGE}: running apt-get update")
        _run(_as_root(["apt-get", "update", "-qq"]), timeout=APT_TIMEOUT_SECONDS)
        package = lookup()
    if package is None:
        raise GuestBuildError(
            f"`apt-cache depends {KERNEL_META_PACKAGE}` names no linux-image-6* package, even "
            "after apt-get update: is a Debian 12 archive configured?"
        )
    return package


def module_depends(path: Path) -> list[str]:
    """The `depends=` of a kernel module's .modinfo (what `strings X.ko | grep ^depends=` shows)."""
    match = re.search(rb"(?:^|\x00)depends=([^\x00]*)\x00", path.read_bytes())
    if match is None:
        return []
    return [name for name in match.group(1).decode().split(",") if name]


def _deb_field(deb: Path, field: str) -> str:
    return _run(["dpkg-deb", "-f", str(deb), field]).strip()


def _only(paths: list[Path], what: str) -> Path:
    if len(paths) != 1:
        raise GuestBuildError(f"expected exactly one {what}, found {[str(p) for p in paths]}")
    return paths[0]


def _build_into(work: Path, progress: Progress) -> dict[str, Any]:
    """The anchor's build, in `work` (empty); returns the manifest."""
    started = time.monotonic()
    kpkg = kernel_package(progress)
    progress(f"apt-get download {kpkg} {BUSYBOX_PACKAGE} (~72 MB the first time)")
    try:
        _run(["apt-get", "download", kpkg, BUSYBOX_PACKAGE], cwd=work, timeout=APT_TIMEOUT_SECONDS)
    except GuestBuildError as error:
        # Stale package lists name versions the mirror no longer has: update, try once more.
        progress(f"download failed ({str(error).splitlines()[-1]}); apt-get update and retry")
        _run(_as_root(["apt-get", "update", "-qq"]), timeout=APT_TIMEOUT_SECONDS)
        kpkg = kernel_package(progress)
        for stale in work.glob("*.deb"):
            stale.unlink()
        _run(["apt-get", "download", kpkg, BUSYBOX_PACKAGE], cwd=work, timeout=APT_TIMEOUT_SECONDS)
    kernel_deb = _only(sorted(work.glob(f"{kpkg}_*.deb")), f"{kpkg} .deb")
    busybox_deb = _only(sorted(work.glob(f"{BUSYBOX_PACKAGE}_*.deb")), "busybox-static .deb")
    downloaded = time.monotonic()
    progress(
        f"downloaded {(kernel_deb.stat().st_size + busybox_deb.stat().st_size) >> 20} MB "
        f"in {downloaded - started:.1f} s; unpacking with dpkg-deb -x"
    )

    k, bb, root = work / "k", work / "bb", work / "root"
    k.mkdir()
    bb.mkdir()
    _run(["dpkg-deb", "-x", str(kernel_deb), str(k)])
    _run(["dpkg-deb", "-x", str(busybox_deb), str(bb)])

    for sub in ("bin", "lib/modules", "proc", "sys", "dev", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    busybox = bb / "bin" / "busybox"
    if not busybox.is_file():
        raise GuestBuildError(f"{busybox_deb.name} has no bin/busybox")
    shutil.copy2(busybox, root / "bin" / "busybox")

    loaded: set[str] = set()
    for name in MODULES:
        found = sorted((k / "lib" / "modules").rglob(f"{name}.ko"))
        if not found:
            compressed = sorted((k / "lib" / "modules").rglob(f"{name}.ko.*"))
            raise GuestBuildError(
                f"{kernel_deb.name} has no {name}.ko"
                + (
                    f" (only compressed {compressed[0].name}, which busybox insmod cannot load)"
                    if compressed
                    else " (built in, or renamed?)"
                )
            )
        module = _only(found, f"{name}.ko")
        missing = [dep for dep in module_depends(module) if dep not in loaded]
        if missing:
            raise GuestBuildError(f"{name}.ko depends on {missing}, not loaded before it")
        shutil.copy2(module, root / "lib" / "modules" / f"{name}.ko")
        loaded.add(name)

    init = root / "init"
    init.write_text(INIT_SCRIPT)
    init.chmod(0o755)

    # The host has no cpio: busybox's applet builds the archive (find . | cpio -o -H newc).
    listing = [".", *sorted(str(path.relative_to(root)) for path in root.rglob("*"))]
    archive = subprocess.run(
        [str(busybox), "cpio", "-o", "-H", "newc"],
        cwd=root,
        input=("\n".join(listing) + "\n").encode(),
        capture_output=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )
    if archive.returncode != 0 or not archive.stdout:
        raise GuestBuildError(
            f"busybox cpio failed ({archive.returncode}): "
            f"{archive.stderr.decode(errors='replace')[-2000:]}"
        )
    gzipped = subprocess.run(
        ["gzip", "-9"],
        input=archive.stdout,
        capture_output=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )
    if gzipped.returncode != 0:
        raise GuestBuildError(f"gzip -9 failed: {gzipped.stderr.decode(errors='replace')}")
    (work / "initrd.gz").write_bytes(gzipped.stdout)

    vmlinuz = _only(sorted((k / "boot").glob("vmlinuz-*")), "k/boot/vmlinuz-*")
    shutil.copy2(vmlinuz, work / vmlinuz.name)

    manifest = {
        "kernel": vmlinuz.name,
        "initrd": "initrd.gz",
        "kernel_package": kpkg,
        "kernel_package_version": _deb_field(kernel_deb, "Version"),
        "busybox_package": BUSYBOX_PACKAGE,
        "busybox_package_version": _deb_field(busybox_deb, "Version"),
        "modules": list(MODULES),
        "download_bytes": kernel_deb.stat().st_size + busybox_deb.stat().st_size,
        "initrd_bytes": (work / "initrd.gz").stat().st_size,
        "build_seconds": round(time.monotonic() - started, 1),
        "built_at": int(time.time()),
    }
    # Keep only what boots (and the small initramfs tree): the unpacked kernel package is
    # ~400 MB of modules, and the .debs can be fetched again.
    shutil.rmtree(k)
    shutil.rmtree(bb)
    kernel_deb.unlink()
    busybox_deb.unlink()
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _load(directory: Path) -> LinuxGuest | None:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        kernel, initrd = directory / manifest["kernel"], directory / manifest["initrd"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (kernel.is_file() and initrd.is_file()):
        return None
    return LinuxGuest(directory, kernel, initrd, manifest)


@contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive flock on `path` (so that concurrent test workers build only once)."""
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise GuestBuildError(
                        f"{path} stayed locked for {timeout:.0f} s (another build?)"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_linux_guest(directory: Path | None = None, progress: Progress = say) -> LinuxGuest:
    """The guest in `directory` (default cache_dir()), building it first if it is not there.

    Idempotent: a complete build (its manifest and files present) is reused as is.  A build
    goes to a `.partial` sibling and is renamed into place, so an interrupted one leaves nothing
    that looks complete.
    """
    directory = cache_dir() if directory is None else directory
    guest = _load(directory)
    if guest is not None:
        return guest
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GuestBuildError(f"cannot create {directory.parent}: {error}") from error
    with _locked(directory.with_name(directory.name + ".lock"), LOCK_TIMEOUT_SECONDS):
        guest = _load(directory)  # built by someone else while we waited
        if guest is not None:
            return guest
        progress(f"building the Linux balloon guest in {directory}")
        work = directory.with_name(directory.name + ".partial")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        manifest = _build_into(work, progress)
        shutil.rmtree(directory, ignore_errors=True)
        work.rename(directory)
        progress(
            f"built {manifest['kernel_package']} {manifest['kernel_package_version']} + "
            f"busybox {manifest['busybox_package_version']} in "
            f"{manifest['build_seconds']} s (initrd {manifest['initrd_bytes']} bytes)"
        )
    guest = _load(directory)
    if guest is None:
        raise GuestBuildError(f"the build in {directory} left no usable manifest")
    return guest


# ---------------------------------------------------------------------------------------------
# Booting


def qemu_argv(
    guest: LinuxGuest,
    qmp_socket: str,
    serial_log: str,
    ram_mib: int = DEFAULT_RAM_MIB,
    balloon_id: str = BALLOON_ID,
    qemu_binary: str = DEFAULT_QEMU_BINARY,
) -> list[str]:
    """The anchor's launch line: the conformance line with -S removed, the kernel, initramfs
    and command line added, QMP on a unix socket and the serial console in a file."""
    return [
        qemu_binary,
        "-M",
        "q35",
        "-accel",
        "tcg",
        "-m",
        str(ram_mib),
        "-nodefaults",
        "-nographic",
        "-kernel",
        str(guest.kernel),
        "-initrd",
        str(guest.initrd),
        "-append",
        "console=ttyS0 panic=-1",
        "-device",
        f"virtio-balloon-pci,id={balloon_id}",
        "-qmp",
        f"unix:{qmp_socket},server=on,wait=off",
        "-display",
        "none",
        "-serial",
        f"file:{serial_log}",
        "-monitor",
        "none",
        "-no-reboot",
    ]


@dataclass
class RunningGuest:
    """QEMU running the guest, which has printed "GUEST: ready"."""

    process: subprocess.Popen[bytes]
    argv: list[str]
    qmp_socket: str
    serial_log: Path
    ram_bytes: int
    boot_seconds: float  # launch → "GUEST: ready" seen in the serial log
    _stderr: IO[bytes]

    def serial_text(self) -> str:
        try:
            return self.serial_log.read_text(errors="replace")
        except OSError:
            return ""

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]

    def describe(self) -> str:
        """What to show when something went wrong: the command, stderr, the serial log tail."""
        return (
            f"argv: {' '.join(self.argv)}\nqemu stderr:\n{self.stderr_text()}\n"
            f"serial log (tail):\n{self.serial_text()[-3000:]}"
        )

    def wait_exit(self, timeout: float = EXIT_TIMEOUT_SECONDS) -> int | None:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Stop QEMU by its PID: SIGTERM, then SIGKILL if it is still there."""
        if self.process.poll() is None:
            self.process.terminate()
            if self.wait_exit() is None:
                self.process.kill()
                self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)


def _wait_ready(running: RunningGuest, started: float, timeout: float) -> None:
    deadline = started + timeout
    while True:
        text = running.serial_text()
        if READY_LINE in text:
            running.boot_seconds = time.monotonic() - started
            if "GUEST: loaded virtio_balloon" not in text:
                raise GuestBootError(
                    "the guest is ready but virtio_balloon did not load\n" + running.describe()
                )
            return
        if running.process.poll() is not None:
            raise GuestBootError(
                f"QEMU exited with status {running.process.returncode} before "
                f"the guest was ready\n{running.describe()}"
            )
        if time.monotonic() > deadline:
            raise GuestBootError(
                f'no "{READY_LINE}" in the serial log {timeout:.0f} s after '
                f"launch\n{running.describe()}"
            )
        time.sleep(0.1)


@contextmanager
def boot_linux_guest(
    guest: LinuxGuest,
    directory: str | None = None,
    ram_mib: int = DEFAULT_RAM_MIB,
    balloon_id: str = BALLOON_ID,
    qemu_binary: str = DEFAULT_QEMU_BINARY,
    timeout: float = BOOT_TIMEOUT_SECONDS,
    progress: Progress = say,
) -> Iterator[RunningGuest]:
    """Boot the guest; yield once it is ready; stop QEMU (by PID) on exit if it still runs.

    The QMP socket and serial log go to `directory` (default: a fresh private temporary
    directory, removed afterwards; keep unix socket paths short).
    """
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="pyqmp-lg-"))
        qmp_socket = os.path.join(directory, "qmp.sock")
        serial_log = Path(directory) / "serial.log"
        argv = qemu_argv(guest, qmp_socket, str(serial_log), ram_mib, balloon_id, qemu_binary)
        stderr = stack.enter_context(tempfile.TemporaryFile())
        progress(f"booting {guest.kernel.name} with {ram_mib} MiB under TCG")
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
        except OSError as error:
            raise GuestBootError(f"cannot start {argv[0]}: {error}") from error
        running = RunningGuest(process, argv, qmp_socket, serial_log, ram_mib << 20, 0.0, stderr)
        try:
            _wait_ready(running, started, timeout)
            progress(f"guest ready {running.boot_seconds:.1f} s after launch")
            yield running
        finally:
            running.stop()


# ---------------------------------------------------------------------------------------------
# By hand


def main(argv: Sequence[str]) -> int:
    command = argv[0] if argv else "build"
    if command not in ("build", "boot", "run"):
        print("usage: linux_guest.py build | boot | run", file=sys.stderr)
        return 2
    guest = build_linux_guest()
    print(json.dumps({"directory": str(guest.directory), **guest.manifest}, indent=2))
    if command == "build":
        return 0
    with boot_linux_guest(guest) as running:
        print(f"ready after {running.boot_seconds:.1f} s; QMP at {running.qmp_socket}")
        if command == "run":
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from balloon_script import run_balloon_script, summary

            transcript = run_balloon_script(running.qmp_socket, running.ram_bytes)
            print(json.dumps(transcript, indent=2))
            print(summary(transcript), file=sys.stderr)
            print(f"QEMU exit status after quit: {running.wait_exit()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
