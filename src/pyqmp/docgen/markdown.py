"""The Markdown manual: one file, a ``##`` heading per module and a ``###`` per definition.

Links are to the anchors GitHub derives from headings: the heading's text lower-cased, without
punctuation but ``-`` and ``_``, spaces made ``-``, and ``-1``, ``-2``... added to a repeat
(QEMU has a ``stop`` command and a ``STOP`` event).  :func:`heading_anchors` computes them in
the document's order, so ``[`STOP`](#stop-1)`` lands on the event.  Doc text is escaped by
:mod:`.markdown_markup`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .catalog import BUILTIN_MODULE, Catalog, Entry, FreeText, TypeRef
from .markdown_markup import blocks_markdown, code_span, escape_markdown
from .markup import parse_blocks, parse_inline


def github_slug(text: str) -> str:
    """The anchor GitHub makes of a heading's text, before repeats are numbered."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def heading_anchors(texts: Iterator[str]) -> list[str]:
    """The anchors of headings with these texts, in order, repeats numbered as GitHub does."""
    seen: dict[str, int] = {}
    anchors = []
    for text in texts:
        slug = github_slug(text)
        anchor = slug
        while anchor in seen:
            seen[slug] += 1
            anchor = f"{slug}-{seen[slug]}"
        seen[anchor] = 0
        anchors.append(anchor)
    return anchors


class MarkdownManual:
    def __init__(self, catalog: Catalog, title: str) -> None:
        self.catalog = catalog
        self.title = title
        kinds_and_texts = list(self._heading_texts())
        anchors = heading_anchors(text for _, text in kinds_and_texts)
        self.anchors = {
            text: anchor
            for (is_entry, text), anchor in zip(kinds_and_texts, anchors, strict=True)
            if is_entry
        }

    def _heading_texts(self) -> Iterator[tuple[bool, str]]:
        """Every heading's text in document order, True for a definition's."""
        yield False, self.title
        for module in self.catalog.modules:
            yield False, _module_label(module)
            for item in self.catalog.module_items[module]:
                if isinstance(item, FreeText):
                    for block in parse_blocks(item.doc.body):
                        if block.kind == "heading":
                            yield False, "".join(p.text for p in parse_inline(block.parts[0]))
                else:
                    yield True, item.name

    def href(self, name: str) -> str | None:
        anchor = self.anchors.get(name)
        return None if anchor is None else "#" + anchor

    def _doc(self, text: str, preformatted: bool = False, heading_base: int = 4) -> str:
        blocks = parse_blocks(text, preformatted=preformatted)
        return blocks_markdown(blocks, self.href, heading_base)

    def _type(self, ref: TypeRef) -> str:
        href = self.href(ref.name)
        text = code_span(ref.name) if href is None else f"[{code_span(ref.name)}]({href})"
        return f"[{text}]" if ref.is_list else text

    def render(self) -> str:
        out = [f"# {escape_markdown(self.title)}"]
        for module in self.catalog.modules:
            out.append(f"## {escape_markdown(_module_label(module))}")
            for item in self.catalog.module_items[module]:
                if isinstance(item, FreeText):
                    out.append(self._doc(item.doc.body, heading_base=3))
                else:
                    out.append(self.entry(item))
        return "\n\n".join(part for part in out if part) + "\n"

    def entry(self, entry: Entry) -> str:
        marks = "".join(f" **{mark}**" for mark in entry.marks)
        out = [f"### {entry.name}", f"*{entry.kind}*{marks}"]
        if entry.condition:
            out.append(f"If: {code_span(entry.condition)}")
        if entry.doc is not None and entry.doc.body:
            out.append(self._doc(entry.doc.body))
        if entry.members or entry.members_from:
            heading = {"command": "Arguments", "event": "Arguments", "enum": "Values"}
            out.append(f"**{heading.get(entry.kind, 'Members')}:**")
            lines = []
            for row in entry.members:
                line = f"- {code_span(row.name)}"
                if row.type is not None:
                    line += ": " + self._type(row.type)
                if row.optional:
                    line += " (optional)"
                line += "".join(f" **{feature}**" for feature in row.features)
                if row.condition:
                    line += f" (if {code_span(row.condition)})"
                if row.description:
                    line += " — " + self._doc(row.description).replace("\n", "\n  ")
                lines.append(line)
            if entry.members_from is not None:
                lines.append(f"- the members of {self._type(entry.members_from)}")
            out.append("\n".join(lines))
        if entry.variants:
            lines = []
            for variant in entry.variants:
                if entry.tag:
                    line = (
                        f"- when {code_span(entry.tag)} is {code_span(variant.name)}:"
                        f" the members of {self._type(variant.type)}"
                    )
                else:
                    line = f"- {code_span(variant.name)}: {self._type(variant.type)}"
                if variant.condition:
                    line += f" (if {code_span(variant.condition)})"
                if variant.description:
                    line += " — " + self._doc(variant.description).replace("\n", "\n  ")
                lines.append(line)
            out.append("**Branches:**" if entry.tag else "**Alternatives:**")
            out.append("\n".join(lines))
        if entry.features:
            out.append("**Features:**")
            lines = []
            for feature in entry.features:
                line = f"- {code_span(feature.name)}"
                if feature.of_members:
                    line += " (of members)"
                if feature.condition:
                    line += f" (if {code_span(feature.condition)})"
                if feature.description:
                    line += " — " + self._doc(feature.description).replace("\n", "\n  ")
                lines.append(line)
            out.append("\n".join(lines))
        sections = entry.doc.sections if entry.doc is not None else ()
        if entry.returns is not None and all(name != "Returns" for name, _ in sections):
            out.append(f"**Returns:** {self._type(entry.returns)}")
        for name, text in sections:
            if name == "TODO":  # notes to QEMU's developers, left out as QEMU's manual does
                continue
            preformatted = name in ("Example", "Examples")
            if name == "Returns" and entry.returns is not None:
                out.append(f"**Returns:** {self._type(entry.returns)}")
            elif name:
                out.append(f"**{escape_markdown(name)}:**")
            out.append(self._doc(text, preformatted=preformatted))
        return "\n\n".join(part for part in out if part)


def _module_label(module: str) -> str:
    return "Built-in types" if module == BUILTIN_MODULE else module


def write_markdown(catalog: Catalog, out_dir: str, title: str) -> list[str]:
    """Write ``out_dir/index.md``; return the files written."""
    import os

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "index.md")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(MarkdownManual(catalog, title).render())
    return [path]
