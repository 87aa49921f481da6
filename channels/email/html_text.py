"""HTML mail to plain text, with the quoted earlier messages removed at the HTML level first.

Quotes are easy to find in the markup and hard to find in the text it becomes: Gmail wraps them
in `div.gmail_quote`, Apple Mail and Thunderbird in `blockquote type=cite`, Yandex and Mail.ru in
bordered blockquotes; Outlook puts a header block (`#divRplyFwdMsg`, `#appendonsend`, a div with
`border-top:solid #E1E1E1` or `#B5C4DF`, `#OLK_SRC_BODY_SECTION`) and then the old message as
plain siblings, so from such a marker on, nothing more is kept. stdlib `html.parser` is enough:
we need text, not a tree, and it never raises on broken markup.

It is quadratic on some broken markup, though (CVE-2025-6069, unfixed in 3.11.7, 3.12.1 and
3.13.0): for every construct that never closes it scans again to the end of the input. So the
input is capped, and a body with many such constructs is refused (`BrokenMarkup`) before the
parser sees it: a mail client writes none, a hostile sender thousands. What slips past both
is bounded by the time limit of the worker that reads mail (`channels/email/sandbox.py`).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_HTML_CHARS = 200_000  # a larger body is cut before parsing: the text is capped anyway
MAX_UNCLOSED = 1_000  # constructs that never close, each a scan to the end for html.parser

_SKIPPED = frozenset({"script", "style", "head", "title", "noscript", "template", "svg", "xml"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "wbr"})
_BLOCK = frozenset(
    {"p", "div", "table", "tr", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
     "blockquote", "pre", "address", "section", "article", "header", "footer", "center",
     "dl", "dt", "dd", "form", "fieldset", "hr", "tbody", "thead"}
)  # fmt: skip
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"})
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote")
_CUT_IDS = frozenset(
    {
        "divrplyfwdmsg",
        "appendonsend",
        "olk_src_body_section",
        "mail-editor-reference-message-container",
    }
)
_OUTLOOK_HEADER_STYLE = re.compile(r"border-top\s*:\s*solid\s+#(?:e1e1e1|b5c4df)", re.IGNORECASE)
_QUOTE_BAR_STYLE = re.compile(r"border-left\s*:[^;]*(?:solid|#)", re.IGNORECASE)
# A tag, end tag, declaration or processing instruction that reaches the next "<" or the end
# without its ">" (possessive: no backtracking, one pass).
_UNCLOSED_TAG = re.compile(r"<[/!?a-zA-Z][^<>]*+(?=<|\Z)")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u200b]+")
_BLANK_RUN = re.compile(r"\n{3,}")


class BrokenMarkup(ValueError):
    """The HTML has more unclosed constructs than a mail client writes; the message says so."""


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: quoted blocks dropped, paragraphs and line breaks kept.

    Raises `BrokenMarkup` when the body (as cut to MAX_HTML_CHARS) holds over MAX_UNCLOSED
    constructs that never close."""
    html = html[:MAX_HTML_CHARS]
    unclosed = unclosed_constructs(html)
    if unclosed > MAX_UNCLOSED:
        raise BrokenMarkup(f"HTML with {unclosed:,} unclosed tags (more than {MAX_UNCLOSED:,})")
    converter = _Converter()
    converter.feed(html)
    converter.close()
    return converter.text()


def unclosed_constructs(html: str) -> int:
    """Tags that reach the next "<" or the end without ">", and comments without "-->"."""
    comments = html.count("<!--") - html.count("-->")
    return len(_UNCLOSED_TAG.findall(html)) + max(comments, 0)


def _is_quote(tag: str, attrs: dict[str, str]) -> bool:
    classes = attrs.get("class", "").lower()
    if any(name in classes for name in _QUOTE_CLASSES):
        return True
    if tag != "blockquote":
        return False
    if attrs.get("type", "").lower() == "cite":
        return True
    style = attrs.get("style", "")
    # Gmail and Outlook indent with `border:none` blockquotes; a bar on the left is a quote,
    # and a bare blockquote in a mail is a quote far more often than an indentation.
    return bool(_QUOTE_BAR_STYLE.search(style)) or "border:none" not in style.replace(" ", "")


def _starts_old_message(attrs: dict[str, str]) -> bool:
    if attrs.get("id", "").lower() in _CUT_IDS:
        return True
    return bool(_OUTLOOK_HEADER_STYLE.search(attrs.get("style", "")))


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._newlines = 0  # how many line breaks end the text so far
        self._hidden: list[str] = []  # stack of open tags whose content we drop
        self._pre = 0
        self._done = False  # an Outlook header block was seen: the rest is the old message

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        values = {name: value or "" for name, value in attrs}
        if self._hidden:
            self._nest(tag)
        elif tag in _SKIPPED or _is_quote(tag, values):
            self._hidden.append(tag)
        elif _starts_old_message(values):
            self._done = True
        else:
            self._open(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done or self._hidden:
            return
        if _starts_old_message({name: value or "" for name, value in attrs}):
            self._done = True
        elif tag in _VOID:
            self._open(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._done:
            return
        if self._hidden:
            self._unnest(tag)
            return
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in _PARAGRAPH:
            self._break(2)
        elif tag in _BLOCK:
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self._done or self._hidden or not data:
            return
        if not self._pre:
            data = _SPACES.sub(" ", data.replace("\r", " ").replace("\n", " "))
            if self._at_line_start():
                data = data.lstrip(" ")  # markup indentation, not text
        self._emit(data)

    def text(self) -> str:
        lines = (line.rstrip() for line in "".join(self._parts).split("\n"))
        return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip("\n")

    def _open(self, tag: str) -> None:
        if tag == "br":
            self._emit("\n")
        elif tag == "li":
            self._break(1)
            self._emit("- ")
        elif tag in ("td", "th") and not self._at_line_start():
            self._emit(" ")
        elif tag in _PARAGRAPH:
            if tag == "pre":
                self._pre += 1
            self._break(2)
        elif tag in _BLOCK:
            self._break(1)

    def _emit(self, text: str) -> None:
        if not text:
            return
        self._parts.append(text)
        body = text.rstrip("\n")
        trailing = len(text) - len(body)
        self._newlines = trailing if body else self._newlines + trailing

    def _break(self, lines: int) -> None:
        """End the current line (1) or paragraph (2): blocks in a row do not stack up."""
        if self._parts:
            self._emit("\n" * max(0, lines - self._newlines))

    def _at_line_start(self) -> bool:
        return not self._parts or self._newlines > 0

    def _nest(self, tag: str) -> None:
        if self._hidden[0] == "head" and tag == "body":
            self._hidden.clear()  # `</head>` is optional
        elif tag == self._hidden[0] and tag not in _VOID:
            self._hidden.append(tag)  # only the same tag can close the hidden element

    def _unnest(self, tag: str) -> None:
        if tag == self._hidden[0]:
            self._hidden.pop()
