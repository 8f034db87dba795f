"""The code keeps ARCHITECTURE.md's table: each part imports only what its row allows.

The table is read from ARCHITECTURE.md itself, so the document and the code cannot drift
apart: a new import between parts, a new part, or a new I/O module in a sans-IO part fails
here until the document says so.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "pyqmp"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
# Parts (and modules) that must stay drivable with byte strings: no I/O machinery of
# their own.
SANS_IO = ("protocol", "channel", "machine/guest_channel.py")
IO_MODULES = frozenset(("asyncio", "socket", "select", "selectors", "threading"))
# Documents pyqmp writes rather than refers to: `pyqmp schema doc --format markdown` makes
# OUT/index.md.
GENERATED_DOCUMENTS = frozenset(("index.md",))


def allowed_imports() -> dict[str, frozenset[str] | None]:
    """Each part's "may import" cell: the parts named there (None: any part)."""
    parts: dict[str, frozenset[str] | None] = {}
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(\w+)` \|[^|]*\| ([^|]*) \|", line)
        if match is None:
            continue
        cell = match.group(2)
        parts[match.group(1)] = (
            None if "any part" in cell else frozenset(re.findall(r"`(\w+)`", cell))
        )
    return parts


def part_packages() -> list[str]:
    return sorted(
        path.name for path in PACKAGE.iterdir() if path.is_dir() and any(path.glob("*.py"))
    )


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (type-checking imports included)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    return names


def parts_used(part: str) -> dict[str, set[str]]:
    """The other parts ``part`` imports, each with the files that do it."""
    used: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / part).rglob("*.py")):
        for name in imported_modules(path):
            pieces = name.split(".")
            if pieces[0] != "pyqmp" or len(pieces) < 2:
                continue
            other = pieces[1]
            if other != part and (PACKAGE / other).is_dir():
                used.setdefault(other, set()).add(str(path.relative_to(PACKAGE)))
    return used


def test_every_part_is_in_the_table() -> None:
    assert set(part_packages()) <= set(allowed_imports())


@pytest.mark.parametrize("part", part_packages())
def test_part_imports_only_what_its_row_allows(part: str) -> None:
    allowed = allowed_imports()[part]
    if allowed is None:
        return
    used = parts_used(part)
    assert {other: files for other, files in used.items() if other not in allowed} == {}


@pytest.mark.parametrize("part", SANS_IO)
def test_sans_io_parts_do_no_io(part: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] in IO_MODULES
        )
        for path in ([PACKAGE / part] if part.endswith(".py") else (PACKAGE / part).rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_import_reader_sees_imports_between_parts() -> None:
    # Relative imports are resolved the way Python resolves them, absolute ones as written.
    assert "pyqmp.protocol.limits" in imported_modules(PACKAGE / "protocol" / "connection.py")
    assert set(parts_used("codegen")) == {"schema"}
    assert {"server", "channel"} <= set(parts_used("machine"))
    assert "pyqmp.machine.app" in imported_modules(PACKAGE / "cli" / "machine_command.py")


def test_no_document_outside_the_repository_is_referred_to() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "src", "tests", "bench", "tools", "docs", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    documents = {Path(name).name for name in tracked if name.endswith(".md")}
    assert {"ARCHITECTURE.md", "README.md"} <= documents
    missing = {
        f"{name}: {reference}"
        for name in tracked
        if (ROOT / name).is_file() and not name.endswith(".json")
        for reference in re.findall(
            r"[\w./-]*?([\w-]+\.md)\b", (ROOT / name).read_text(errors="replace")
        )
        if reference not in documents and reference not in GENERATED_DOCUMENTS
    }
    assert missing == set()
