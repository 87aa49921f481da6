"""Linking a person's identities across channels.

A phone number shared through Telegram's "share my contact" button is verified by Telegram to
belong to the sender, so it may join this contact to the one who already has that number. A
number or address merely typed in is not proof: it never moves an identity (see leads.py).

A merge is an event (`contact_merges`), not a rewrite of history: it remembers the rows it
moved, so that it can be undone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import ContactMerge, Conversation
from bot.turn import Context, Event, Turn
from handlers.contact_info import normalise_phone


@dataclass(frozen=True, slots=True)
class Linked:
    events: tuple[Event, ...] = ()
    conversation: Conversation | None = None


async def claim_verified_phone(turn: Turn, ctx: Context) -> Linked:
    shared = turn.message.shared_phone
    phone = normalise_phone(shared, turn.lang) if shared else None
    if phone is None:
        return Linked()
    link = await ctx.uow.contacts.link(turn.contact_id, "phone", phone, turn.now)
    if link.outcome != "conflict":
        return Linked()
    return await _merge(turn, ctx, phone, link.owner_contact_id)


async def _merge(turn: Turn, ctx: Context, phone: str, owner: int) -> Linked:
    """The sender's contact joins the one that has the number; the turn goes on as the owner's."""
    merge_id = await ctx.uow.merges.merge(turn.contact_id, owner, turn.now)
    merge = await ctx.uow.merges.get(merge_id)
    assert merge is not None
    event = Event(Kind.CONTACTS_MERGED, {**_details(merge), "phone": phone}, Actor.SYSTEM)
    moved = replace(turn.conversation, contact_id=owner)
    return Linked(events=(event,), conversation=moved)


def _details(merge: ContactMerge) -> dict[str, object]:
    return {
        "merge_id": merge.id,
        "from_contact_id": merge.source_contact_id,
        "into_contact_id": merge.target_contact_id,
        "moved": merge.counts,
    }
