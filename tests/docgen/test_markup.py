"""QEMU's doc markup: blocks and inline pieces, and their HTML with doc text escaped."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pyqmp.docgen.html_markup import doc_html, inline_html
from pyqmp.docgen.markup import Block, Inline, parse_blocks, parse_inline


def link(name: str) -> str | None:
    return f"page.html#def-{name}" if name in ("BalloonInfo", "query-balloon") else None


def test_inline_pieces() -> None:
    assert parse_inline("use ``x-y`` and @BalloonInfo, *now* or **never**") == [
        Inline("text", "use "),
        Inline("literal", "x-y"),
        Inline("text", " and "),
        Inline("reference", "BalloonInfo"),
        Inline("text", ", "),
        Inline("emphasis", "now"),
        Inline("text", " or "),
        Inline("strong", "never"),
    ]


def test_references_end_before_punctuation_and_skip_addresses() -> None:
    pieces = parse_inline("see @query-balloon. Mail me@example.org")
    assert Inline("reference", "query-balloon") in pieces
    assert all(piece.text != "example.org" for piece in pieces if piece.kind == "reference")


def test_backslash_escapes_and_lone_stars_stay_text() -> None:
    assert parse_inline(r"the \*-softmmu targets") == [Inline("text", "the *-softmmu targets")]
    assert [piece.kind for piece in parse_inline("2 * 3 * 4")] == ["text"]


def test_blocks() -> None:
    text = (
        "= Heading\n\nA paragraph\nover two lines.\n\n- one\n- two\n  continued\n\n"
        "For example::\n\n  literal <b>\n\n  still literal\n\n| line one\n| line two\n\nEnd."
    )
    assert parse_blocks(text) == [
        Block("heading", ("Heading",), 1),
        Block("paragraph", ("A paragraph over two lines.",)),
        Block("list", ("one", "two continued")),
        Block("paragraph", ("For example:",)),
        Block("preformatted", ("literal <b>\n\nstill literal",)),
        Block("lines", ("line one", "line two")),
        Block("paragraph", ("End.",)),
    ]


def test_paragraph_then_list_without_blank_line() -> None:
    assert parse_blocks("Returns:\n- @BalloonInfo on success\n- an error") == [
        Block("paragraph", ("Returns:",)),
        Block("list", ("@BalloonInfo on success", "an error")),
    ]


def test_examples_are_kept_as_written() -> None:
    example = '-> { "execute": "query-balloon" }\n<- { "return": {} }'
    assert parse_blocks(example, preformatted=True) == [Block("preformatted", (example,))]
    html = doc_html(example, link, preformatted=True)
    assert html == (
        "<pre>-&gt; { &#34;execute&#34;: &#34;query-balloon&#34; }\n"
        "&lt;- { &#34;return&#34;: {} }</pre>"
    )


def test_references_link_to_definitions_only() -> None:
    html = inline_html("@BalloonInfo or @actual", link)
    assert html == (
        '<a class="ref" href="page.html#def-BalloonInfo"><code>BalloonInfo</code></a>'
        ' or <code class="ref">actual</code>'
    )


def test_doc_text_cannot_inject_markup() -> None:
    hostile = (
        '<script>alert(1)</script> "quoted" & <img src=x onerror=alert(1)> '
        '``</code><script>`` *<b>* @x"onmouseover="alert(1) '
        'https://example.org/"onclick="alert(1) javascript:alert(1)'
    )
    html = str(doc_html(hostile, link))
    for forbidden in ("<script", "<img", "<b>", '"onmouseover', '"onclick', 'href="javascript'):
        assert forbidden not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a class="url" href="https://example.org/">' in html


def test_free_form_headings_nest_under_the_page_heading() -> None:
    html = doc_html("= Machines\n\n== Balloon\n\nText.", link)
    assert html == "<h2>Machines</h2>\n<h3>Balloon</h3>\n<p>Text.</p>"


ALLOWED_TAGS = {"p", "ul", "li", "code", "em", "strong", "a", "pre", "br", "h2", "h3", "h4"}
ALLOWED_TAGS |= {"h5", "h6"}
OUR_LINKS = re.compile(r'<a class="(ref|url)" href="[^"<>]*">')


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" \n<>&\"'@*`:|-=_\\/abcxyzhttps.()", max_size=200))
def test_any_doc_text_gives_only_our_tags(text: str) -> None:
    html = str(doc_html(text, lambda name: f"p.html#def-{name}"))
    tags = re.findall(r"<(/?)([^\s>/]*)", html)
    assert {name for _close, name in tags} <= ALLOWED_TAGS
    assert all(OUR_LINKS.fullmatch(tag) for tag in re.findall(r"<a [^>]*>", html))
    assert "'" not in html  # quotes are entities: no attribute can be closed
    assert "&" not in re.sub(r"&(lt|gt|amp|#34|#39);", "", html)
