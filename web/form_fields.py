"""Reading what a person typed into a console form: text without control characters, within
a length, and numbers that are numbers. Bad input is a `BadInput` with the words' key, which
a page shows as a message (never a 500)."""

from __future__ import annotations

from collections.abc import Mapping

from handlers.contact_info import without_controls


class BadInput(Exception):
    """What was wrong, as a key of the console's words (`t(key)`)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def text_field(form: Mapping[str, object], name: str, limit: int) -> str:
    """The field's text, trimmed and without control characters ("" when missing); raises
    `BadInput("form.too_long")` beyond `limit` characters."""
    value = form.get(name)
    text = without_controls(value) if isinstance(value, str) else ""
    if len(text) > limit:
        raise BadInput("form.too_long")
    return text


def whole_number(text: str, *, key: str = "form.not_a_number") -> int:
    """A non-negative whole number, as typed; raises `BadInput(key)` otherwise."""
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise BadInput(key)
    return int(value)


def query_text(value: str, limit: int = 200) -> str:
    """A search or filter word from an address: trimmed, at most `limit` characters, without
    control characters (a NUL is no word, and PostgreSQL refuses it)."""
    return without_controls(value)[:limit]
