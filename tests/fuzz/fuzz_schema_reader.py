"""Fuzz target for the schema compiler: any bytes, as a schema file, through ``load_schema``.

Run it with atheris (``pip install atheris``)::

    python tests/fuzz/fuzz_schema_reader.py [CORPUS_DIR ...] [libFuzzer options]

Every input is written to a file and loaded on both reader paths (fast and exact).  A
:class:`SchemaError` is the expected answer to a bad input; anything else raised is a crash,
and so is the two paths disagreeing.  Without atheris the script runs the files named on the
command line once each (to reproduce a crash), or else the built-in corpus.

``tests/fuzz/test_fuzz_smoke.py`` runs :func:`check_one_input` over a fixed corpus under pytest.
"""

from __future__ import annotations

import os
import sys
import tempfile

# Small seeds that reach every stage of the compiler; the smoke test runs them too.
SEED_CORPUS: list[bytes] = [
    b"",
    b"\n",
    b"# only a comment\n",
    b"{ 'enum': 'Colour', 'data': [ 'red', 'green' ] }\n",
    b"{ 'enum': 'Colour', 'prefix': 'COL', 'data': [ { 'name': 'red', 'if': 'CONFIG_RED' } ] }\n",
    b"{ 'struct': 'Point', 'data': { 'x': 'int', '*y': 'int8', 'tags': [ 'str' ] } }\n",
    b"{ 'struct': 'Base', 'data': { 'a': 'str' } }\n"
    b"{ 'struct': 'Sub', 'base': 'Base', 'data': { 'b': 'bool' } }\n",
    b"{ 'enum': 'Kind', 'data': [ 'one', 'two' ] }\n"
    b"{ 'struct': 'One', 'data': { 'n': 'int' } }\n"
    b"{ 'union': 'U', 'base': { 'kind': 'Kind' }, 'discriminator': 'kind',\n"
    b"  'data': { 'one': 'One' } }\n",
    b"{ 'alternate': 'Alt', 'data': { 'n': 'int', 'b': 'bool' } }\n",
    b"{ 'command': 'ping' }\n",
    b"{ 'command': 'go', 'data': { 'speed': 'number' }, 'returns': [ 'str' ],\n"
    b"  'allow-oob': true, 'features': [ 'deprecated' ] }\n",
    b"{ 'event': 'STOPPED', 'data': { 'why': 'str' }, 'if': { 'not': 'CONFIG_X' } }\n",
    b"{ 'pragma': { 'doc-required': true } }\n",
    b"{ 'include': 'fuzz.json' }\n",
    b"{ 'include': 'missing.json' }\n",
    b"##\n# = Heading\n#\n# Prose.\n##\n",
    b"##\n# @Colour:\n#\n# Colours.\n#\n# @red: warm\n#\n# Since: 1.0\n##\n"
    b"{ 'enum': 'Colour', 'data': [ 'red' ] }\n",
    b"##\n# @go:\n#\n# @speed: how fast\n#\n# Features:\n# @unstable: new\n#\n"
    b"# Returns: nothing\n##\n"
    b"{ 'command': 'go', 'data': { 'speed': 'int' }, 'features': [ 'unstable' ] }\n",
    b"{ 'a': 'b\\\\c' }\n",
    b"{ 'a': \"double\" }\n",
    b"{ 'a': 'unterminated }\n",
    b"{ 'a': 1, 'b': null }\n",
    b"[ 'not', 'an', 'object' ]\n",
    b"{ 'struct': 'Foo', 'data': {} } { 'enum': 'Foo', 'data': [] }\n",
    b"\t{ 'enum':\t'Tabs', 'data': [ ] } @\n",
    b"{ 'enum': '\xff' }\n",
    b"\0\0\0",
    b"[" * 1000,
    b"{'a':" * 1000,
    b"##\n# @Foo:\n##\n",
    b"## junk\n##\n",
    b"{ 'struct': 'Loop', 'base': 'Loop', 'data': {} }\n",
]


def check_one_input(data: bytes, directory: str | None = None) -> str | None:
    """Load ``data`` as a schema on both paths; return the error text, or None if valid.

    Raises AssertionError if the two paths disagree; any other exception is a crash.
    """
    from pyqmp.schema import SchemaError, load_schema

    path = os.path.join(directory or _work_directory(), "fuzz.json")
    with open(path, "wb") as stream:
        stream.write(data)
    outcomes: list[str | None] = []
    for fast_path in (True, False):
        try:
            load_schema(path, fast_path=fast_path)
        except SchemaError as err:
            outcomes.append(str(err))
        else:
            outcomes.append(None)
    assert outcomes[0] == outcomes[1], f"fast and exact paths disagree: {outcomes!r}"
    return outcomes[0]


_WORK_DIRECTORY: list[str] = []


def _work_directory() -> str:
    # One directory per process, made on first use: inputs that include 'fuzz.json' or a
    # neighbour find only themselves there.
    if not _WORK_DIRECTORY:
        _WORK_DIRECTORY.append(tempfile.mkdtemp(prefix="pyqmp-fuzz-"))
    return _WORK_DIRECTORY[0]


def main(argv: list[str]) -> int:
    from fuzz_runner import run_fuzz_target

    return run_fuzz_target(
        argv, check_one_input, "pyqmp.schema", SEED_CORPUS, lambda outcome: str(outcome or "valid")
    )


if __name__ == "__main__":
    try:
        import pyqmp  # noqa: F401
    except ImportError:  # run from a checkout without installing: use its src/
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    raise SystemExit(main(sys.argv))
