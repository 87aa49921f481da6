"""Merges of contacts as events, on SQLite and PostgreSQL: what a merge moves and remembers,
what undoing it moves back, and the timeline that reads across merged contacts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.records import Conversation
from storage.repos.leads import NewLead
from storage.repos.touchpoints import NewTouchpoint
from storage.uow import Database, UnitOfWork
from tests.harness import FakeClock
from tests.integration.helpers import new_conversation


@dataclass(frozen=True, slots=True)
class Belongings:
    """What one contact has besides identities and conversations."""

    lead: int
    ticket: int
    handoff: int


async def belongings(uow: UnitOfWork, conversation: Conversation, clock: FakeClock) -> Belongings:
    contact_id = conversation.contact_id
    lead = await uow.leads.create(
        NewLead(contact_id=contact_id, conversation_id=conversation.id, need="desks", name=None,
                company=None, email=None, phone=None, budget=None, timeline=None, source=None,
                score=10),
        clock(),
    )  # fmt: skip
    ticket = await uow.tickets.open(
        contact_id=contact_id, conversation_id=conversation.id, category="repair",
        summary="broken screen", now=clock(),
    )  # fmt: skip
    handoff = await uow.handoffs.open(conversation.id, contact_id, "customer_asked", clock())
    return Belongings(lead, ticket.id, handoff)


async def said(
    uow: UnitOfWork, conversation: Conversation, clock: FakeClock, text: str,
    at: datetime | None = None,
) -> None:  # fmt: skip
    clock.advance(minutes=1)
    await uow.touchpoints.add(
        [NewTouchpoint("message_in", conversation.channel, "customer", at or clock(),
                       conversation.contact_id, conversation.id, {"text": text})]
    )  # fmt: skip


async def owners(uow: UnitOfWork, things: Belongings, conversation: Conversation) -> list[int]:
    """The contact of the conversation, lead, ticket and hand-off, in that order."""
    moved = await uow.conversations.get(conversation.id)
    lead = await uow.leads.get(things.lead)
    ticket = await uow.tickets.get(things.ticket)
    handoff = await uow.handoffs.get(things.handoff)
    assert moved and lead and ticket and handoff
    return [moved.contact_id, lead.contact_id, ticket.contact_id, handoff.contact_id]


async def timeline(database: Database, contact_id: int) -> list[str]:
    async with database.transaction() as uow:
        found = await uow.touchpoints.search(contact_id=contact_id)
    return [str(touchpoint.details["text"]) for touchpoint in found]


async def test_a_merge_moves_all_but_the_touchpoints_and_remembers_what_it_moved(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        anna = await new_conversation(uow, clock(), "anna")
        phone = await new_conversation(uow, clock(), "555", channel="telegram")
        things = await belongings(uow, phone, clock)
        await said(uow, phone, clock, "hi from telegram")
        merge_id = await uow.merges.merge(phone.contact_id, anna.contact_id, clock())
        await uow.commit()

    async with database.transaction() as uow:
        merge = await uow.merges.get(merge_id)
        identities = await uow.contacts.identities(anna.contact_id)
        assert await owners(uow, things, phone) == [anna.contact_id] * 4
        [written] = await uow.touchpoints.search(kind="message_in")
        left = await uow.contacts.identities(phone.contact_id)
        kept = await uow.contacts.get(phone.contact_id)
    assert merge is not None
    assert (merge.source_contact_id, merge.target_contact_id) == (phone.contact_id, anna.contact_id)
    assert merge.moved == {
        "identities": [identities[1].id], "conversations": [phone.id], "leads": [things.lead],
        "service_requests": [things.ticket], "handoffs": [things.handoff],
    }  # fmt: skip
    assert merge.undone_at is None
    assert [(i.channel, i.address) for i in identities] == [
        ("console", "anna"),
        ("telegram", "555"),
    ]
    assert written.contact_id == phone.contact_id  # history is not rewritten
    assert left == [] and kept is not None  # the emptied contact stays, to be separated again


async def test_undoing_a_merge_moves_back_exactly_what_it_moved_once(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        anna = await new_conversation(uow, clock(), "anna")
        phone = await new_conversation(uow, clock(), "555", channel="telegram")
        things = await belongings(uow, phone, clock)
        merge_id = await uow.merges.merge(phone.contact_id, anna.contact_id, clock())
        # Made for Anna while the two were one: it stays Anna's.
        later = await belongings(uow, replace(phone, contact_id=anna.contact_id), clock)
        await uow.commit()

    clock.advance(hours=1)
    async with database.transaction() as uow:
        merge = await uow.merges.get(merge_id)
        assert merge is not None
        assert await uow.merges.undo(merge, clock())
        assert not await uow.merges.undo(merge, clock())  # a second time changes nothing
        await uow.commit()

    async with database.transaction() as uow:
        assert await owners(uow, things, phone) == [phone.contact_id] * 4
        moved_back = await uow.conversations.get(phone.id)
        stayed = await owners(uow, later, phone)
        undone = await uow.merges.get(merge_id)
        back = await uow.contacts.identities(phone.contact_id)
        kept = await uow.contacts.identities(anna.contact_id)
    assert moved_back is not None
    assert stayed[1:] == [anna.contact_id] * 3
    assert undone is not None and undone.undone_at == clock()
    assert [i.address for i in back] == ["555"]
    assert [i.address for i in kept] == ["anna"]


async def test_a_timeline_takes_in_the_contacts_merged_into_it_in_time_order(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        anna = await new_conversation(uow, clock(), "anna")
        phone = await new_conversation(uow, clock(), "555", channel="telegram")
        mail = await new_conversation(uow, clock(), "anna@example.org", channel="email")
        start = clock()
        await said(uow, anna, clock, "anna 1")
        await said(uow, phone, clock, "phone 1")
        await said(uow, mail, clock, "mail 1")
        await said(uow, anna, clock, "anna 2")
        await said(uow, mail, clock, "mail 0", at=start)  # written last, happened first
        first = await uow.merges.merge(mail.contact_id, phone.contact_id, clock())
        second = await uow.merges.merge(phone.contact_id, anna.contact_id, clock())
        await uow.commit()

    # Merged at any depth: mail → phone → anna.
    everything = ["mail 0", "anna 1", "phone 1", "mail 1", "anna 2"]
    assert await timeline(database, anna.contact_id) == everything
    assert await timeline(database, phone.contact_id) == ["mail 0", "phone 1", "mail 1"]
    assert await timeline(database, mail.contact_id) == ["mail 0", "mail 1"]

    async with database.transaction() as uow:
        merge = await uow.merges.get(second)
        assert merge is not None and await uow.merges.undo(merge, clock())
        await uow.commit()
    assert await timeline(database, anna.contact_id) == ["anna 1", "anna 2"]
    assert await timeline(database, phone.contact_id) == ["mail 0", "phone 1", "mail 1"]

    async with database.transaction() as uow:
        of_phone = await uow.merges.of_contact(phone.contact_id)
        standing = await uow.merges.standing_out_of(mail.contact_id)
    assert [m.id for m in of_phone] == [first, second]
    assert standing is not None and standing.id == first
