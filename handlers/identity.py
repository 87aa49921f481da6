"""Linking a person's identities across channels.

A phone number shared through Telegram's "share my contact" button is verified by Telegram to
belong to the sender, so it may join this contact to the one who already has that number. A
number or address merely typed in is not proof: it never moves an identity (see leads.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import Conversation
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
    await ctx.uow.contacts.merge(turn.contact_id, link.owner_contact_id)
    event = Event(
        Kind.IDENTITIES_LINKED,
        {
            "phone": phone,
            "from_contact_id": turn.contact_id,
            "into_contact_id": link.owner_contact_id,
        },
        Actor.SYSTEM,
    )
    moved = replace(turn.conversation, contact_id=link.owner_contact_id)
    return Linked(events=(event,), conversation=moved)
