"""Text a customer, a rep or a mail may send, written to become code in a careless page, and a
check that a page shows it as text.

    await site.bot.customer("eve").say(f"I need a quote {HOSTILE[0]}")
    page = await anna.get("/contacts/1")
    assert_shown_as_text(page.text, HOSTILE[0])

The check parses the page the way a browser splits it into elements (html.parser), so it
catches what a search for "<script>" misses: an attribute broken out of its quotes, an event
handler, a `javascript:` link.
"""

from __future__ import annotations

from html.parser import HTMLParser

SCRIPT_TAG = "<script>alert('xss')</script>"
IMAGE_ONERROR = '<img src=x onerror="alert(1)">'
JAVASCRIPT_LINK = '<a href="javascript:alert(1)">open</a>'
JAVASCRIPT_URL = "javascript:alert(1)"  # where a value becomes a link (a website, a reply-to)
SVG_ONLOAD = "<svg/onload=alert(1)>"
QUOTE_BREAKER = "\"' autofocus onfocus=alert(1) x=\"'><script>alert(2)</script>"
CLOSING_TEXTAREA = "</textarea><script>alert(3)</script>"

HOSTILE: tuple[str, ...] = (
    SCRIPT_TAG,
    IMAGE_ONERROR,
    JAVASCRIPT_LINK,
    JAVASCRIPT_URL,
    SVG_ONLOAD,
    QUOTE_BREAKER,
    CLOSING_TEXTAREA,
)

URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "data"})
OWN_SCRIPTS = "/static/"
# Elements that load or run something else; the console's pages use none of them.
FOREIGN = frozenset({"iframe", "frame", "object", "embed", "base", "applet"})


class _Reading(HTMLParser):
    """What a browser would make of a page: its live parts and the text it shows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.live: list[str] = []
        self.shown: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.live.extend(_live_parts(tag, attrs))
        self.shown.extend(value for _, value in attrs if value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.shown.append(data)


def _live_parts(tag: str, attrs: list[tuple[str, str | None]]) -> list[str]:
    found = [f"<{tag} {name}=...>" for name, _ in attrs if name.startswith("on")]
    found += [
        f"<{tag} {name}={value!r}>"
        for name, value in attrs
        if name in URL_ATTRIBUTES and _runs_script(value or "")
    ]
    source = dict(attrs).get("src") or ""
    if tag == "script" and not source.startswith(OWN_SCRIPTS):
        found.append(f"<script src={source!r}>")
    if tag in FOREIGN:
        found.append(f"<{tag}>")
    return found


def _runs_script(url: str) -> bool:
    # Browsers drop whitespace and control characters before the scheme.
    cleaned = "".join(char for char in url if char > " ").lower()
    return cleaned.startswith(("javascript:", "vbscript:", "data:text/html"))


def read_page(html: str) -> tuple[list[str], str]:
    """The page's live parts (script elements not from /static/, on* attributes, links that
    run script) and the text it shows (text and attribute values, unescaped)."""
    reading = _Reading()
    reading.feed(html)
    reading.close()
    return reading.live, "\n".join(reading.shown)


def assert_no_live_markup(html: str) -> None:
    live, _ = read_page(html)
    assert not live, f"the page has live markup it should not have: {live}"


def assert_shown_as_text(html: str, payload: str) -> None:
    """The payload is on the page as text (escaped in the HTML) and made nothing live."""
    live, shown = read_page(html)
    assert not live, f"the page has live markup it should not have: {live}"
    assert payload in shown, f"{payload!r} is not shown on the page as text"
