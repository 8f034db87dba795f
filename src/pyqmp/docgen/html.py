"""The HTML manual: one page per schema module, an index page, and an offline search.

Why per module: QEMU's schema makes about 3 MB of HTML, and one page per source file keeps
the largest (``block-core.json``) near a megabyte while the others load instantly; links
between pages are plain relative ``page.html#def-NAME`` addresses, so the directory works
from ``file://`` with no server.  The search index is a script (``search-index.js``) rather
than JSON, since browsers refuse ``fetch`` on ``file://``.  Templates are Jinja2's with
autoescaping on; doc text goes through :mod:`.html_markup`, which escapes it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from typing import NamedTuple

import jinja2
from markupsafe import Markup

from .catalog import BUILTIN_MODULE, Catalog, Entry, FreeText
from .html_markup import blocks_html
from .markup import parse_blocks

_HERE = os.path.dirname(os.path.abspath(__file__))
STATIC_FILES = ("manual.css", "search.js")


class ModuleLink(NamedTuple):
    name: str
    page: str  # file name in the output directory
    label: str
    heading: str  # the module's first free-form heading, if any


def page_names(modules: tuple[str, ...]) -> dict[str, str]:
    """A distinct, safe file name for each module's page (``block-core.json`` gives
    ``block-core.html``); ``index`` and the static files' names are never taken."""
    taken = {"index.html", "search-index.js", *STATIC_FILES}
    pages: dict[str, str] = {}
    for module in modules:
        stem = "builtin" if module == BUILTIN_MODULE else os.path.splitext(module)[0]
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "module"
        page = stem + ".html"
        number = 2
        while page in taken:
            page = f"{stem}-{number}.html"
            number += 1
        taken.add(page)
        pages[module] = page
    return pages


class HtmlManual:
    """Renders a :class:`Catalog` as HTML pages (each with :meth:`pages`)."""

    def __init__(self, catalog: Catalog, title: str, schema_name: str) -> None:
        self.catalog = catalog
        self.title = title
        self.schema_name = schema_name
        self.pages = page_names(catalog.modules)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(os.path.join(_HERE, "templates")),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=False,
        )
        self.env.filters["doc"] = self._doc
        self.env.globals["href"] = self.href
        self.env.globals["used_by"] = self._used_by
        self.modules = [
            ModuleLink(name, self.pages[name], _label(name), _first_heading(catalog, name))
            for name in catalog.modules
        ]

    def href(self, name: str) -> str | None:
        """The address of ``name``'s entry, or None if it has none (an array, say)."""
        entry = self.catalog.entries.get(name)
        if entry is None:
            return None
        return f"{self.pages[entry.module]}#{entry.anchor}"

    def _used_by(self, name: str) -> tuple[str, ...]:
        return self.catalog.used_by.get(name, ())

    def _doc(
        self,
        text: str,
        preformatted: bool = False,
        heading_base: int = 2,
        entry: Entry | None = None,
    ) -> Markup:
        """Doc text as HTML; in an entry, ``@name`` of one of its members links to the
        member's row (it wins over a definition of that name), else to the definition."""
        link = self.href
        if entry is not None and entry.members:
            page = self.pages[entry.module]
            members = {row.name for row in entry.members}

            def link(name: str) -> str | None:
                if name in members:
                    return f"{page}#{entry.anchor}.{name}"
                return self.href(name)

        return blocks_html(parse_blocks(text, preformatted=preformatted), link, heading_base)

    def render_pages(self) -> Iterator[tuple[str, str]]:
        """(file name, HTML) for the index page, then each module's page."""
        common = {"title": self.title, "modules": self.modules}
        by_kind: dict[str, list[Entry]] = {"command": [], "event": [], "type": []}
        for entry in self.catalog.entries.values():
            by_kind.get(entry.kind, by_kind["type"]).append(entry)
        for entries in by_kind.values():
            entries.sort(key=lambda entry: entry.name.lower())
        counts = {"command": len(by_kind["command"]), "event": len(by_kind["event"])}
        yield (
            "index.html",
            self.env.get_template("index.html").render(
                common,
                page_title="Index",
                current_page="index.html",
                schema_name=self.schema_name,
                by_kind=by_kind,
                counts={**counts, "types": len(by_kind["type"])},
            ),
        )
        template = self.env.get_template("module.html")
        for module in self.modules:
            items = [
                ("text" if isinstance(item, FreeText) else "entry", item)
                for item in self.catalog.module_items[module.name]
            ]
            yield (
                module.page,
                template.render(
                    common,
                    page_title=module.label,
                    current_page=module.page,
                    module=module,
                    items=items,
                ),
            )

    def search_index(self) -> str:
        """``search-index.js``: [name, kind, address, summary] for every entry."""
        rows = [
            [entry.name, entry.kind, self.href(entry.name), entry.summary]
            for entry in self.catalog.entries.values()
        ]
        # ASCII with <, > and & as \u escapes: doc text stays data wherever the script goes
        data = json.dumps(rows, ensure_ascii=True, separators=(",", ":"))
        for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            data = data.replace(char, escaped)
        return "window.PYQMP_SEARCH_INDEX = " + data + ";\n"


def write_html(
    catalog: Catalog,
    out_dir: str,
    title: str,
    schema_name: str,
    progress: Callable[[str], None],
) -> list[str]:
    """Write the manual into ``out_dir`` (created if needed); return the files written."""
    manual = HtmlManual(catalog, title, schema_name)
    os.makedirs(out_dir, exist_ok=True)
    written: list[str] = []
    for page, text in manual.render_pages():
        progress(page)
        written.append(_write(os.path.join(out_dir, page), text))
    written.append(_write(os.path.join(out_dir, "search-index.js"), manual.search_index()))
    for name in STATIC_FILES:
        target = os.path.join(out_dir, name)
        shutil.copyfile(os.path.join(_HERE, "static", name), target)
        written.append(target)
    return written


def _write(path: str, text: str) -> str:
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
    return path


def _label(module: str) -> str:
    return "Built-in types" if module == BUILTIN_MODULE else module


def _first_heading(catalog: Catalog, module: str) -> str:
    for item in catalog.module_items[module]:
        if isinstance(item, FreeText):
            for block in parse_blocks(item.doc.body):
                if block.kind == "heading":
                    return block.parts[0]
    return ""
