"""Doc comment markup to HTML: every piece of doc text is escaped, only our tags are added.

Doc comments are untrusted input: the blocks and inline pieces of :mod:`.markup` are joined
around :func:`markupsafe.escape` of their text, so nothing the text says becomes a tag or an
attribute.  ``@name`` becomes a link when ``link`` knows the definition (else code).
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

from .markup import Block, parse_blocks, parse_inline

# A definition name to the address of its entry, or None when it has no entry.
Linker = Callable[[str], str | None]


def inline_html(text: str, link: Linker) -> Markup:
    """One paragraph's text, escaped, with its inline markup as HTML."""
    out: list[str] = []
    for piece in parse_inline(text):
        value = escape(piece.text)
        if piece.kind == "text":
            out.append(value)
        elif piece.kind == "literal":
            out.append(Markup("<code>%s</code>") % value)
        elif piece.kind == "strong":
            out.append(Markup("<strong>%s</strong>") % value)
        elif piece.kind == "emphasis":
            out.append(Markup("<em>%s</em>") % value)
        elif piece.kind == "url":
            out.append(Markup('<a class="url" href="%s">%s</a>') % (value, value))
        else:  # reference
            href = link(piece.text)
            if href is None:
                out.append(Markup('<code class="ref">%s</code>') % value)
            else:
                out.append(Markup('<a class="ref" href="%s"><code>%s</code></a>') % (href, value))
    return Markup("").join(out)


def blocks_html(blocks: list[Block], link: Linker, heading_base: int = 2) -> Markup:
    """Blocks as HTML; a ``=`` heading becomes ``<h{heading_base}>`` (deeper ones below)."""
    out: list[Markup] = []
    for block in blocks:
        if block.kind == "paragraph":
            out.append(Markup("<p>%s</p>") % inline_html(block.parts[0], link))
        elif block.kind == "lines":
            lines = [inline_html(line, link) for line in block.parts]
            out.append(Markup("<p>%s</p>") % Markup("<br>").join(lines))
        elif block.kind == "list":
            items = [Markup("<li>%s</li>") % inline_html(item, link) for item in block.parts]
            out.append(Markup("<ul>%s</ul>") % Markup("").join(items))
        elif block.kind == "heading":
            level = min(heading_base + block.level - 1, 6)
            out.append(Markup("<h%d>%s</h%d>") % (level, inline_html(block.parts[0], link), level))
        else:
            out.append(Markup("<pre>%s</pre>") % escape(block.parts[0]))
    return Markup("\n").join(out)


def doc_html(text: str, link: Linker, *, preformatted: bool = False) -> Markup:
    """Doc text (a body, a member's or a section's text) as HTML."""
    return blocks_html(parse_blocks(text, preformatted=preformatted), link)
