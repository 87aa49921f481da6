"""Contacts: the list (a manager finds anyone by name or address; a rep sees those they work),
a contact's page (one timeline across channels, newest first, page by page; identities proven
and only typed; what is open), a contact point logged by hand, and merging two contacts or
undoing a merge (managers), each a turn of its own through the dispatcher (`contact_turn`)
with the same core operations as `touchpoint contacts`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bot.dates import read_moment
from bot.records import Contact
from handlers.contact_desk import MEDIUMS, CannotLog, log_offline
from handlers.identity import CannotMerge, CannotUnmerge, merge_contacts, unmerge
from storage.uow import UnitOfWork
from web.access import contacts_seen_by, may_see_contact
from web.console import Console, console_of
from web.contact_views import ContactView, contact_view
from web.form_fields import BadInput, query_text, text_field, whole_number
from web.pages import render
from web.viewer import for_managers, managers_only, viewer_of

routes = web.RouteTableDef()

CONSOLE_CHANNEL = "console"
LIST_PAGE = 50
MAX_PAGE = 100_000
OUTCOME_LIMIT = 2000
LOG_PROBLEMS = {
    "medium": "contacts.log_medium",
    "outcome": "contacts.log_outcome_empty",
    "future": "contacts.log_future",
}


def number_in_path(request: web.Request, name: str) -> int:
    try:
        return whole_number(request.match_info[name])
    except BadInput:
        raise web.HTTPNotFound() from None


def page_number(request: web.Request) -> int:
    given = request.query.get("page", "")
    page = whole_number(given) if given else 0
    if page > MAX_PAGE:
        raise BadInput("form.not_a_number")
    return page


async def visible_contact(request: web.Request) -> Contact:
    """The contact of the address, when the viewer may see it (else 404)."""
    contact_id = number_in_path(request, "contact_id")
    viewer = viewer_of(request)

    async def load(uow: UnitOfWork) -> Contact | None:
        contact = await uow.contacts.get(contact_id)
        return contact if contact and await may_see_contact(uow, viewer, contact_id) else None

    contact = await console_of(request).read(load)
    if contact is None:
        raise web.HTTPNotFound()
    return contact


# --- the list ----------------------------------------------------------------------------------


@routes.get("/contacts")
async def contact_list(request: web.Request) -> web.StreamResponse:
    viewer = viewer_of(request)
    wanted = query_text(request.query.get("q", ""))
    try:
        page = page_number(request)
    except BadInput as bad:
        return render(request, "contacts/list.html", _listed(wanted, [], 0, bad.key), status=400)

    async def load(uow: UnitOfWork) -> list[Contact]:
        among = await contacts_seen_by(uow, viewer)
        return await uow.contacts.find(
            wanted, among=among, offset=page * LIST_PAGE, limit=LIST_PAGE + 1
        )

    found = await console_of(request).read(load)
    return render(request, "contacts/list.html", _listed(wanted, found, page, None))


def _listed(wanted: str, found: list[Contact], page: int, problem: str | None) -> dict[str, Any]:
    return {
        "q": wanted,
        "contacts": found[:LIST_PAGE],
        "page": page,
        "more": len(found) > LIST_PAGE,
        "problem": problem,
    }


@routes.get("/contacts/conflicts")
@for_managers
async def conflicts(request: web.Request) -> web.StreamResponse:

    async def load(uow: UnitOfWork) -> dict[str, Any]:
        found = await uow.contacts.conflicts()
        ids = {c.contact_id for c in found} | {c.owner_contact_id for c in found}
        contacts = {i: await uow.contacts.get(i) for i in ids}
        return {"conflicts": found, "contacts": contacts}

    return render(request, "contacts/conflicts.html", await console_of(request).read(load))


# --- a contact's page --------------------------------------------------------------------------


@routes.get("/contacts/{contact_id}")
async def show(request: web.Request) -> web.StreamResponse:
    contact = await visible_contact(request)
    try:
        page = page_number(request)
    except BadInput as bad:
        return await contact_page(request, contact, problem=bad.key, status=400)
    return await contact_page(request, contact, page=page)


async def contact_page(
    request: web.Request, contact: Contact, *, page: int = 0, problem: str | None = None,
    status: int = 200,
) -> web.StreamResponse:  # fmt: skip
    viewer = viewer_of(request)
    console = console_of(request)
    view = await console.read(
        lambda uow: contact_view(uow, contact, page=page, with_conflicts=viewer.manager)
    )
    context = {
        "view": view,
        "contact": contact,
        "page": page,
        "mediums": MEDIUMS,
        "problem": problem,
        "now": console.clock(),
    }
    return render(request, "contacts/contact.html", context, status=status)


@routes.post("/contacts/{contact_id}/log")
async def log(request: web.Request) -> web.StreamResponse:
    contact = await visible_contact(request)
    person = viewer_of(request).rep
    console = console_of(request)
    form = await request.post()
    try:
        medium = text_field(form, "medium", 20)
        outcome = text_field(form, "outcome", OUTCOME_LIMIT)
        at = _when(text_field(form, "when", 40), console)
        done = await console.dispatcher.contact_turn(
            lambda ctx, now: log_offline(ctx, contact.id, person, medium, outcome, at, now),
            channel=CONSOLE_CHANNEL,
        )
    except BadInput as bad:
        return await contact_page(request, contact, problem=bad.key, status=400)
    except CannotLog as refused:
        return await contact_page(request, contact, problem=LOG_PROBLEMS[refused.code], status=400)
    if not done:
        raise web.HTTPNotFound()
    raise web.HTTPSeeOther(f"/contacts/{contact.id}")


def _when(text: str, console: Console) -> datetime:
    if not text:
        return console.clock()
    try:
        return read_moment(text, console.config.zone)
    except ValueError:
        raise BadInput("contacts.log_bad_time") from None


# --- merging -----------------------------------------------------------------------------------


@routes.get("/contacts/{contact_id}/merge")
@for_managers
async def merge_question(request: web.Request) -> web.StreamResponse:
    target = await visible_contact(request)
    if "source" not in request.query:  # the question is asked from the contact's page
        raise web.HTTPSeeOther(f"/contacts/{target.id}")
    try:
        source_id = whole_number(request.query.get("source", ""), key="contacts.merge_which")
    except BadInput as bad:
        return await contact_page(request, target, problem=bad.key, status=400)
    return await _merge_page(request, target, source_id)


async def _merge_page(
    request: web.Request, target: Contact, source_id: int, problem: str | None = None,
    status: int = 200,
) -> web.StreamResponse:  # fmt: skip
    console = console_of(request)

    async def load(uow: UnitOfWork) -> ContactView | None:
        source = await uow.contacts.get(source_id)
        if source is None:
            return None
        return await contact_view(uow, source, page=0, with_conflicts=False)

    source = await console.read(load)
    if source is None:
        return await contact_page(request, target, problem="contacts.merge_unknown", status=400)
    context = {"target": target, "source": source, "problem": problem}
    return render(request, "contacts/merge.html", context, status=status)


@routes.post("/contacts/{contact_id}/merge")
@for_managers
async def merge(request: web.Request) -> web.StreamResponse:
    manager = managers_only(request).rep
    target = await visible_contact(request)
    form = await request.post()
    try:
        source_id = whole_number(text_field(form, "source", 20), key="contacts.merge_which")
    except BadInput as bad:
        return await contact_page(request, target, problem=bad.key, status=400)
    try:
        await console_of(request).dispatcher.contact_turn(
            lambda ctx, now: merge_contacts(ctx, source_id, target.id, manager, now),
            channel=CONSOLE_CHANNEL,
        )
    except CannotMerge as refused:
        return await contact_page(
            request, target, problem=f"contacts.merge_{refused.code}", status=400
        )
    raise web.HTTPSeeOther(f"/contacts/{target.id}")


@routes.post("/merges/{merge_id}/undo")
@for_managers
async def undo(request: web.Request) -> web.StreamResponse:
    manager = managers_only(request).rep
    merge_id = number_in_path(request, "merge_id")
    console = console_of(request)
    found = await console.read(lambda uow: uow.merges.get(merge_id))
    if found is None:
        raise web.HTTPNotFound()
    try:
        await console.dispatcher.contact_turn(
            lambda ctx, now: unmerge(ctx, merge_id, now, manager), channel=CONSOLE_CHANNEL
        )
    except CannotUnmerge as refused:
        target = await console.read(lambda uow: uow.contacts.get(found.target_contact_id))
        assert target is not None
        return await contact_page(
            request, target, problem=f"contacts.unmerge_{refused.code}", status=409
        )
    raise web.HTTPSeeOther(f"/contacts/{found.target_contact_id}")
