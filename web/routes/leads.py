"""A lead's page, and the changes a person makes to it from the console: move it in the
pipeline, give it to a rep (managers), add a note, set the next step.

Each change runs through the same core operations as `touchpoint leads ...`
(handlers/office.py), as a turn of the lead's conversation (or of its contact when it has
none), so it lands on the customer's timeline as the operator's with the person's rep id.
A change that cannot be made is said on the page, never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.records import LEAD_STAGES, Lead, LeadNote, Rep, TouchpointRow
from handlers import lead_desk, office
from storage.uow import UnitOfWork
from web.access import may_see_lead
from web.console import console_of
from web.form_fields import BadInput, text_field, whole_number
from web.lead_views import overdue, rep_names
from web.pages import local_path, render
from web.viewer import Viewer, managers_only, viewer_of

routes = web.RouteTableDef()

CONSOLE_CHANNEL = "console"
NOTE_LIMIT = 4000
STEP_LIMIT = 1000
HISTORY_LIMIT = 2000


class Refused(Exception):
    """A change that cannot be made: `key` says why, on the lead's page, with `status`."""

    def __init__(self, key: str, status: int = 400) -> None:
        super().__init__(key)
        self.key = key
        self.status = status


@dataclass(frozen=True, slots=True)
class LeadView:
    lead: Lead
    names: dict[int, str]
    channel: str | None
    notes: list[LeadNote]
    history: list[TouchpointRow]
    team: list[Rep]


async def load_view(uow: UnitOfWork, lead: Lead) -> LeadView:
    timeline = await uow.touchpoints.search(contact_id=lead.contact_id, limit=HISTORY_LIMIT)
    return LeadView(
        lead=lead,
        names=await rep_names(uow),
        channel=(await uow.leads.channels([lead.id])).get(lead.id),
        notes=await uow.leads.notes(lead.id),
        history=[t for t in reversed(timeline) if t.details.get("lead_id") == lead.id],
        team=[rep for rep in await uow.reps.search() if rep.reached_at is not None],
    )


def lead_id_of(request: web.Request) -> int:
    try:
        return whole_number(request.match_info["lead_id"])
    except BadInput:
        raise web.HTTPNotFound() from None


async def visible_lead(request: web.Request) -> Lead:
    """The lead of the address, when the viewer may see it (else 404)."""
    lead_id = lead_id_of(request)
    lead = await console_of(request).read(lambda uow: uow.leads.get(lead_id))
    if lead is None or not may_see_lead(viewer_of(request), lead):
        raise web.HTTPNotFound()
    return lead


async def workable_lead(request: web.Request) -> tuple[Lead, Viewer]:
    """The lead, which the viewer may change (a rep their own, a manager any)."""
    lead = await visible_lead(request)
    viewer = viewer_of(request)
    if not lead_desk.may_work(viewer.rep, lead):
        raise Refused("lead.not_yours", 403)
    return lead, viewer


async def lead_page(
    request: web.Request, lead: Lead, *, problem: str | None = None, status: int = 200
) -> web.StreamResponse:
    console = console_of(request)
    view = await console.read(lambda uow: load_view(uow, lead))
    context: dict[str, Any] = {
        "view": view,
        "lead": lead,
        "stages": LEAD_STAGES,
        "overdue": overdue(lead, console.clock()),
        "problem": problem,
        "back": request.path if request.method == "GET" else f"/leads/{lead.id}",
        "may_work": lead_desk.may_work(viewer_of(request).rep, lead),
    }
    return render(request, "pipeline/lead.html", context, status=status)


@routes.get("/leads/{lead_id}")
async def show(request: web.Request) -> web.StreamResponse:
    return await lead_page(request, await visible_lead(request))


Work = Callable[[web.Request], Awaitable[None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def change(work: Work) -> Handler:
    """A POST handler from `work(request) -> None`: then back to where the person was (the
    board or the lead); a refusal is said on the lead's page."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            await work(request)
        except (Refused, BadInput) as refused:
            lead = await visible_lead(request)
            status = refused.status if isinstance(refused, Refused) else 400
            return await lead_page(request, lead, problem=refused.key, status=status)
        form = await request.post()
        back = form.get("back")
        raise web.HTTPSeeOther(back if local_path(back) else f"/leads/{lead_id_of(request)}")

    return handler


async def _stage(request: web.Request) -> None:
    lead, viewer = await workable_lead(request)
    form = await request.post()
    stage = text_field(form, "stage", 40).lower()
    reason = text_field(form, "reason", 200)
    refusal = office.stage_refusal(stage, reason)
    if refusal is not None:
        raise Refused(f"lead.{refusal}")
    line = office.stage_line(stage, reason)
    await _run(
        request, lead, viewer, lambda c, le, r, now: lead_desk.set_stage(c, le, r, line, now)
    )


async def _note(request: web.Request) -> None:
    lead, viewer = await workable_lead(request)
    text = text_field(await request.post(), "text", NOTE_LIMIT)
    if not text:
        raise Refused("lead.note_empty")
    await _run(request, lead, viewer, lambda c, le, r, now: lead_desk.note(c, le, r, text, now))


async def _next_step(request: web.Request) -> None:
    lead, viewer = await workable_lead(request)
    form = await request.post()
    when, text = text_field(form, "when", 100), text_field(form, "text", STEP_LIMIT)
    console = console_of(request)
    if not office.reads_as_time(when, console.clock(), console.config.zone):
        raise Refused("lead.unreadable_time")
    line = office.next_step_line(when, text, console.clock(), console.config.zone)
    if line is None:
        raise Refused("lead.step_empty")
    await _run(
        request, lead, viewer, lambda c, le, r, now: lead_desk.next_step(c, le, r, line, now)
    )


async def _run(request: web.Request, lead: Lead, viewer: Viewer, work: office.LeadWork) -> None:
    turns = console_of(request).dispatcher
    await office.change_lead(turns, lead, viewer.rep, work, channel=CONSOLE_CHANNEL)


async def _assign(request: web.Request) -> None:
    manager = managers_only(request).rep
    lead = await visible_lead(request)
    rep_id = whole_number(text_field(await request.post(), "rep", 20))
    console = console_of(request)
    rep = await console.read(lambda uow: uow.reps.get(rep_id))
    if rep is None or not rep.active:
        raise Refused("lead.no_such_rep")
    refusal = office.assign_refusal(lead, rep)
    if refusal == "already":
        return
    if refusal is not None:
        raise Refused(f"lead.assign_{refusal}")
    if not await office.give_lead(console.dispatcher, lead, rep, manager):
        raise Refused("lead.assign_failed", 409)


routes.post("/leads/{lead_id}/stage")(change(_stage))
routes.post("/leads/{lead_id}/note")(change(_note))
routes.post("/leads/{lead_id}/next-step")(change(_next_step))
routes.post("/leads/{lead_id}/assign")(change(_assign))
