"""Fuzz target for the machine's option parsers: any text, as a user's ``--qmp`` (with its
TLS and peer options), ``--balloon``, ``--compat`` or ``-m``.

Run it with atheris (``pip install atheris``; ``tools/fuzz.sh`` runs every target)::

    python tests/fuzz/fuzz_monitor_options.py [CORPUS_DIR ...] [libFuzzer options]

The first byte picks the parser; the rest is the option's text (decoded as the command
line decodes its arguments, undecodable bytes as surrogates).  Each parser either gives a
value within its bounds (a port below 65536, a mode within 0777, positive limits, TLS only
on TCP and peers only on unix) or raises its own error naming the text it was given;
anything else is a crash.  Without atheris the script runs the files named on the command
line once each (to reproduce a crash), or else the seed corpus.
"""

from __future__ import annotations

import os
import sys

SEED_CORPUS: list[bytes] = [
    b"\x00unix:/tmp/q.sock",
    b"\x00unix:/tmp/a,,b.sock,server=on,wait=off,read-only=on,uid=0:1,gid=2,mode=0660",
    b"\x00unix:q.sock,max-connections=7,negotiation-timeout=1.5,deny=quit,allow=query-*",
    b"\x00tcp:127.0.0.1:4444,tls-creds=/etc/pki/qemu,verify-peer=off",
    b"\x00tcp:[::1]:0,tls-creds=d,verify-peer=on,read-only=off",
    b"\x00tcp::4444,uid=0",
    b"\x00unix:q.sock,nowait,server",
    b"\x00unix:q.sock,uid=root:\xc2\xb2",
    b"\x00tcp:h:\xd9\xa1\xd9\xa2",
    b"\x00unix:q.sock,mode=0999,mode=1",
    b"\x00unix:q.sock,negotiation-timeout=1e309",
    b"\x01id=balloon0",
    b"\x01id=b0,,x,bus=pci.0",
    b"\x02deprecated-input=reject,deprecated-output=hide,unstable-input=crash",
    b"\x02deprecated-input.x=accept,,",
    b"\x02help",
    b"\x03512M",
    b"\x031.5G",
    b"\x03\xd9\xa1G",
]


def check_one_input(data: bytes) -> str:
    """Parse ``data`` with the parser its first byte picks; return what came of it.

    Raises AssertionError on an out-of-bounds value; any other exception is a crash.
    """
    from pyqmp.machine.options import (
        OptionError,
        parse_device_id,
        parse_monitor_address,
        parse_ram_size,
    )
    from pyqmp.server.compat import CompatError, CompatPolicy

    if not data:
        return "empty"
    text = data[1:].decode("utf-8", "surrogateescape")  # as sys.argv holds it
    which = data[0] % 4
    try:
        if which == 0:
            return _check_address(parse_monitor_address(text))
        if which == 1:
            device_id = parse_device_id(text)
            assert device_id and device_id.isascii(), device_id
            return f"id {device_id}"
        if which == 2:
            return f"policy {CompatPolicy.parse(text).describe()}"
        size = parse_ram_size(text)
        assert 1 << 20 <= size < 1 << 44 and size % 4096 == 0, size
        return f"{size} bytes"
    except OptionError as error:
        assert text in str(error) or which == 3, (text, str(error))
        return f"refused: {error}"
    except CompatError as error:
        return f"refused: {error}"


def _check_address(address: object) -> str:
    from pyqmp.machine.options import MonitorAddress
    from pyqmp.server.access import ANY_PEER

    assert isinstance(address, MonitorAddress)
    options = address.options
    if address.kind == "unix":
        assert address.path and options.tls is None
    else:
        assert address.kind == "tcp" and 0 <= address.port < 65536 and address.host
        assert options.peers == ANY_PEER and options.mode == 0o600
    assert 0 <= options.mode <= 0o777
    assert options.max_connections is None or options.max_connections >= 1
    assert 0 < options.negotiation_timeout < float("inf")
    for number in (*options.peers.uids, *options.peers.gids):
        assert 0 <= number < 2**32
    return str(address)


def main(argv: list[str]) -> int:
    from fuzz_runner import run_fuzz_target

    return run_fuzz_target(argv, check_one_input, "pyqmp.machine", SEED_CORPUS)


if __name__ == "__main__":
    try:
        import pyqmp  # noqa: F401
    except ImportError:  # run from a checkout without installing: use its src/
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    raise SystemExit(main(sys.argv))
