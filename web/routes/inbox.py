"""The inbox: hand-offs waiting for a person and those a person holds (a rep: their own; a
manager: all), kept fresh by web/static/inbox.js; and one hand-off's page, where a person
claims it, answers the customer, closes it or gives it back to the bot.

Each change is a turn of the customer's conversation through the dispatcher, built by the
same handlers/office.py functions `touchpoint handoffs` uses, so the touchpoints carry the
actor `operator` and the person's rep id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from bot.records import Handoff
from bot.texts import Texts
from bot.turn import OperatorChange
from handlers import office, rep_desk
from storage.uow import UnitOfWork
from web.access import may_see_handoff
from web.ages import age_words
from web.changes import apply
from web.console import console_of
from web.forms import BadInput, bad_input, text_field
from web.pages import render
from web.viewer import Viewer, viewer_of

routes = web.RouteTableDef()
WAITING = ("queued", "offered")
LAST_MESSAGES = 3
PAGE_MESSAGES = 30
MAX_ANSWER = 4000  # what the bot relays of a rep's answer (handlers/rep_desk.py)
MAX_SUMMARY = 500
NOTES = ("claimed", "not_claimed", "sent", "not_sent", "closed", "returned", "not_open")


@dataclass(frozen=True, slots=True)
class HandoffView:
    handoff: Handoff
    customer: str
    channel: str
    reason: str
    waited: str
    messages: list[tuple[str, str]]

    @property
    def waiting(self) -> bool:
        return self.handoff.status in WAITING


def reason_words(texts: Texts, reason: str, lang: str) -> str:
    """Why the customer was handed over, in the words the rep's card uses."""
    key = f"rep.reason.{reason}"
    return texts.get(key, lang) if texts.has(key) else reason


async def _view(
    uow: UnitOfWork, texts: Texts, handoff: Handoff, now: datetime, lang: str, last: int
) -> HandoffView:
    contact = await uow.contacts.get(handoff.contact_id)
    conversation = await uow.conversations.get(handoff.conversation_id)
    return HandoffView(
        handoff,
        contact.display_name if contact else "",
        conversation.channel if conversation else "",
        reason_words(texts, handoff.reason, lang),
        age_words(now - handoff.requested_at, lang),
        await uow.messages.recent(handoff.conversation_id, last),
    )


async def _inbox(uow: UnitOfWork, texts: Texts, viewer: Viewer, now: datetime) -> list[HandoffView]:
    found = await uow.handoffs.search(active_only=True)
    seen = sorted((h for h in found if may_see_handoff(viewer, h)), key=lambda h: h.requested_at)
    return [await _view(uow, texts, h, now, viewer.lang, LAST_MESSAGES) for h in seen]


async def _inbox_page(request: web.Request, template: str) -> web.StreamResponse:
    viewer, console = viewer_of(request), console_of(request)
    now = console.clock()
    texts = console.services.texts
    rows = await console.read(lambda uow: _inbox(uow, texts, viewer, now))
    waiting = [row for row in rows if row.waiting]
    active = [row for row in rows if not row.waiting]
    return render(request, template, {"waiting": waiting, "active": active})


@routes.get("/inbox")
async def inbox(request: web.Request) -> web.StreamResponse:
    return await _inbox_page(request, "inbox/index.html")


@routes.get("/inbox/updates")
async def inbox_updates(request: web.Request) -> web.StreamResponse:
    """The lists alone, for the page's script to put in place of the old ones."""
    return await _inbox_page(request, "inbox/lists.html")


# --- one hand-off -------------------------------------------------------------------------------


async def _visible(request: web.Request) -> Handoff:
    """The hand-off of the URL, when the viewer may see it; else the page is not there."""
    viewer, console = viewer_of(request), console_of(request)
    handoff_id = int(request.match_info["handoff_id"])
    handoff = await console.read(lambda uow: uow.handoffs.get(handoff_id))
    if handoff is None or not may_see_handoff(viewer, handoff):
        raise web.HTTPNotFound()
    return handoff


@routes.get(r"/handoffs/{handoff_id:\d{1,12}}")
async def handoff_page(request: web.Request) -> web.StreamResponse:
    handoff, viewer, console = await _visible(request), viewer_of(request), console_of(request)
    now = console.clock()
    texts = console.services.texts
    view = await console.read(
        lambda uow: _view(uow, texts, handoff, now, viewer.lang, PAGE_MESSAGES)
    )
    person = viewer.rep
    may = {
        "claim": handoff.status in WAITING and rep_desk.may_claim(person, handoff),
        "reply": office.may_reply(person, handoff),
        "end": office.may_end(person, handoff),
    }
    note = request.query.get("done")
    return render(
        request,
        "inbox/handoff.html",
        {"view": view, "may": may, "note": note if note in NOTES else None},
    )


async def _apply(
    request: web.Request, change: OperatorChange, done: tuple[str, str]
) -> web.HTTPSeeOther:
    return await apply(request, change, f"/handoffs/{request.match_info['handoff_id']}", done)


@routes.post(r"/handoffs/{handoff_id:\d{1,12}}/claim")
async def claim(request: web.Request) -> web.StreamResponse:
    handoff = await _visible(request)
    change = office.handoff_claim(handoff, viewer_of(request).rep)
    raise await _apply(request, change, ("claimed", "not_claimed"))


@routes.post(r"/handoffs/{handoff_id:\d{1,12}}/reply")
async def reply(request: web.Request) -> web.StreamResponse:
    handoff = await _visible(request)
    try:
        text = text_field(await request.post(), "text", limit=MAX_ANSWER)
    except BadInput as error:
        return bad_input(request, error)
    change = office.handoff_reply(handoff, viewer_of(request).rep, text)
    raise await _apply(request, change, ("sent", "not_sent"))


@routes.post(r"/handoffs/{handoff_id:\d{1,12}}/close")
async def close(request: web.Request) -> web.StreamResponse:
    handoff = await _visible(request)
    form = await request.post()
    try:
        summary = text_field(form, "summary", limit=MAX_SUMMARY, required=False)
    except BadInput as error:
        return bad_input(request, error)
    returned = form.get("to") == "bot"
    change = office.handoff_end(
        handoff, returned=returned, summary=summary or None, person=viewer_of(request).rep
    )
    raise await _apply(request, change, ("returned" if returned else "closed", "not_open"))
