"""QEMU's doc comment markup, split into blocks and inline pieces, for any output format.

QEMU writes doc comments in a small subset of reStructuredText: paragraphs, ``- item`` lists,
``= Heading`` lines in free-form blocks, literal blocks after ``::``, ``| line`` blocks, and
inline ``@name`` references, ``*emphasis*``, ``**strong**``, ````literal```` and bare URLs.
This module only recognises that structure; :mod:`.html_markup` and :mod:`.markdown_markup`
turn it into text, each escaping every piece of the (untrusted) doc text for its format.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Block(NamedTuple):
    """One block of doc text.

    ``kind`` is ``paragraph``, ``lines`` (a ``|`` line block), ``list``, ``heading`` or
    ``preformatted``; ``parts`` holds the text: the paragraph, one string per line or item,
    or the preformatted text as it is.  ``level`` is a heading's depth (1 for ``=``).
    """

    kind: str
    parts: tuple[str, ...]
    level: int = 0


class Inline(NamedTuple):
    """One inline piece: ``kind`` is text, literal, reference, emphasis, strong or url."""

    kind: str
    text: str


_HEADING_RE = re.compile(r"(=+) +(\S.*)")
_BULLET_RE = re.compile(r"[-*] +")
_INLINE_RE = re.compile(
    r"\\(?P<escaped>[\\`*_@|])"
    r"|``(?P<literal>.+?)``"
    r"|(?<![\w@])@(?P<reference>[A-Za-z_][\w.+-]*[\w+]|[A-Za-z_])"
    r"|\*\*(?P<strong>[^*\s](?:[^*]*[^*\s])?)\*\*"
    r"|(?<![\w*])\*(?P<emphasis>[^*\s](?:[^*]*[^*\s])?)\*(?![\w*])"
    r"|(?<![\w`])`(?P<interpreted>[^`\s](?:[^`]*[^`\s])?)`(?:_(?!\w))?"
    r"|(?P<url>https?://[^\s<>\"'`]+[^\s<>\"'`.,;:)\]])"
)


def parse_inline(text: str) -> list[Inline]:
    """Split one paragraph's text into inline pieces (text is kept as written)."""
    pieces: list[Inline] = []
    position = 0
    for match in _INLINE_RE.finditer(text):
        if match.start() > position:
            pieces.append(Inline("text", text[position : match.start()]))
        kind = match.lastgroup or "text"
        value = match.group(kind)
        if kind == "interpreted":
            kind = "literal"
        if kind == "escaped":  # reST's backslash: the character as written
            if pieces and pieces[-1].kind == "text":
                value = pieces.pop().text + value
            kind = "text"
        pieces.append(Inline(kind, value))
        position = match.end()
    if position < len(text):
        if pieces and pieces[-1].kind == "text":
            pieces[-1] = Inline("text", pieces[-1].text + text[position:])
        else:
            pieces.append(Inline("text", text[position:]))
    return pieces


def parse_blocks(text: str, *, preformatted: bool = False) -> list[Block]:
    """Split doc text into blocks; with ``preformatted`` the whole text is one block."""
    if preformatted:
        return [Block("preformatted", (text.strip("\n"),))] if text.strip() else []
    lines = text.split("\n")
    blocks: list[Block] = []
    index = 0
    literal_next = False
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        if lines[index][:1].isspace() or literal_next:
            index = _indented_block(lines, index, blocks, literal_next)
            literal_next = False
            continue
        start = index
        while index < len(lines) and lines[index].strip():
            index += 1
        literal_next = _paragraph(lines[start:index], blocks)
    return blocks


def _indented_block(lines: list[str], index: int, blocks: list[Block], literal: bool) -> int:
    """A literal block (after ``::``) or an indented quote: kept as preformatted text."""
    start = index
    index += 1
    while index < len(lines) and (not lines[index].strip() or lines[index][:1].isspace()):
        index += 1
    chunk = lines[start:index]
    while chunk and not chunk[-1].strip():
        chunk.pop()
    if not literal or lines[start][:1].isspace():
        margin = min(len(line) - len(line.lstrip()) for line in chunk if line.strip())
        chunk = [line[margin:] for line in chunk]
    blocks.append(Block("preformatted", ("\n".join(chunk),)))
    return index


def _paragraph(lines: list[str], blocks: list[Block]) -> bool:
    """Add the blocks of one run of non-blank lines; True if a literal block follows."""
    heading = _HEADING_RE.fullmatch(lines[0])
    if heading and len(lines) == 1:
        blocks.append(Block("heading", (heading.group(2),), len(heading.group(1))))
        return False
    if all(line.startswith("| ") or line == "|" for line in lines):
        blocks.append(Block("lines", tuple(line[2:] for line in lines)))
        return False
    text: list[str] = []
    items: list[str] = []
    for line in lines:
        bullet = _BULLET_RE.match(line)
        if bullet:
            items.append(line[bullet.end() :])
        elif items:
            items[-1] += " " + line.strip()
        else:
            text.append(line.strip())
    literal_next = False
    if items:
        literal_next, items[-1] = _strip_literal_marker(items[-1])
    elif text:
        literal_next, text[-1] = _strip_literal_marker(text[-1])
    if text and any(text):
        blocks.append(Block("paragraph", (" ".join(part for part in text if part),)))
    if items:
        blocks.append(Block("list", tuple(items)))
    return literal_next


def _strip_literal_marker(line: str) -> tuple[bool, str]:
    """reST's ``text::`` (shown as ``text:``) and a lone ``::`` announce a literal block."""
    if not line.endswith("::"):
        return False, line
    if line.strip() == "::":
        return True, ""
    if line.endswith(" ::"):
        return True, line[:-3]
    return True, line[:-1]
