"""Text rules of the Bot API the fake enforces: UTF-16 entity offsets, command entities, and
what "4096 characters" counts once a parse_mode has turned markup into entities."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

# Telegram measures entity offsets and lengths in UTF-16 code units, so an emoji before a
# command shifts it by two, not one.
COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")
# Telegram's HTML subset (Bot API "HTML style"); anything else is refused, not ignored.
HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"tg-emoji", "code", "pre", "blockquote"}
)
# In MarkdownV2 these must always be escaped, even where they could not start an entity
# (">" is left out: at the start of a line it opens a quotation).
MARKDOWN_V2_RESERVED = frozenset("#+-={}.!")


class EntityError(ValueError):
    """The text cannot be parsed with its parse_mode; the message says why, as Telegram does."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[dict[str, Any]]:
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0])}
        for m in COMMAND.finditer(text)
    ]


def visible_text(text: str, parse_mode: str | None) -> str:
    """The text the user would see; raises EntityError where Telegram answers "can't parse"."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _html_text(text)
    if mode == "markdownv2":
        return _markdown_v2_text(text)
    return text


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.open_tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise EntityError(f'Unsupported start tag "{tag}"')
        self.open_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        expected = self.open_tags.pop() if self.open_tags else None
        if tag != expected:
            raise EntityError(f'Unmatched end tag, expected "</{expected}>", found "</{tag}>"')

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_text(text: str) -> str:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    if parser.open_tags:
        raise EntityError(
            f'Can\'t find end tag corresponding to start tag "{parser.open_tags[-1]}"'
        )
    return "".join(parser.parts)


def _markdown_v2_text(text: str) -> str:
    """Checks only the always-reserved characters (the usual bug: an unescaped "." or "!") and
    drops escapes; formatting markers are counted as text, so the length is an upper bound."""
    parts: list[str] = []
    escaped = False
    for char in text:
        if escaped or char != "\\":
            if not escaped and char in MARKDOWN_V2_RESERVED:
                raise EntityError(
                    f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
                )
            parts.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(parts)
