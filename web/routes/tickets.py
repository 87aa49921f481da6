"""Tickets: the list (a rep: those of the contacts they may see; a manager: all), filtered by
status, overdue (the report's definition: bot/reports.overdue_cutoff) and the day opened; and
one ticket's page, where a person changes its status (the customer is told, as by `touchpoint
tickets set-status`) or adds a note of the team. Changes go through handlers/office.py."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from bot.kinds import TouchpointKind as Kind
from bot.records import Ticket, TouchpointRow, ticket_id_from_number
from bot.reports import overdue_cutoff
from bot.turn import OperatorChange
from handlers import office
from storage.repos.tickets import STATUSES, TicketFilter, is_overdue
from storage.uow import UnitOfWork
from web.access import contacts_seen_by, may_see_contact
from web.ages import age_words
from web.changes import apply
from web.console import Console, console_of
from web.forms import BadInput, bad_input, choice_field, text_field
from web.pages import render
from web.viewer import Viewer, viewer_of

routes = web.RouteTableDef()
MAX_NOTE = 2000
HISTORY = (Kind.TICKET_OPENED, Kind.TICKET_UPDATED, Kind.TICKET_STATUS_CHANGED, Kind.TICKET_NOTED)
NOTES = ("status", "same_status", "noted")


@dataclass(frozen=True, slots=True)
class TicketRow:
    ticket: Ticket
    customer: str
    age: str
    overdue: bool


async def _row(
    uow: UnitOfWork, ticket: Ticket, now: datetime, cutoff: datetime, lang: str
) -> TicketRow:
    contact = await uow.contacts.get(ticket.contact_id)
    name = contact.display_name if contact else ""
    return TicketRow(
        ticket, name, age_words(now - ticket.created_at, lang), is_overdue(ticket, cutoff)
    )


def _day(text: str, console: Console, *, next_day: bool = False) -> datetime | None:
    """A YYYY-MM-DD of the query as the start of that day (or of the next: `until` includes
    its day) in the company's time zone; None when not given."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text) + timedelta(days=next_day)
    except ValueError:
        raise BadInput("input.not_a_date") from None
    return datetime.combine(day, time(), tzinfo=console.config.zone)


def _asked(request: web.Request, console: Console, cutoff: datetime) -> TicketFilter:
    query = request.query
    status = query.get("status", "")
    if status and status not in STATUSES:
        raise BadInput("input.not_a_choice")
    return TicketFilter(
        status=status or None,
        overdue_before=cutoff if query.get("overdue") == "1" else None,
        since=_day(query.get("since", ""), console),
        until=_day(query.get("until", ""), console, next_day=True),
    )


@routes.get("/tickets")
async def tickets(request: web.Request) -> web.StreamResponse:
    viewer, console = viewer_of(request), console_of(request)
    now = console.clock()
    cutoff = overdue_cutoff(now, console.config.followup_after)
    try:
        where = _asked(request, console, cutoff)
    except BadInput as error:
        return bad_input(request, error)

    async def load(uow: UnitOfWork) -> list[TicketRow]:
        seen = replace(where, contact_ids=await contacts_seen_by(uow, viewer))
        found = await uow.tickets.matching(seen)
        return [await _row(uow, ticket, now, cutoff, viewer.lang) for ticket in found]

    rows = await console.read(load)
    asked = {key: request.query.get(key, "") for key in ("status", "overdue", "since", "until")}
    return render(
        request, "tickets/index.html", {"rows": rows, "asked": asked, "statuses": STATUSES}
    )


# --- one ticket ---------------------------------------------------------------------------------


async def _visible(uow: UnitOfWork, viewer: Viewer, number: int) -> Ticket | None:
    ticket = await uow.tickets.get(ticket_id_from_number(number))
    if ticket is None or not await may_see_contact(uow, viewer, ticket.contact_id):
        return None
    return ticket


async def _ticket_of(request: web.Request) -> Ticket:
    viewer, console = viewer_of(request), console_of(request)
    number = int(request.match_info["number"])
    ticket = await console.read(lambda uow: _visible(uow, viewer, number))
    if ticket is None:
        raise web.HTTPNotFound()
    return ticket


async def _details(uow: UnitOfWork, ticket: Ticket) -> dict[str, Any]:
    names = {rep.id: rep.name for rep in await uow.reps.search(include_inactive=True)}
    notes = [
        (_author(author, names), text, at)
        for author, text, at in await uow.tickets.notes(ticket.id)
    ]
    timeline = await uow.touchpoints.search(contact_id=ticket.contact_id, limit=1000)
    contact = await uow.contacts.get(ticket.contact_id)
    return {
        "customer": contact.display_name if contact else "",
        "notes": notes,
        "history": [t for t in timeline if _about(t, ticket)],
        "names": names,
    }


def _about(touchpoint: TouchpointRow, ticket: Ticket) -> bool:
    return touchpoint.kind in HISTORY and touchpoint.details.get("ticket") == ticket.number


def _author(author: str, names: dict[int, str]) -> str:
    """A note's author as stored ("rep:7", "customer") in words a person reads."""
    kind, _, rep_id = author.partition(":")
    if kind == "rep" and rep_id.isdigit():
        return names.get(int(rep_id), author)
    return author


@routes.get(r"/tickets/{number:\d{1,12}}")
async def ticket_page(request: web.Request) -> web.StreamResponse:
    ticket, console = await _ticket_of(request), console_of(request)
    details = await console.read(lambda uow: _details(uow, ticket))
    note = request.query.get("done")
    context = {
        "ticket": ticket,
        "statuses": STATUSES,
        "note": note if note in NOTES else None,
        **details,
    }
    return render(request, "tickets/ticket.html", context)


async def _apply(
    request: web.Request, ticket: Ticket, change: OperatorChange, done: tuple[str, str]
) -> web.HTTPSeeOther:
    return await apply(request, change, f"/tickets/{ticket.number}", done)


@routes.post(r"/tickets/{number:\d{1,12}}/status")
async def set_status(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket_of(request)
    try:
        status = choice_field(await request.post(), "status", STATUSES)
    except BadInput as error:
        return bad_input(request, error)
    change = office.ticket_status(ticket, status, viewer_of(request).rep.id)
    raise await _apply(request, ticket, change, ("status", "same_status"))


@routes.post(r"/tickets/{number:\d{1,12}}/note")
async def add_note(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket_of(request)
    try:
        text = text_field(await request.post(), "text", limit=MAX_NOTE)
    except BadInput as error:
        return bad_input(request, error)
    change = office.ticket_note(ticket, text, viewer_of(request).rep.id)
    raise await _apply(request, ticket, change, ("noted", "noted"))
