"""QEMU's own schema test suite (``tests/qapi-schema``), held to its expected errors verbatim.

QEMU's runner (``test-qapi.py``) loads each schema listed in the ``schemas = [...]`` list of
the suite's ``meson.build`` from inside the suite's folder and compares ``str(error) + "\\n"``
with the ``.err`` file; a valid schema has an empty ``.err``.  Each case runs twice, on the
fast reader and on the exact parser, which must agree with QEMU and so with each other.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pyqmp.schema import SchemaError, load_schema

# Cases deliberately not held to QEMU's output.  Every entry needs a reason, saying what
# differs and why that is right for pyqmp; test_out_of_scope_names_real_cases keeps the
# list from rotting.  Currently empty: pyqmp matches QEMU on every case.
OUT_OF_SCOPE: dict[str, str] = {}

# The suite lives in QEMU's source tree; collection happens before fixtures exist, so the
# tree is located here the way the ``qemu_source`` fixture does.  A missing tree yields no
# cases, and test_suite_is_not_empty then fails through the fixture, saying how to fix it.
_SOURCE = Path(os.environ.get("PYQMP_QEMU_SRC", "/var/cache/pyqmp/qemu-src"))
_SCHEMAS_LIST_RE = re.compile(r"^schemas = \[\n(.*?)^\]", re.MULTILINE | re.DOTALL)
_LISTED_FILE_RE = re.compile(r"'([^']+\.json)'")


def suite_schemas(source: Path) -> list[str]:
    """The file names in the ``schemas = [...]`` list of the suite's meson.build."""
    meson = source / "tests" / "qapi-schema" / "meson.build"
    if not meson.is_file():
        return []
    match = _SCHEMAS_LIST_RE.search(meson.read_text(encoding="utf-8"))
    if match is None:
        return []
    return _LISTED_FILE_RE.findall(match.group(1))


SCHEMAS = suite_schemas(_SOURCE)
PATHS = [pytest.param(True, id="fast"), pytest.param(False, id="exact")]


def expected_error(suite: Path, name: str) -> str:
    return (suite / name.removesuffix(".json")).with_suffix(".err").read_text(encoding="utf-8")


def actual_error(name: str, fast_path: bool) -> str:
    """What QEMU's runner would write to the ``.err`` file for ``name``."""
    try:
        load_schema(name, fast_path=fast_path)
    except SchemaError as err:
        return str(err) + "\n"
    return ""


@pytest.mark.parametrize("fast_path", PATHS)
@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_gives_qemus_result(
    qemu_source: Path, monkeypatch: pytest.MonkeyPatch, name: str, fast_path: bool
) -> None:
    if name in OUT_OF_SCOPE:
        pytest.skip(OUT_OF_SCOPE[name])
    suite = qemu_source / "tests" / "qapi-schema"
    expected = expected_error(suite, name)
    monkeypatch.chdir(suite)
    assert actual_error(name, fast_path) == expected


@pytest.mark.parametrize("fast_path", PATHS)
def test_missing_schema_file(
    qemu_source: Path, monkeypatch: pytest.MonkeyPatch, fast_path: bool
) -> None:
    # meson.build passes this one outside the list: the file intentionally does not exist.
    suite = qemu_source / "tests" / "qapi-schema"
    assert not (suite / "missing-schema.json").exists()
    monkeypatch.chdir(suite)
    assert actual_error("missing-schema.json", fast_path) == expected_error(
        suite, "missing-schema.json"
    )


def test_suite_is_not_empty(qemu_source: Path) -> None:
    # Guards against the meson.build parse silently finding nothing (or another tree).
    found = suite_schemas(qemu_source)
    assert len(found) >= 190
    assert found == SCHEMAS
    assert len(set(found)) == len(found)
    suite = qemu_source / "tests" / "qapi-schema"
    missing = [name for name in found if not (suite / name).is_file()]
    assert missing == []


def test_suite_has_valid_and_invalid_schemas(qemu_source: Path) -> None:
    suite = qemu_source / "tests" / "qapi-schema"
    valid = [name for name in SCHEMAS if not expected_error(suite, name)]
    # Both kinds must be there, or comparing with the .err files proves little.
    assert {"qapi-schema-test.json", "doc-good.json", "include-repetition.json"} <= set(valid)
    assert len(SCHEMAS) - len(valid) > 150


def test_out_of_scope_names_real_cases(qemu_source: Path) -> None:
    suite = qemu_source / "tests" / "qapi-schema"
    for name, reason in OUT_OF_SCOPE.items():
        assert name in SCHEMAS, f"{name} is not in the suite's meson.build"
        assert (suite / name).is_file(), f"{name} does not exist"
        assert reason.strip(), f"{name} has no reason"
