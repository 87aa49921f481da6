"""The team page (managers only; a rep is answered as if it were not there): who is on the
team, and the manager's changes to it — add a rep, change their languages, role and capacity,
put them on or off duty, remove them, send them a one-time sign-in link on their own channel.

Each change is the same handlers/team_admin.py action `touchpoint reps` runs, through the
dispatcher's team turn, recorded with the actor `operator` on the channel "console".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from bot.records import Rep
from bot.turn import TeamAction
from handlers import team_admin
from handlers.team_admin import BadTeamInput, NewRep
from storage.repos.leads import LeadFilter
from storage.repos.reps import AddressTaken
from storage.uow import UnitOfWork
from web.changes import CONSOLE_CHANNEL
from web.console import console_of
from web.form_fields import whole_number
from web.forms import BadInput, Form, bad_input, text_field
from web.pages import render
from web.viewer import for_managers, viewer_of

routes = web.RouteTableDef()
T = TypeVar("T")
NOTES = ("added", "updated", "duty_on", "duty_off", "removed", "link_sent", "unchanged", "taken")
ID = r"{rep_id:\d{1,12}}"


@dataclass(frozen=True, slots=True)
class Member:
    rep: Rep
    handoffs: int
    leads: int


async def _team(uow: UnitOfWork) -> list[Member]:
    return [
        Member(
            rep,
            await uow.handoffs.load_of(rep.id),
            len(await uow.leads.search(where=LeadFilter(owner_rep_id=rep.id, open_only=True))),
        )
        for rep in await uow.reps.search()
    ]


@routes.get("/reps")
@for_managers
async def team(request: web.Request) -> web.StreamResponse:
    members = await console_of(request).read(_team)
    note = request.query.get("done")
    context = {"members": members, "note": note if note in NOTES else None}
    return render(request, "reps/index.html", context)


# --- reading the forms --------------------------------------------------------------------------


def _bad(error: BadTeamInput) -> BadInput:
    return BadInput(f"reps.bad.{error.field}")


def _languages(form: Form) -> tuple[str, ...]:
    """One checkbox per language (`lang_en`, `lang_ru`)."""
    chosen = [code for code in team_admin.LANGUAGES if form.get(f"lang_{code}")]
    return team_admin.languages(",".join(chosen))


def _capacity(form: Form) -> int:
    return team_admin.capacity(whole_number(text_field(form, "capacity", limit=12)))


def _new_rep(form: Form) -> NewRep:
    telegram = text_field(form, "telegram", limit=32, required=False) or None
    email = text_field(form, "email", limit=254, required=False) or None
    if telegram is None and email is None:
        raise BadInput("reps.bad.no_address")
    return NewRep(
        team_admin.name(text_field(form, "name", limit=100)),
        _languages(form),
        team_admin.identities(telegram, email),
        team_admin.role(text_field(form, "role", limit=16)),
        _capacity(form),
    )


def _changes(form: Form) -> dict[str, Any]:
    return {
        "languages": _languages(form),
        "role": team_admin.role(text_field(form, "role", limit=16)),
        "capacity": _capacity(form),
    }


# --- the changes --------------------------------------------------------------------------------


async def _run(request: web.Request, action: TeamAction, done: str) -> web.HTTPSeeOther:
    dispatcher = console_of(request).dispatcher
    try:
        applied = await dispatcher.team_turn(action, channel=CONSOLE_CHANNEL)
    except AddressTaken:
        return web.HTTPSeeOther("/reps?done=taken")
    return web.HTTPSeeOther(f"/reps?done={done if applied else 'unchanged'}")


async def _read_form(request: web.Request, read: Callable[[Form], T]) -> T:
    form = await request.post()
    try:
        return read(form)
    except BadTeamInput as error:
        raise _bad(error) from None


@routes.post("/reps")
@for_managers
async def add(request: web.Request) -> web.StreamResponse:
    try:
        new = await _read_form(request, _new_rep)
    except BadInput as error:
        return bad_input(request, error)
    raise await _run(request, team_admin.add(new), "added")


@routes.post(f"/reps/{ID}/update")
@for_managers
async def update(request: web.Request) -> web.StreamResponse:
    try:
        changes = await _read_form(request, _changes)
    except BadInput as error:
        return bad_input(request, error)
    rep_id = int(request.match_info["rep_id"])
    raise await _run(request, team_admin.update(rep_id, changes, ()), "updated")


@routes.post(f"/reps/{ID}/duty")
@for_managers
async def duty(request: web.Request) -> web.StreamResponse:
    on_duty = (await request.post()).get("on") == "1"
    action = team_admin.duty(int(request.match_info["rep_id"]), on_duty)
    raise await _run(request, action, "duty_on" if on_duty else "duty_off")


@routes.post(f"/reps/{ID}/remove")
@for_managers
async def remove(request: web.Request) -> web.StreamResponse:
    raise await _run(request, team_admin.remove(int(request.match_info["rep_id"])), "removed")


@routes.post(f"/reps/{ID}/login-link")
@for_managers
async def login_link(request: web.Request) -> web.StreamResponse:
    """The link goes to the rep on their own channel; the page never shows it."""
    manager = viewer_of(request)
    rep_id = int(request.match_info["rep_id"])
    action = team_admin.login_link(rep_id, by_rep_id=manager.rep.id)
    raise await _run(request, action, "link_sent")
