"""The manual written for a small hostile schema and for QEMU's whole schema, in both formats.

HTML is checked as text here (the browser test opens it for real): every definition has its
entry with conditions, features and marks, nothing the doc comments say becomes markup, and
the search index names every entry.  Markdown has a heading per definition, all of them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hostile_schema import write_hostile_schema

from pyqmp.docgen import write_manual
from pyqmp.docgen.catalog import build_catalog, condition_text
from pyqmp.docgen.markdown_markup import code_span, escape_markdown, fenced
from pyqmp.schema import load_schema
from pyqmp.schema.model import ObjectType, Schema

FORBIDDEN = ("<script>alert", "<script>x", "<img", "<b>tags", "</dd><script>")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    return load_schema(str(write_hostile_schema(tmp_path_factory.mktemp("hostile"))))


@pytest.fixture(scope="module")
def qemu_schema(qemu_source: Path) -> Schema:
    return load_schema(str(qemu_source / "qapi" / "qapi-schema.json"))


def documented_names(schema: Schema) -> list[str]:
    """Every command, event and named type (implicit and array types have no entry)."""
    names = [*schema.commands, *schema.events]
    for name, definition in schema.types.items():
        if definition.meta == "array":
            continue
        if isinstance(definition, ObjectType) and definition.is_implicit:
            continue
        names.append(name)
    return names


def test_conditions_read_as_written() -> None:
    assert condition_text(None) == ""
    assert condition_text("CONFIG_A") == "CONFIG_A"
    assert condition_text({"not": "A"}) == "not A"
    assert condition_text({"all": ["A", {"not": "B"}]}) == "A and not B"
    assert condition_text({"any": ["A", {"all": ["B", "C"]}]}) == "A or (B and C)"
    assert condition_text({"not": {"any": ["A", "B"]}}) == "not (A or B)"


def test_catalog_of_the_hostile_schema(hostile: Schema) -> None:
    catalog = build_catalog(hostile)
    paint = catalog.entries["paint"]
    assert paint.kind == "command" and paint.marks == ("deprecated",)
    assert [(row.name, row.type) for row in paint.members] == [("shades", ("Shade", True))]
    assert paint.returns == ("Shade", False)
    shade = catalog.entries["Shade"]
    assert shade.condition == "CONFIG_A and not CONFIG_B"
    old = next(row for row in shade.members if row.name == "old")
    assert old.optional and old.features == ("deprecated",)
    assert shade.marks == ()  # a member's deprecation is not the struct's
    assert [(row.name, row.of_members) for row in shade.features] == [
        ("fancy", False),
        ("deprecated", True),
    ]
    brush = catalog.entries["Brush"]  # an inline base: its members are the union's own
    assert [row.name for row in brush.members] == ["kind", "size"]
    assert [(row.name, row.type.name) for row in brush.variants] == [("red", "Shade")]
    assert catalog.used_by["Shade"] == ("Brush", "paint")
    assert catalog.used_by["Color"] == ("Shade", "Brush", "PAINTED")
    assert "q_obj_paint-arg" not in catalog.entries


def test_html_of_the_hostile_schema(hostile: Schema, tmp_path: Path) -> None:
    files = write_manual(hostile, str(tmp_path))
    names = sorted(Path(path).name for path in files)
    assert names == [
        "builtin.html",
        "hostile.html",
        "index.html",
        "manual.css",
        "search-index.js",
        "search.js",
    ]
    page = (tmp_path / "hostile.html").read_text(encoding="utf-8")
    for text in (tmp_path / name for name in names):
        content = text.read_text(encoding="utf-8")
        for forbidden in FORBIDDEN:
            assert forbidden not in content, (text.name, forbidden)
    assert 'id="def-paint"' in page and 'id="def-Shade"' in page and 'id="def-PAINTED"' in page
    assert "If: <code>CONFIG_A and not CONFIG_B</code>" in page
    assert "If: <code>CONFIG_BLUE</code>" in page  # an enum value's condition
    assert '<span class="mark deprecated">deprecated</span>' in page
    assert '<a class="type" href="hostile.html#def-Shade">Shade</a>]' in page  # ['Shade']
    assert '<a class="type" href="builtin.html#def-int">int</a>' in page
    assert "<pre>-&gt; { &#34;execute&#34;: &#34;paint&#34;" in page
    # @old in Shade's doc is its member: it links to the member's row
    assert '<dt id="def-Shade.old">' in page
    assert '<a class="ref" href="hostile.html#def-Shade.old"><code>old</code></a> is old' in page
    assert "Test &lt;script&gt;alert(1)&lt;/script&gt; heading" in page
    index = (tmp_path / "search-index.js").read_text(encoding="utf-8")
    assert index.startswith("window.PYQMP_SEARCH_INDEX = ") and index.endswith(";\n")
    rows = json.loads(index[len("window.PYQMP_SEARCH_INDEX = ") : -2])
    assert sorted(row[0] for row in rows) == sorted(documented_names(hostile))
    assert ["paint", "command", "hostile.html#def-paint", "Paint with @Shade."] in rows
    assert "<" not in index  # doc text can't close the script: it is \\u-escaped


def test_markdown_of_the_hostile_schema(hostile: Schema, tmp_path: Path) -> None:
    [path] = write_manual(hostile, str(tmp_path), "markdown")
    text = Path(path).read_text(encoding="utf-8")
    for forbidden in FORBIDDEN:
        assert forbidden not in text
    assert "A colour &lt;img src=x onerror=alert\\(1\\)&gt;." in text
    assert "- `shades`: [[`Shade`](#shade)] — which shades" in text
    assert "**Returns:** [`Shade`](#shade)\n\nthe [`Shade`](#shade) used" in text
    assert '```\n-> { "execute": "paint", "arguments": { "shades": [] } }\n' in text


def test_markdown_escaping() -> None:
    assert escape_markdown("<a href=x>*b*</a> & [c](d)") == (
        "&lt;a href=x&gt;\\*b\\*&lt;/a&gt; &amp; \\[c\\]\\(d\\)"
    )
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x") == "`` `x ``"
    assert fenced("```\nrm -rf\n```") == "````\n```\nrm -rf\n```\n````"


def test_html_of_qemu_schema_has_an_entry_per_definition(
    qemu_schema: Schema, tmp_path: Path
) -> None:
    write_manual(qemu_schema, str(tmp_path))
    ids: set[str] = set()
    for page in tmp_path.glob("*.html"):
        ids.update(re.findall(r' id="([^"]+)"', page.read_text(encoding="utf-8")))
    missing = [name for name in documented_names(qemu_schema) if f"def-{name}" not in ids]
    assert missing == []


def test_markdown_of_qemu_schema_has_a_heading_per_definition(
    qemu_schema: Schema, tmp_path: Path
) -> None:
    [path] = write_manual(qemu_schema, str(tmp_path), "markdown")
    text = Path(path).read_text(encoding="utf-8")
    headings = Counter(re.findall(r"^### (\S+)$", text, re.M))
    names = documented_names(qemu_schema)
    assert len(names) > 900
    assert [name for name in names if headings[name] != 1] == []  # free-form ones aside
    # Each link lands on its definition's heading, by GitHub's anchors: the text lower-cased,
    # punctuation but - and _ dropped, spaces made -, repeats numbered from -1.
    count: Counter[str] = Counter()
    anchor_of: dict[str, str] = {}
    for level, heading in re.findall(r"^(#+) (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("\\", "").lower()).replace(" ", "-")
        anchor = slug if not count[slug] else f"{slug}-{count[slug]}"
        count[slug] += 1
        if level == "###":
            anchor_of.setdefault(heading, anchor)
    links = re.findall(r"\[`([^`]+)`\]\(#([^)]+)\)", text)
    assert len(links) > 2000
    assert {(name, anchor) for name, anchor in links if anchor_of[name] != anchor} == set()
    assert ("stop", "stop-1") in links  # the command comes after the STOP event


def test_command_line(qemu_source: Path, tmp_path: Path) -> None:
    def pyqmp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pyqmp", "schema", "doc", *args],
            capture_output=True,
            text=True,
            timeout=300,
        )

    schema = str(qemu_source / "qapi" / "qapi-schema.json")
    done = pyqmp(schema, "-o", str(tmp_path / "md"), "--format", "markdown")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "md" / "index.md").is_file()
    assert done.stdout.startswith(f"wrote 1 file to {tmp_path / 'md'} (")

    done = pyqmp(schema, "-o", str(tmp_path / "html"), "--title", "QEMU <b>7.2</b> & co")
    assert done.returncode == 0, done.stderr
    index = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert "<title>Index — QEMU &lt;b&gt;7.2&lt;/b&gt; &amp; co</title>" in index
    assert len(list((tmp_path / "html").glob("*.html"))) > 30

    blocker = tmp_path / "file"
    blocker.write_text("")
    done = pyqmp(schema, "-o", str(blocker))
    assert done.returncode == 1
    assert done.stderr == f"pyqmp schema doc: '{blocker}' exists and is not a directory\n"

    bad = tmp_path / "bad.json"
    bad.write_text("{ 'command': 'x', 'data': 'Nope' }\n")
    done = pyqmp(str(bad), "-o", str(tmp_path / "out"))
    assert done.returncode == 1
    assert done.stderr.startswith(f"{bad}:")
    assert not (tmp_path / "out").exists()

    done = pyqmp(schema)
    assert done.returncode == 2 and "-o/--output" in done.stderr
    done = pyqmp(schema, "-o", str(tmp_path / "x"), "--format", "pdf")
    assert done.returncode == 2 and "invalid choice: 'pdf'" in done.stderr
