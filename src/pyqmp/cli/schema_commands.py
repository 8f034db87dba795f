"""The ``pyqmp schema check`` and ``pyqmp schema introspect`` commands.

They are thin: load a schema with :mod:`pyqmp.schema`, report its first error the way a compiler
does, or print its introspection as JSON. The schema package and orjson are imported inside the
functions so that importing this module, and therefore starting the command line, stays cheap.
"""

from __future__ import annotations

import sys

# typing itself costs milliseconds of start-up; only the type checker needs it here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


class _NotLoaded(Exception):
    """The schema could not be loaded; the reason has already been printed."""


def _load(path: str, keep_model: bool = True) -> Any:
    """Return the loaded schema, or report why it could not be loaded and raise _NotLoaded.

    Without ``keep_model`` the schema is only checked (and None returned).
    """
    from pyqmp.schema import SchemaError, check_schema, load_schema

    try:
        return load_schema(path) if keep_model else check_schema(path)
    except SchemaError as err:
        print(str(err), file=sys.stderr)
    except OSError as err:
        reason = err.strerror or str(err)
        print(f"pyqmp: can't read schema file '{path}': {reason}", file=sys.stderr)
    raise _NotLoaded


def run_check(path: str) -> int:
    """Check the schema at ``path``; return 0 if it is valid, 1 after printing its first error."""
    try:
        _load(path, keep_model=False)
    except _NotLoaded:
        return 1
    return 0


def run_introspect(path: str, defines: list[str], unmask: bool, compat: Sequence[str] = ()) -> int:
    """Print ``query-qmp-schema``'s answer for the schema at ``path`` as one JSON array.

    ``defines`` names the configuration symbols taken as defined when evaluating ``if``
    conditions; ``unmask`` keeps the schema's own type names instead of masked ones;
    ``compat`` are ``-compat`` policies (QEMU's syntax, the last one wins, as QEMU's).
    """
    hide = False
    if compat:  # (imported only when asked for: it costs start-up time)
        from pyqmp.server.compat import CompatError, last_policy

        try:
            hide = last_policy(compat).deprecated_output == "hide"
        except CompatError as error:
            print(f"pyqmp schema introspect: {error}", file=sys.stderr)
            return 1
    try:
        schema = _load(path)
    except _NotLoaded:
        return 1

    import orjson

    from pyqmp.schema.introspect import hide_deprecated, introspect_schema

    entries = introspect_schema(schema, defines=frozenset(defines), unmask=unmask)
    if hide:
        entries = hide_deprecated(entries)
    sys.stdout.buffer.write(orjson.dumps(entries) + b"\n")
    sys.stdout.buffer.flush()
    return 0


def run_gen_python_from(
    address: str, output_dir: str, package: str | None = None, timeout: float = 30.0
) -> int:
    """Like :func:`run_gen_python`, for the schema a live server describes by introspection."""
    import asyncio

    if package is not None and not package.isidentifier():
        print(f"pyqmp: --package {package!r} is not a Python identifier", file=sys.stderr)
        return 2
    from pyqmp.client import AddressError, QMPClientError
    from pyqmp.schema.from_introspection import IntrospectionError, schema_from_introspection

    try:
        entries = asyncio.run(_introspect(address, timeout))
        schema = schema_from_introspection(entries, f"query-qmp-schema of {address}")
    except (AddressError, QMPClientError, IntrospectionError) as error:
        print(f"pyqmp: {error}", file=sys.stderr)
        return 1

    from pyqmp.codegen.names import python_name
    from pyqmp.codegen.python import generate_python

    text = generate_python(schema, f"query-qmp-schema of {address}")
    module = python_name(address.rsplit("/", 1)[-1].split(".")[0].split(":")[-1]) + "_qapi"
    return _write_module(text, output_dir, module if package is None else None, package)


async def _introspect(address: str, timeout: float) -> Any:
    from pyqmp.client import QMPClient

    async with QMPClient("pyqmp-schema-gen") as qmp:
        await qmp.connect(address, timeout=timeout)
        return await qmp.execute("query-qmp-schema", timeout=timeout)


def run_gen_python(path: str, output_dir: str, package: str | None = None) -> int:
    """Write the typed Python API of the schema at ``path`` into ``output_dir``.

    The module is named after the schema file (``machine.json`` gives ``machine_qapi.py``),
    or, with ``package``, is the importable package ``output_dir/package`` (typed: it has
    ``py.typed``).
    """
    import os

    if package is not None and not package.isidentifier():
        print(f"pyqmp: --package {package!r} is not a Python identifier", file=sys.stderr)
        return 2
    try:
        schema = _load(path)
    except _NotLoaded:
        return 1

    from pyqmp.codegen.python import generate_python, module_name_for

    return _write_module(
        generate_python(schema, os.path.basename(path)),
        output_dir,
        module_name_for(path) if package is None else None,
        package,
    )


def _write_module(text: str, output_dir: str, module: str | None, package: str | None) -> int:
    """Write ``text`` as ``output_dir/module.py`` or as the package ``output_dir/package``."""
    import os

    if package is not None:
        directory = os.path.join(output_dir, package)
        files = {
            os.path.join(directory, "__init__.py"): text,
            os.path.join(directory, "py.typed"): "",
        }
    else:
        assert module is not None
        directory = output_dir
        files = {os.path.join(directory, module + ".py"): text}
    target = directory
    try:
        os.makedirs(directory, exist_ok=True)
        for target, content in files.items():
            with open(target, "w", encoding="utf-8") as stream:
                stream.write(content)
    except OSError as err:
        print(f"pyqmp: can't write '{target}': {err.strerror or err}", file=sys.stderr)
        return 1
    print(f"wrote {directory if package is not None else target}")
    return 0


def run_doc(path: str, output_dir: str, fmt: str, title: str | None = None) -> int:
    """Write the reference manual of the schema at ``path`` into ``output_dir``.

    Pages are named on stderr as they are written once the run has taken over a second
    (QEMU's whole schema takes well under that on a quiet machine).
    """
    import os
    import time

    started = time.monotonic()
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        print(f"pyqmp schema doc: '{output_dir}' exists and is not a directory", file=sys.stderr)
        return 1
    try:
        schema = _load(path)
    except _NotLoaded:
        return 1

    from pyqmp.docgen import write_manual

    def progress(step: str) -> None:
        if time.monotonic() - started > 1.0:
            print(f"pyqmp schema doc: writing {step}", file=sys.stderr, flush=True)

    try:
        written = write_manual(schema, output_dir, fmt, title, progress)
    except OSError as err:
        where = f" '{err.filename}'" if err.filename else ""
        print(f"pyqmp schema doc: can't write{where}: {err.strerror or err}", file=sys.stderr)
        return 1
    definitions = len(schema.commands) + len(schema.events)
    elapsed = time.monotonic() - started
    print(
        f"wrote {len(written)} file{'s' if len(written) != 1 else ''} to {output_dir} "
        f"({definitions} commands and events, "
        f"{elapsed:.2f} s)"
    )
    return 0
