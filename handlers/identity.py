"""Linking a person's identities across channels, and undoing a link that was wrong.

A phone number shared through Telegram's "share my contact" button is verified by Telegram to
belong to the sender. When another contact has it proven too, the two are one person and are
merged; when another contact only typed it (a claim, see leads.py), the claim moves to the
sender instead: a typed number is never a merge target, nor proof of anything.

A merge is an event (`contact_merges`), not a rewrite of history: it remembers the rows it
moved, so an operator can undo it (`touchpoint contacts unmerge`). A manager may also decide
that two contacts are one (`touchpoint contacts merge`, the console): the same merge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import ContactMerge, Conversation, Rep
from bot.turn import ContactEvent, Context, Event, Turn
from handlers.contact_info import normalise_phone


@dataclass(frozen=True, slots=True)
class Linked:
    events: tuple[Event, ...] = ()
    conversation: Conversation | None = None


class CannotUnmerge(Exception):
    """Why a merge cannot be undone now, in words for the operator; nothing was changed.
    `code` names the reason for a face that speaks other words ("unknown", "undone",
    "merged_on")."""

    def __init__(self, message: str, code: str = "unknown") -> None:
        super().__init__(message)
        self.code = code


class CannotMerge(Exception):
    """Why two contacts cannot be merged, in words for the operator; nothing was changed.
    `code`: "unknown" (no such contact), "same", "merged" (one of them was merged into
    another contact: merge into that one)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


async def claim_verified_phone(turn: Turn, ctx: Context) -> Linked:
    shared = turn.message.shared_phone
    phone = normalise_phone(shared, turn.lang) if shared else None
    if phone is None:
        return Linked()
    link = await ctx.uow.contacts.link(turn.contact_id, "phone", phone, turn.now)
    if link.outcome == "moved":  # another contact had only typed it: now it is proven this one's
        details = {"channel": "phone", "address": phone, "from_contact_id": link.owner_contact_id}
        return Linked(events=(Event(Kind.CLAIM_MOVED, details, Actor.SYSTEM),))
    if link.outcome != "conflict":
        return Linked()
    if await ctx.uow.merges.were_separated(turn.contact_id, link.owner_contact_id):
        return await _kept_apart(turn, ctx, phone, link.owner_contact_id)
    return await _merge(turn, ctx, phone, link.owner_contact_id)


async def _merge(turn: Turn, ctx: Context, phone: str, owner: int) -> Linked:
    """The sender's contact joins the one that has the number; the turn goes on as the owner's."""
    merge_id = await ctx.uow.merges.merge(turn.contact_id, owner, turn.now)
    merge = await ctx.uow.merges.get(merge_id)
    assert merge is not None
    event = Event(Kind.CONTACTS_MERGED, {**_details(merge), "phone": phone}, Actor.SYSTEM)
    moved = replace(turn.conversation, contact_id=owner)
    return Linked(events=(event,), conversation=moved)


async def _kept_apart(turn: Turn, ctx: Context, phone: str, owner: int) -> Linked:
    """An operator undid a merge of these two contacts: the same proof shared again does not
    overrule that decision. The conflict is kept for review instead."""
    await ctx.uow.contacts.record_conflict(turn.contact_id, owner, "phone", phone, turn.now)
    details = {"channel": "phone", "address": phone, "owner_contact_id": owner, "separated": True}
    return Linked(events=(Event(Kind.IDENTITY_CONFLICT, details, Actor.SYSTEM),))


async def merge_contacts(
    ctx: Context, source_id: int, target_id: int, person: Rep | None, now: datetime
) -> tuple[ContactEvent, ...]:
    """A person's decision that two contacts are one: `source_id` joins `target_id` as a
    verified proof would join them (undoable the same way), on the target's timeline (which
    reads across the source's). Raises `CannotMerge`."""
    await _mergeable(ctx, source_id, target_id)
    merge_id = await ctx.uow.merges.merge(source_id, target_id, now)
    await ctx.uow.contacts.settle_conflicts(source_id, target_id)
    merge = await ctx.uow.merges.get(merge_id)
    assert merge is not None
    details = {**_details(merge), **_by(person)}
    return (ContactEvent(target_id, Event(Kind.CONTACTS_MERGED, details, Actor.OPERATOR)),)


async def _mergeable(ctx: Context, source_id: int, target_id: int) -> None:
    if source_id == target_id:
        raise CannotMerge(f"contact {source_id} cannot be merged into itself", "same")
    for contact_id in (source_id, target_id):
        if await ctx.uow.contacts.get(contact_id) is None:
            raise CannotMerge(f"contact {contact_id} not found", "unknown")
        later = await ctx.uow.merges.standing_out_of(contact_id)
        if later is not None:
            raise CannotMerge(
                f"contact {contact_id} was merged into contact {later.target_contact_id} "
                f"(merge {later.id}): merge with that one",
                "merged",
            )


def _by(person: Rep | None) -> dict[str, object]:
    return {"rep_id": person.id} if person is not None else {}


async def unmerge(
    ctx: Context, merge_id: int, now: datetime, person: Rep | None = None
) -> tuple[ContactEvent, ...]:
    """Undo a merge (an operator's decision): the rows it moved go back to the contact they
    came from, rows made for the other contact since stay with it, and both timelines say so.

    Raises `CannotUnmerge` when the merge is unknown or undone already, or when the contact it
    merged into was merged on into a third one (that later merge is undone first).
    """
    merge = await _undoable(ctx, merge_id)
    if not await ctx.uow.merges.undo(merge, now):
        raise CannotUnmerge(f"merge {merge_id} was already undone", "undone")  # just now
    event = Event(Kind.CONTACTS_UNMERGED, {**_details(merge), **_by(person)}, Actor.OPERATOR)
    return (
        ContactEvent(merge.source_contact_id, event),
        ContactEvent(merge.target_contact_id, event),
    )


async def _undoable(ctx: Context, merge_id: int) -> ContactMerge:
    merge = await ctx.uow.merges.get(merge_id)
    if merge is None:
        raise CannotUnmerge(f"merge {merge_id} not found")
    if merge.undone_at is not None:
        raise CannotUnmerge(
            f"merge {merge_id} was already undone at {merge.undone_at:%Y-%m-%d %H:%M} UTC",
            "undone",
        )
    later = await ctx.uow.merges.standing_out_of(merge.target_contact_id)
    if later is not None:
        raise CannotUnmerge(
            f"contact {merge.target_contact_id} was merged into contact "
            f"{later.target_contact_id} since (merge {later.id}): undo that merge first",
            "merged_on",
        )
    return merge


def _details(merge: ContactMerge) -> dict[str, object]:
    return {
        "merge_id": merge.id,
        "from_contact_id": merge.source_contact_id,
        "into_contact_id": merge.target_contact_id,
        "moved": merge.counts,
    }
