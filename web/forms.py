"""A page's reading of its forms, on top of web/form_fields.py: a field that must be filled in,
a choice from a list, and the 400 page that says in the viewer's language what was wrong."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from web import form_fields
from web.form_fields import BadInput
from web.i18n import translate
from web.pages import page_language, render

Form = Mapping[str, object]  # a posted form

__all__ = ["BadInput", "Form", "bad_input", "choice_field", "text_field"]


def text_field(form: Form, name: str, *, limit: int, required: bool = True) -> str:
    """The field's text, trimmed, without control characters; BadInput when too long, or empty
    and `required`."""
    text = form_fields.text_field(form, name, limit)
    if required and not text:
        raise BadInput("input.empty")
    return text


def choice_field(form: Form, name: str, choices: tuple[str, ...]) -> str:
    value = form.get(name)
    if not isinstance(value, str) or value not in choices:
        raise BadInput("input.not_a_choice")
    return value


def bad_input(request: web.Request, error: BadInput) -> web.Response:
    reason = translate(error.key, page_language(request))
    context = {"message": "error.bad_request", "fields": {"reason": reason}}
    return render(request, "error.html", context, status=400)
