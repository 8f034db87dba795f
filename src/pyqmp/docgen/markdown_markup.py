"""Doc comment markup to Markdown (CommonMark), with doc text escaped for it.

Plain text has Markdown's active characters backslash-escaped and ``<``, ``>`` and ``&``
written as entities, so a doc comment cannot open raw HTML or a link of its own; code spans
and fences are made longer than any backtick run inside them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .markup import Block, parse_blocks, parse_inline

Linker = Callable[[str], str | None]

_ACTIVE_RE = re.compile(r"([\\`*_\[\]{}()#+!|~])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape_markdown(text: str) -> str:
    """``text`` to show as written in Markdown."""
    text = _ACTIVE_RE.sub(r"\\\1", text)
    return "".join(_ENTITIES.get(char, char) for char in text)


def code_span(text: str) -> str:
    """``text`` as a code span, delimited by more backticks than any run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text: str) -> str:
    """``text`` as a fenced code block that no line of it can close."""
    longest = max((len(run) for run in re.findall(r"^ *(`{3,})", text, re.M)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def inline_markdown(text: str, link: Linker) -> str:
    out: list[str] = []
    for piece in parse_inline(text):
        if piece.kind == "text":
            out.append(escape_markdown(piece.text))
        elif piece.kind == "literal":
            out.append(code_span(piece.text))
        elif piece.kind == "strong":
            out.append(f"**{escape_markdown(piece.text)}**")
        elif piece.kind == "emphasis":
            out.append(f"*{escape_markdown(piece.text)}*")
        elif piece.kind == "url":
            out.append(f"<{piece.text}>")
        else:
            href = link(piece.text)
            span = code_span(piece.text)
            out.append(span if href is None else f"[{span}]({href})")
    return "".join(out)


def blocks_markdown(blocks: list[Block], link: Linker, heading_base: int = 2) -> str:
    out: list[str] = []
    for block in blocks:
        if block.kind == "paragraph":
            out.append(inline_markdown(block.parts[0], link))
        elif block.kind == "lines":
            out.append("  \n".join(inline_markdown(line, link) for line in block.parts))
        elif block.kind == "list":
            out.append("\n".join("- " + inline_markdown(item, link) for item in block.parts))
        elif block.kind == "heading":
            level = min(heading_base + block.level - 1, 6)
            out.append("#" * level + " " + inline_markdown(block.parts[0], link))
        else:
            out.append(fenced(block.parts[0]))
    return "\n\n".join(out)


def doc_markdown(text: str, link: Linker, *, preformatted: bool = False) -> str:
    return blocks_markdown(parse_blocks(text, preformatted=preformatted), link)
