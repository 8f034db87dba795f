"""Fuzz target for the server's argument decoder: any JSON, as a command's ``arguments``.

Run it with atheris (``pip install atheris``; ``tools/fuzz.sh`` runs every target)::

    python tests/fuzz/fuzz_command_arguments.py [CORPUS_DIR ...] [libFuzzer options]

The first byte of an input picks a command that takes arguments, from the machine's
schema or from ``fuzz_arguments_schema.json`` (nested structs, arrays, enums, sized
integers, ``any``); the rest is parsed as the server parses a request and handed, as a
client's ``arguments`` would be, to :func:`pyqmp.server.arguments.decode_arguments`
with the generated type.
Either the arguments decode into that type, and encoding and decoding them again gives
the same value, or a :class:`~pyqmp.server.errors.CommandError` says why in one of QEMU's
messages; anything else is a crash.  Without atheris the script runs the files named on
the command line once each (to reproduce a crash), or else the seed corpus.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

_HERE = Path(__file__).resolve().parent
FUZZ_SCHEMA = _HERE / "fuzz_arguments_schema.json"

# Every message the decoder may give (pyqmp.protocol.errors: QEMU's input visitor's).
# Every message the decoder may give (pyqmp.protocol.errors: QEMU's input visitor's); a
# member's name is the client's, verbatim, so it may hold anything, quotes included.
QEMU_MESSAGE = re.compile(
    r"Parameter '.*' is missing"
    r"|Parameter '.*' is unexpected"
    r"|Invalid parameter type for '.*', expected: [a-z]+"
    r"|Parameter '.*' does not accept value '.*'"
    r"|Parameter '.*' expects [a-z0-9_]+",
    re.DOTALL,
)

SEED_CORPUS: list[bytes] = [
    # machine: 0 balloon, 1 human-monitor-command, 2 qmp_capabilities, 3 qom-get, 4 qom-list,
    # 5 qom-set, 6 query-balloon, 7 x-guest-fault; fuzz schema: 8 draw, 9 paint, 10 tiny
    b"\x00{}",
    b'\x00{"value": 268435456}',
    b'\x00{"value": "big"}',
    b'\x07{"mode": "crash"}',
    b'\x07{"mode": "sulk"}',
    b'\x01{"command-line": "info status", "cpu-index": 0}',
    b'\x02{"enable": ["oob", "x"]}',
    b'\x05{"path": "/machine", "property": "type", "value": [1, {"a": null}]}',
    b'\x06{"refresh": true}',
    b'\x08{"shape": {"name": "sq", "points": [{"x": 1, "y": 2}, {"x": 1e3, "y": 0}]}}',
    b'\x08{"shape": {"name": "sq", "points": [{"x": 1, "y": 2, "colour": "blue"}], '
    b'"depth": 256, "size": -1, "tags": ["a", 1]}, "at": {"x": 2147483648, "y": 0}}',
    b'\x08{"shape": {"name": "t", "points": [], "size": 1.5, "extra": {"any": [null]}}}',
    b'\x09{"colours": ["red", "mauve"], "alpha": 18446744073709551616}',
    b'\x09{"colours": [], "alpha": -1, "layer": "top"}',
    b'\x0a{"n": -129, "big": 4294967296, "small": 32768}',
    b'\x0a{"n": 1, "big": -1}',
    b'\x0a{"n": 1, "n2": 2}',
    b"\x0a[]",
    b'\x0b{"shape": null, "copies": 65535}',
    b"\x0c" + b'{"a": ' * 30 + b"1" + b"}" * 30,
]


def _generated(schema_path: Path, name: str) -> ModuleType:
    """The Python module ``pyqmp schema gen python`` makes of ``schema_path``, imported."""
    from pyqmp.codegen.python import generate_python
    from pyqmp.schema import load_schema

    module = ModuleType(name)
    sys.modules[name] = module  # msgspec resolves the structs' annotations through it
    exec(generate_python(load_schema(str(schema_path)), schema_path.name), module.__dict__)
    return module


_COMMANDS: list[tuple[Any, str | None, Any]] = []  # (schema, argument type, msgspec type)


def _commands() -> list[tuple[Any, str | None, Any]]:
    # Built on first use: under atheris, pyqmp must be imported instrumented, in main().
    if not _COMMANDS:
        from pyqmp.machine import machine_qapi
        from pyqmp.machine.app import schema_path
        from pyqmp.schema import load_schema

        fuzz = _generated(FUZZ_SCHEMA, "pyqmp_fuzz_arguments_qapi")
        for schema, module in (
            (load_schema(schema_path()), machine_qapi),
            (load_schema(str(FUZZ_SCHEMA)), fuzz),
        ):
            for name, target in sorted(module.COMMAND_ARGUMENTS.items()):
                _COMMANDS.append((schema, schema.commands[name].arg_type, target))
    return _COMMANDS


def check_one_input(data: bytes) -> str:
    """Decode ``data`` as one command's arguments; return what came of it.

    Raises AssertionError on a wrong outcome; any other exception is a crash.
    """
    import msgspec

    from pyqmp.protocol import FrameError, JSONStreamer
    from pyqmp.server.arguments import decode_arguments
    from pyqmp.server.errors import CommandError

    if not data:
        return "empty"
    commands = _commands()
    schema, arg_type, target = commands[data[0] % len(commands)]
    # Parsed as the server parses a request (QEMU's JSON: a number past 64 bits is a float)
    items = JSONStreamer().feed(data[1:] + b"\n")
    if len(items) != 1 or isinstance(items[0], FrameError):
        return "not one JSON value"
    arguments = items[0]
    if not isinstance(arguments, dict):
        return "not an object"  # the protocol engine refuses these before any decoding
    try:
        decoded = decode_arguments(schema, arg_type, arguments, target)
    except CommandError as error:
        assert QEMU_MESSAGE.fullmatch(error.desc), error.desc
        return error.desc
    assert isinstance(decoded, target)
    again = msgspec.convert(msgspec.to_builtins(decoded), target)
    assert again == decoded, (decoded, again)
    return f"decoded {arg_type}"


def main(argv: list[str]) -> int:
    from fuzz_runner import run_fuzz_target

    return run_fuzz_target(argv, check_one_input, "pyqmp.server", SEED_CORPUS)


if __name__ == "__main__":
    try:
        import pyqmp  # noqa: F401
    except ImportError:  # run from a checkout without installing: use its src/
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    raise SystemExit(main(sys.argv))
