"""Who may see what, in one place: a manager sees everything; a rep sees their own leads (owned,
or offered to them now), the hand-offs they hold or held, and the contacts of those.

Pages ask here before showing a row; something a viewer may not see is answered as not there
(404), the same as something that does not exist, so its existence is not revealed either.
"""

from __future__ import annotations

from aiohttp import web

from bot.records import Handoff, Lead
from storage.uow import UnitOfWork
from web.viewer import Viewer


def may_see_lead(viewer: Viewer, lead: Lead) -> bool:
    return viewer.manager or viewer.rep.id in (lead.owner_rep_id, lead.offered_rep_id)


def may_see_handoff(viewer: Viewer, handoff: Handoff) -> bool:
    return viewer.manager or handoff.rep_id == viewer.rep.id


async def may_see_contact(uow: UnitOfWork, viewer: Viewer, contact_id: int) -> bool:
    return viewer.manager or await uow.console_access.touches(viewer.rep.id, contact_id)


async def contacts_seen_by(uow: UnitOfWork, viewer: Viewer) -> set[int] | None:
    """The contacts a rep may see; None for a manager (all of them)."""
    return None if viewer.manager else await uow.console_access.contacts_touched(viewer.rep.id)


def not_there() -> web.HTTPNotFound:
    return web.HTTPNotFound()
