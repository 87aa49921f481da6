"""Reading what a person typed into a form: a clear refusal for what cannot be right (nothing,
far too much, control characters), shown as a 400 page in their language."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiohttp import web

from web.i18n import translate
from web.pages import page_language, render

# What a keyboard does not type (tabs and line breaks are text).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
Form = Mapping[str, object]  # a posted form


class BadInput(ValueError):
    """A form field that cannot be used; `reason` is a text key (web/texts/forms.toml)."""

    def __init__(self, reason: str, **fields: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields = fields


def text_field(form: Form, name: str, *, limit: int, required: bool = True) -> str:
    """The field's text, trimmed; BadInput when missing (and required), too long or not text."""
    value = form.get(name, "")
    if not isinstance(value, str):
        raise BadInput("forms.not_text")
    value = value.strip()
    if required and not value:
        raise BadInput("forms.empty")
    if len(value) > limit:
        raise BadInput("forms.too_long", limit=limit)
    if CONTROL.search(value):
        raise BadInput("forms.control")
    return value


def choice_field(form: Form, name: str, choices: tuple[str, ...]) -> str:
    value = form.get(name)
    if not isinstance(value, str) or value not in choices:
        raise BadInput("forms.not_a_choice")
    return value


def bad_input(request: web.Request, error: BadInput) -> web.Response:
    reason = translate(error.reason, page_language(request), **error.fields)
    context = {"message": "error.bad_request", "fields": {"reason": reason}}
    return render(request, "error.html", context, status=400)
