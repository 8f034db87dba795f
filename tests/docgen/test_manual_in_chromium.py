"""The HTML manual of QEMU's whole schema, opened in headless Chromium.

The manual is written by the real command line (``pyqmp schema doc``); every page is loaded in
Chromium (Debian's package), which reports the ids and links the browser actually sees.
Checked: every command and event has its entry, every internal link lands on a page that
exists and an anchor in it, the pages raise no script error, and typing ``query-balloon``
into the search box lists it first and leads to its entry.

With ``PYQMP_DOC_SCREENSHOT=PATH`` the test also saves a screenshot of query-balloon's entry
there (that is how ``docs/manual-query-balloon.png`` is made).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from chromium_driver import Chromium, find_chromium

from pyqmp.schema import load_schema

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (Debian: apt-get install chromium; tools/setup.sh does it)",
)

# The ids on the page and every link's resolved address, as the browser sees them.
PAGE_FACTS = """({
  ids: Array.from(document.querySelectorAll("[id]"), e => e.id),
  links: Array.from(document.querySelectorAll("a[href]"), a => a.href),
  scripts: typeof window.PYQMP_SEARCH_INDEX === "object",
})"""


@pytest.fixture(scope="module")
def manual(qemu_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("manual") / "html"
    schema = qemu_source / "qapi" / "qapi-schema.json"
    done = subprocess.run(
        [sys.executable, "-m", "pyqmp", "schema", "doc", str(schema), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    assert CHROMIUM is not None
    with Chromium(CHROMIUM) as chromium:
        yield chromium


def test_every_entry_is_there_and_every_link_resolves(
    manual: Path, browser: Chromium, qemu_source: Path
) -> None:
    pages = sorted(path.name for path in manual.glob("*.html"))
    assert "index.html" in pages and "machine.html" in pages
    ids: dict[str, set[str]] = {}
    links: list[tuple[str, str]] = []
    for page in pages:
        browser.navigate((manual / page).as_uri())
        facts = browser.evaluate(PAGE_FACTS)
        assert facts["scripts"], f"{page}: the search index did not load"
        ids[page] = set(facts["ids"])
        links.extend((page, link) for link in facts["links"])
    assert browser.exceptions() == []

    schema = load_schema(str(qemu_source / "qapi" / "qapi-schema.json"))
    every_id = set().union(*ids.values())
    missing = [name for name in [*schema.commands, *schema.events] if f"def-{name}" not in every_id]
    assert missing == []
    assert len(schema.commands) > 200 and len(schema.events) > 40

    internal = 0
    broken = []
    for page, link in links:
        parts = urlsplit(link)
        if parts.scheme in ("http", "https"):
            continue  # a URL written in a doc comment: not ours to check offline
        internal += 1
        target = os.path.basename(unquote(parts.path))
        if (
            parts.scheme != "file"
            or target not in ids
            or (parts.fragment and unquote(parts.fragment) not in ids[target])
        ):
            broken.append((page, link))
    assert broken == []
    assert internal > 5000  # members link to their types: the manual is densely linked


def test_search_finds_query_balloon(manual: Path, browser: Chromium) -> None:
    browser.navigate((manual / "index.html").as_uri())
    browser.evaluate("document.getElementById('search').focus()")
    browser.type_text("query-balloon")
    first = browser.wait_until(
        "(() => { const a = document.querySelector('#search-results li a');"
        " return a && {text: a.textContent, href: a.href,"
        " shown: !document.getElementById('search-results').hidden}; })()"
    )
    assert first["text"] == "query-balloon"
    assert first["shown"] is True
    browser.navigate(first["href"])
    heading = browser.evaluate(
        "document.getElementById('def-query-balloon').querySelector('h3').textContent"
    )
    assert heading.startswith("query-balloon")
    returns = browser.evaluate(
        "Array.from(document.querySelectorAll('#def-query-balloon .returns a'), a => a.textContent)"
    )
    assert returns == ["BalloonInfo"]
    assert browser.exceptions() == []
    screenshot = os.environ.get("PYQMP_DOC_SCREENSHOT")
    if screenshot:
        browser.screenshot(screenshot)


def test_search_by_address_and_no_match(manual: Path, browser: Chromium) -> None:
    browser.navigate((manual / "index.html").as_uri() + "?q=BALLOON_CHANGE")
    names = browser.wait_until(
        "Array.from(document.querySelectorAll('#search-results li a'), a => a.textContent)"
    )
    assert names[0] == "BALLOON_CHANGE"
    browser.navigate((manual / "index.html").as_uri() + "?q=no-such-definition-anywhere")
    text = browser.wait_until("document.getElementById('search-results').textContent")
    assert text == "No definition matches."
