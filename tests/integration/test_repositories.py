"""The repository contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.model import Address
from bot.records import Conversation, ConversationState, OutboxRow, Ticket
from storage.repos.conversations import StaleConversation
from storage.repos.leads import NewLead
from storage.repos.messages import inbound_row
from storage.repos.outbox import SentRow
from storage.repos.reps import AddressTaken
from storage.repos.touchpoints import NewTouchpoint
from storage.tables import handoffs, identity_conflicts
from storage.uow import Database, UnitOfWork
from tests.harness import FakeClock
from tests.integration.helpers import claim_one, new_conversation, outbox_rows, reply_row

TOKENS = itertools.count()
LEASE = timedelta(seconds=60)

# --- contacts --------------------------------------------------------------------------------


async def test_contact_is_created_with_its_identities(database: Database, clock: FakeClock) -> None:
    async with database.transaction() as uow:
        contact_id = await uow.contacts.create("Anna", "en", clock())
        first = await uow.contacts.link(contact_id, "telegram", "1001", clock())
        again = await uow.contacts.link(contact_id, "telegram", "1001", clock())
        await uow.contacts.link(contact_id, "email", "anna@example.org", clock())
        await uow.commit()

    async with database.transaction() as uow:
        contact = await uow.contacts.get(contact_id)
        owned = await uow.contacts.identities(contact_id)
        owner = await uow.contacts.owner_of("email", "anna@example.org")
        nobody = await uow.contacts.owner_of("email", "someone@example.org")
    assert contact is not None and (contact.display_name, contact.language) == ("Anna", "en")
    assert (first.outcome, first.owner_contact_id) == ("added", contact_id)
    assert (again.outcome, again.owner_contact_id) == ("added", contact_id)
    assert [(i.channel, i.address, i.reachable) for i in owned] == [
        ("telegram", "1001", True),
        ("email", "anna@example.org", True),
    ]
    assert (owner, nobody) == (contact_id, None)


async def test_conflicting_link_is_reported_and_does_not_move_the_identity(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        owner = await uow.contacts.create("Owner", "en", clock())
        await uow.contacts.link(owner, "email", "shared@example.org", clock())
        other = await uow.contacts.create("Mallory", "en", clock())
        link = await uow.contacts.link(other, "email", "shared@example.org", clock())
        await uow.contacts.record_conflict(other, owner, "email", "shared@example.org", clock())
        await uow.commit()

    assert (link.outcome, link.owner_contact_id) == ("conflict", owner)
    async with database.transaction() as uow:
        assert await uow.contacts.owner_of("email", "shared@example.org") == owner
        assert await uow.contacts.identities(other) == []
        query = select(
            identity_conflicts.c.contact_id,
            identity_conflicts.c.owner_contact_id,
            identity_conflicts.c.address,
            identity_conflicts.c.status,
        )
        conflicts = [tuple(row) for row in await uow.connection.execute(query)]
    assert conflicts == [(other, owner, "shared@example.org", "open")]


async def test_identity_reachability_is_switched_off_and_on(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        await new_conversation(uow, clock(), "42", channel="telegram")
        await uow.commit()

    async with database.transaction() as uow:
        assert await uow.contacts.is_reachable("telegram", "42")
        assert await uow.contacts.set_reachable("telegram", "42", "Forbidden: bot was blocked") == 1
        await uow.commit()
    async with database.transaction() as uow:
        assert not await uow.contacts.is_reachable("telegram", "42")
        assert await uow.contacts.set_reachable("telegram", "42", None) == 1
        assert await uow.contacts.set_reachable("telegram", "404", "gone") == 0
        await uow.commit()
    async with database.transaction() as uow:
        assert await uow.contacts.is_reachable("telegram", "42")
        # An address we have no identity for is not known to be unreachable.
        assert await uow.contacts.is_reachable("telegram", "404")


# --- conversations ---------------------------------------------------------------------------


async def test_opening_a_conversation_twice_returns_the_same_one(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        contact_id = await uow.contacts.create("Anna", "en", clock())
        opened = [
            await uow.conversations.open(
                contact_id=contact_id,
                channel="email",
                thread_key=thread,
                address="anna@example.org",
                language="en",
                subject="Quote",
                now=clock(),
            )
            for thread in ("<a@mail>", "<a@mail>", "<b@mail>")
        ]
        await uow.commit()

    first, again, other_thread = opened
    assert (first.created, again.created, other_thread.created) == (True, False, True)
    assert first.id == again.id != other_thread.id
    assert (again.channel, again.thread_key, again.subject) == ("email", "<a@mail>", "Quote")


async def test_saving_from_a_stale_read_raises_stale_conversation(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        read = await new_conversation(uow, clock())
        await uow.commit()

    lead_step = ConversationState(state="lead", step="name", data={"need": "desks"})
    async with database.transaction() as uow:
        await uow.conversations.save(read, lead_step, clock())
        await uow.commit()
    # Raised by the save, or (a write held back on PostgreSQL) by the commit at the latest.
    with pytest.raises(StaleConversation):
        async with database.transaction() as uow:
            await uow.conversations.save(read, ConversationState(state="idle"), clock())
            await uow.commit()

    async with database.transaction() as uow:
        saved = await uow.conversations.get(read.id)
    assert saved is not None
    assert (saved.version, saved.current) == (read.version + 1, lead_step)


# --- messages --------------------------------------------------------------------------------


async def test_a_message_key_is_stored_once(database: Database, clock: FakeClock) -> None:
    async with database.transaction() as uow:
        conversation = await new_conversation(uow, clock())
        first = await uow.messages.insert(
            channel="console",
            external_id="m1",
            conversation_id=conversation.id,
            direction="in",
            text="hello",
            now=clock(),
        )
        second = await uow.messages.insert(
            channel="console",
            external_id="m1",
            conversation_id=conversation.id,
            direction="in",
            text="hello again",
            now=clock(),
        )
        other_channel = await uow.messages.insert(
            channel="email",
            external_id="m1",
            conversation_id=None,
            direction="in",
            text="same key, other channel",
            now=clock(),
        )
        await uow.commit()

    assert first is not None and second is None
    assert other_channel is not None and other_channel != first
    async with database.transaction() as uow:
        assert await uow.messages.find_id("console", "m1") == first
        assert await uow.messages.text_of(first) == "hello"


async def test_a_message_is_stored_with_its_conversation_found_only_when_it_comes_in_order(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        rep_id = await _add_rep(uow, clock, "Olga", telegram="7001")
        await new_conversation(uow, clock(), "7001", channel="telegram")
        customer = await new_conversation(uow, clock(), "7002", channel="telegram")
        await uow.conversations.advance_sequence(customer.id, 10)
        await uow.commit()

    def message(key: str, text: str) -> dict[str, object]:
        return inbound_row(channel="telegram", external_id=key, text=text, now=clock())

    async with database.transaction() as uow:
        no_conversation = await uow.conversations.find_storing("7003", message("t1", "hi"), 1)
        reps_address = await uow.conversations.find_storing("7001", message("t2", "olga"), 11)
        late = await uow.conversations.find_storing("7002", message("t3", "late"), 9)
        in_order = await uow.conversations.find_storing("7002", message("t4", "next"), 12)
        again = await uow.conversations.find_storing("7002", message("t4", "repeated"), 12)
        no_sequence = await uow.conversations.find_storing("7002", message("t5", "mail"), None)
        await uow.commit()

    assert (no_conversation.conversation, no_conversation.tried) == (None, False)
    assert reps_address.conversation is not None and not reps_address.tried
    assert reps_address.conversation.address_rep_id == rep_id
    assert late.conversation is not None and late.conversation.id == customer.id
    assert not late.tried and late.message_id is None
    assert in_order.tried and in_order.message_id is not None
    assert in_order.conversation is not None and in_order.conversation.last_sequence == 10
    assert again.tried and again.message_id is None
    assert no_sequence.tried and no_sequence.message_id is not None
    async with database.transaction() as uow:
        stored = {key: await uow.messages.find_id("telegram", key) for key in ("t1", "t2", "t3")}
        assert stored == {"t1": None, "t2": None, "t3": None}
        assert await uow.messages.find_id("telegram", "t4") == in_order.message_id
        assert await uow.messages.text_of(in_order.message_id) == "next"
        assert await uow.messages.conversations_of("telegram", ["t4", "t5"]) == [customer.id]
        after = await uow.conversations.get(customer.id)
    assert after is not None
    assert (after.last_sequence, after.version) == (12, customer.version)


# --- touchpoints -----------------------------------------------------------------------------


async def test_touchpoints_are_added_in_a_batch_and_searched_in_order(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        anna = await new_conversation(uow, clock(), "anna")
        bob = await new_conversation(uow, clock(), "bob")
        events: list[tuple[str, Conversation | None, dict[str, object]]] = [
            ("message_in", anna, {"text": "I need desks"}),
            ("message_in", bob, {"text": "hello"}),
            ("lead_captured", anna, {"lead": 1}),
            ("message_out", anna, {"text": "Thank you"}),
            ("parked", None, {"error": "TextsError"}),
        ]
        batch = []
        for kind, conversation, details in events:
            clock.advance(seconds=1)
            batch.append(_touchpoint(kind, conversation, clock(), details))
        await uow.touchpoints.add(batch)
        await uow.commit()

    async with database.transaction() as uow:
        of_anna = await uow.touchpoints.search(contact_id=anna.contact_id)
        of_bob_thread = await uow.touchpoints.search(conversation_id=bob.id)
        inbound = await uow.touchpoints.search(kind="message_in")
        latest_two = await uow.touchpoints.search(contact_id=anna.contact_id, limit=2)
        everything = await uow.touchpoints.search()
    assert [(t.kind, t.details) for t in of_anna] == [
        ("message_in", {"text": "I need desks"}),
        ("lead_captured", {"lead": 1}),
        ("message_out", {"text": "Thank you"}),
    ]
    assert [t.occurred_at for t in everything] == sorted(t.occurred_at for t in everything)
    assert [(t.kind, t.contact_id) for t in of_bob_thread] == [("message_in", bob.contact_id)]
    assert [t.conversation_id for t in inbound] == [anna.id, bob.id]
    assert [t.kind for t in latest_two] == ["lead_captured", "message_out"]
    assert [t.kind for t in everything][-1] == "parked"


# --- tickets ---------------------------------------------------------------------------------


async def test_ticket_number_notes_status_and_search(database: Database, clock: FakeClock) -> None:
    async with database.transaction() as uow:
        anna = await new_conversation(uow, clock(), "anna")
        bob = await new_conversation(uow, clock(), "bob")
        first = await _open_ticket(uow, anna, clock, "screen cracked")
        bobs = await _open_ticket(uow, bob, clock, "late delivery")
        second = await _open_ticket(uow, anna, clock, "missing cable")
        await uow.commit()

    clock.advance(hours=2)
    async with database.transaction() as uow:
        await uow.tickets.add_note(first.id, "photo attached", "customer", None, clock())
        assert await uow.tickets.set_status(second.id, "resolved", clock())
        assert not await uow.tickets.set_status(999, "resolved", clock())
        await uow.commit()

    async with database.transaction() as uow:
        notes = await uow.tickets.notes(first.id)
        updated = await uow.tickets.get(first.id)
        of_anna = await uow.tickets.search(contact_id=anna.contact_id)
        resolved = await uow.tickets.search(status="resolved")
    assert [first.number, bobs.number, second.number] == [1001, 1002, 1003]
    assert all(ticket.number == ticket.id + 1000 for ticket in (first, bobs, second))
    assert [(author, text) for author, text, _at in notes] == [("customer", "photo attached")]
    assert updated is not None and updated.updated_at == clock()
    assert [(t.id, t.status) for t in of_anna] == [(second.id, "resolved"), (first.id, "open")]
    assert [t.id for t in resolved] == [second.id]


# --- leads -----------------------------------------------------------------------------------


async def test_a_lead_amended_keeps_its_contact_source_status_and_time(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        conversation = await new_conversation(uow, clock())
        first = NewLead(
            contact_id=conversation.contact_id, conversation_id=conversation.id, need="desks",
            name="Ann", company=None, email="ann@example.org", phone=None, budget=None,
            timeline=None, source="spring", score=50,
        )  # fmt: skip
        lead_id = await uow.leads.create(first, clock())
        await uow.commit()
    clock.advance(hours=1)

    async with database.transaction() as uow:
        later = replace(first, budget="about 5k", timeline="by May", source=None, score=75)
        await uow.leads.amend(lead_id, later)
        await uow.commit()

    async with database.transaction() as uow:
        lead = await uow.leads.get(lead_id)
    assert lead is not None
    assert (lead.budget, lead.timeline, lead.score) == ("about 5k", "by May", 75)
    assert (lead.source, lead.status, lead.created_at) == (
        "spring",
        "new",
        clock() - timedelta(hours=1),
    )


# --- follow-ups (durable timers) -------------------------------------------------------------


async def test_a_timer_is_due_at_its_time_and_taken_once(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        conversation = await new_conversation(uow, clock())
        timer_id = await uow.timers.schedule(
            "ticket_followup",
            clock() + timedelta(hours=24),
            clock(),
            conversation_id=conversation.id,
            payload={"note": "x"},
        )
        await uow.commit()

    async with database.transaction() as uow:
        assert await uow.timers.due(clock()) == []
        assert await uow.timers.due(clock() + timedelta(hours=24)) == [timer_id]
        assert await uow.timers.conversation_of(timer_id) == conversation.id

    clock.advance(hours=24)
    async with database.transaction() as uow:
        taken = await uow.timers.take(timer_id, clock())
        await uow.commit()
    async with database.transaction() as uow:
        taken_again = await uow.timers.take(timer_id, clock())
        still_due = await uow.timers.due(clock())
    assert taken is not None
    assert (taken.id, taken.kind, taken.payload) == (timer_id, "ticket_followup", {"note": "x"})
    assert taken_again is None
    assert still_due == []


async def test_a_deferred_timer_waits_and_a_given_up_one_never_fires(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        retried = await uow.timers.schedule("ticket_followup", clock(), clock())
        abandoned = await uow.timers.schedule("ticket_followup", clock(), clock())
        await uow.timers.defer(retried, clock() + timedelta(minutes=5), give_up=False)
        await uow.timers.defer(abandoned, clock() + timedelta(minutes=5), give_up=True)
        await uow.commit()

    async with database.transaction() as uow:
        assert await uow.timers.due(clock()) == []
        assert await uow.timers.attempts_of(retried) == 1
    clock.advance(minutes=5, seconds=1)
    async with database.transaction() as uow:
        assert await uow.timers.due(clock()) == [retried]
        assert await uow.timers.take(abandoned, clock()) is None


async def test_cancelled_timers_do_not_fire(database: Database, clock: FakeClock) -> None:
    async with database.transaction() as uow:
        anna = await new_conversation(uow, clock(), "anna")
        bob = await new_conversation(uow, clock(), "bob")
        ticket = await _open_ticket(uow, anna, clock, "screen cracked")
        of_ticket = await uow.timers.schedule(
            "ticket_followup", clock(), clock(), conversation_id=anna.id, ticket_id=ticket.id
        )
        of_bob = await uow.timers.schedule(
            "ticket_followup", clock(), clock(), conversation_id=bob.id
        )
        assert await uow.timers.cancel(ticket_id=ticket.id) == 1
        assert await uow.timers.cancel(ticket_id=ticket.id) == 0
        await uow.commit()

    async with database.transaction() as uow:
        assert await uow.timers.due(clock()) == [of_bob]
        assert await uow.timers.take(of_ticket, clock()) is None
        assert [timer.id for timer in await uow.timers.pending()] == [of_bob]


# --- hand-offs -------------------------------------------------------------------------------


async def test_a_handoff_is_active_until_finished_once(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        conversation = await new_conversation(uow, clock())
        assert await uow.handoffs.active_for(conversation.id) is None
        handoff_id = await uow.handoffs.open(
            conversation.id, conversation.contact_id, "customer_asked", clock()
        )
        await uow.commit()

    async with database.transaction() as uow:
        active = await uow.handoffs.active_for(conversation.id)
        first = await uow.handoffs.finish(handoff_id, "closed", "quote sent", clock())
        second = await uow.handoffs.finish(handoff_id, "returned", None, clock())
        await uow.commit()
    async with database.transaction() as uow:
        after = await uow.handoffs.active_for(conversation.id)
        finished = await uow.handoffs.get(handoff_id)
    assert active is not None and (active.id, active.status) == (handoff_id, "queued")
    assert (first, second) == (True, False)
    assert after is None
    assert finished is not None
    assert (finished.status, finished.summary, finished.closed_at) == (
        "closed",
        "quote sent",
        clock(),
    )


# --- reps ------------------------------------------------------------------------------------


async def test_reps_are_found_by_their_channel_and_updated(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        rep_id = await _add_rep(uow, clock, "Olga", telegram="7001", email="Olga@Shop.example")
        await uow.commit()

    async with database.transaction() as uow:
        on_telegram = await uow.reps.by_address("telegram", "7001")
        by_email = await uow.reps.by_address("email", "olga@shop.EXAMPLE")
        elsewhere = await uow.reps.by_address("console", "7001")
        assert await uow.reps.update(rep_id, languages=("en", "ru"), on_duty=True, capacity=3)
        assert not await uow.reps.update(999, on_duty=True)
        await uow.commit()
    async with database.transaction() as uow:
        updated = await uow.reps.get(rep_id)
    assert on_telegram is not None and on_telegram.id == rep_id
    assert by_email is not None and by_email.id == rep_id
    assert elsewhere is None
    assert updated is not None
    assert (updated.languages, updated.on_duty, updated.capacity) == (("en", "ru"), True, 3)
    assert updated.identities == (
        Address("telegram", "7001"),
        Address("email", "olga@shop.example"),  # stored lower-cased
    )


async def test_a_rep_is_reached_on_telegram_then_email_then_any_other_channel(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        rep_id = await _add_rep(uow, clock, "Olga", email="olga@shop.example")
        assert await uow.reps.set_identity(rep_id, "whatsapp", "+4915100000", now=clock())
        assert await uow.reps.set_identity(rep_id, "telegram", "7001", now=clock())
        everywhere = await uow.reps.get(rep_id)
        assert await uow.reps.set_identity(rep_id, "telegram", None, now=clock())
        assert await uow.reps.set_identity(rep_id, "email", None, now=clock())
        only_whatsapp = await uow.reps.get(rep_id)
        found = await uow.reps.by_address("whatsapp", "+4915100000")
        assert not await uow.reps.set_identity(999, "telegram", "7002", now=clock())

    assert everywhere is not None and only_whatsapp is not None
    assert [a.channel for a in everywhere.identities] == ["telegram", "email", "whatsapp"]
    assert everywhere.reached_at == Address("telegram", "7001")
    assert only_whatsapp.reached_at == Address("whatsapp", "+4915100000")
    assert found is not None and found.id == rep_id


async def test_a_new_address_on_a_channel_replaces_the_old_one(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        rep_id = await _add_rep(uow, clock, "Olga", telegram="7001", email="olga@shop.example")
        assert await uow.reps.set_identity(rep_id, "email", "Olga@Home.example", now=clock())
        assert await uow.reps.set_identity(rep_id, "telegram", "7001", now=clock())  # unchanged
        rep = await uow.reps.get(rep_id)
        old_mailbox = await uow.reps.by_address("email", "olga@shop.example")
    assert rep is not None
    assert rep.identities == (Address("telegram", "7001"), Address("email", "olga@home.example"))
    assert old_mailbox is None


async def test_an_address_of_another_rep_is_refused_and_nothing_changes(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        olga = await _add_rep(uow, clock, "Olga", telegram="7001", email="olga@shop.example")
        ivan = await _add_rep(uow, clock, "Ivan", email="ivan@shop.example")
        await uow.commit()

    async with database.transaction() as uow:
        with pytest.raises(AddressTaken) as on_add:
            await _add_rep(uow, clock, "Boris", telegram="7002", email="OLGA@shop.example")
        with pytest.raises(AddressTaken) as on_update:
            await uow.reps.set_identity(ivan, "telegram", "7001", now=clock())
        await uow.commit()  # what the refusals left behind

    async with database.transaction() as uow:
        names = [rep.name for rep in await uow.reps.search()]
        ivan_now = await uow.reps.get(ivan)
    assert (on_add.value.address, on_add.value.holder_id) == (
        Address("email", "olga@shop.example"),
        olga,
    )
    assert (on_update.value.address, on_update.value.holder_id) == (
        Address("telegram", "7001"),
        olga,
    )
    assert names == ["Olga", "Ivan"]  # Boris was not half-registered
    assert ivan_now is not None and ivan_now.identities == (Address("email", "ivan@shop.example"),)


async def test_a_conversation_knows_when_its_address_is_an_active_reps(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        rep_id = await _add_rep(uow, clock, "Olga", telegram="7001", email="olga@shop.example")
        with_rep = await new_conversation(uow, clock(), "7001", channel="telegram")
        by_mail = await new_conversation(uow, clock(), "olga@shop.example", channel="email")
        customer = await new_conversation(uow, clock(), "7002", channel="telegram")
        await uow.commit()

    async with database.transaction() as uow:
        before = [await uow.conversations.get(c.id) for c in (with_rep, by_mail, customer)]
        await uow.reps.update(rep_id, active=False)
        after = await uow.conversations.find("telegram", "7001", lock=True)
    assert [c.address_rep_id for c in before if c] == [rep_id, rep_id, None]
    assert after is not None and after.address_rep_id is None


async def test_removing_a_rep_deletes_or_deactivates_as_references_require(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        busy = await _add_rep(uow, clock, "Olga", telegram="7001")
        idle = await _add_rep(uow, clock, "Ivan", telegram="7002")
        conversation = await new_conversation(uow, clock())
        handoff_id = await uow.handoffs.open(
            conversation.id, conversation.contact_id, "customer_asked", clock()
        )
        assigned = handoffs.update().where(handoffs.c.id == handoff_id).values(rep_id=busy)
        await uow.connection.execute(assigned)
        await uow.commit()

    async with database.transaction() as uow:
        removed_busy = await uow.reps.remove(busy)
        removed_idle = await uow.reps.remove(idle)
        removed_unknown = await uow.reps.remove(999)
        await uow.commit()

    async with database.transaction() as uow:
        kept = await uow.reps.get(busy)
        deleted = await uow.reps.get(idle)
        listed = await uow.reps.search(include_inactive=True)
        found = await uow.reps.by_address("telegram", "7001")
        handoff = await uow.handoffs.get(handoff_id)
    assert (removed_busy, removed_idle, removed_unknown) == (True, True, False)
    assert kept is not None and (kept.active, kept.on_duty) == (False, False)
    assert deleted is None
    assert [rep.id for rep in listed] == [busy]
    assert found is None  # an inactive rep no longer receives work
    assert handoff is not None and handoff.rep_id == busy


# --- outbox ----------------------------------------------------------------------------------


async def test_claims_lease_rows_in_id_order(database: Database, clock: FakeClock) -> None:
    async with database.transaction() as uow:
        anna = await new_conversation(uow, clock(), "anna")
        bob = await new_conversation(uow, clock(), "bob")
        await uow.outbox.enqueue([reply_row(anna, "to anna"), reply_row(bob, "to bob")], clock())
        await uow.commit()

    claimed = [await _claim(database, clock) for _ in range(3)]
    assert [row.text if row else None for row in claimed] == ["to anna", "to bob", None]
    assert [row.attempts if row else None for row in claimed] == [1, 1, None]
    rows = await outbox_rows(database)
    assert [row.status for row in rows] == ["sending", "sending"]


async def test_a_claim_holds_back_a_later_reply_of_a_conversation_until_the_earlier_is_sent(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        anna = await new_conversation(uow, clock(), "anna")
        bob = await new_conversation(uow, clock(), "bob")
        await uow.outbox.enqueue(
            [reply_row(anna, "first"), reply_row(anna, "second"), reply_row(bob, "to bob")], clock()
        )
        await uow.commit()

    first = await _claim(database, clock)
    assert first is not None and first.text == "first"
    other = await _claim(database, clock)
    assert other is not None and other.text == "to bob"
    assert await _claim(database, clock) is None  # "second" waits while "first" is unsent

    async with database.transaction() as uow:
        await uow.outbox.retry_later(
            first, clock() + timedelta(seconds=30), "timeout", parts_sent=0
        )
        await uow.commit()
    assert await _claim(database, clock) is None  # still unsent: pending, not due yet

    clock.advance(seconds=30)
    retried = await _claim(database, clock)
    assert retried is not None and (retried.text, retried.attempts) == ("first", 2)
    async with database.transaction() as uow:
        held = await uow.outbox.mark_sent(
            retried.lease_token or "", [SentRow(retried, "tg-1", retried.text)], clock()
        )
        assert held == {retried.id}
        await uow.commit()
    second = await _claim(database, clock)
    assert second is not None and second.text == "second"


async def test_a_failed_reply_does_not_block_the_next_one(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        anna = await new_conversation(uow, clock(), "anna")
        await uow.outbox.enqueue([reply_row(anna, "first"), reply_row(anna, "second")], clock())
        await uow.commit()

    first = await _claim(database, clock)
    assert first is not None
    async with database.transaction() as uow:
        await uow.outbox.mark_failed(first, "Forbidden")
        await uow.commit()
    second = await _claim(database, clock)
    assert second is not None and second.text == "second"


async def test_a_claim_reclaims_a_sending_row_whose_lease_expired(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        anna = await new_conversation(uow, clock(), "anna")
        await uow.outbox.enqueue([reply_row(anna, "in flight when we crashed")], clock())
        await uow.commit()

    crashed = await _claim(database, clock)
    assert crashed is not None
    clock.advance(seconds=59)
    assert await _claim(database, clock) is None  # the lease still holds
    clock.advance(seconds=2)
    reclaimed = await _claim(database, clock)
    assert reclaimed is not None
    assert (reclaimed.id, reclaimed.attempts) == (crashed.id, 2)


async def test_a_claim_serves_only_the_given_channels(database: Database, clock: FakeClock) -> None:
    async with database.transaction() as uow:
        by_email = await new_conversation(uow, clock(), "anna@example.org", channel="email")
        on_telegram = await new_conversation(uow, clock(), "42", channel="telegram")
        await uow.outbox.enqueue(
            [reply_row(by_email, "by email"), reply_row(on_telegram, "on telegram")], clock()
        )
        await uow.commit()

    telegram_only = await _claim(database, clock, channels=("telegram",))
    nothing = await _claim(database, clock, channels=("telegram", "console"))
    email = await _claim(database, clock, channels=("email",))
    assert telegram_only is not None and telegram_only.text == "on telegram"
    assert nothing is None
    assert email is not None and email.text == "by email"


# --- cursors and dead letters ----------------------------------------------------------------


async def test_a_cursor_is_inserted_then_updated(database: Database, clock: FakeClock) -> None:
    async with database.transaction() as uow:
        assert await uow.cursors.get("telegram", "offset") is None
        await uow.cursors.put("telegram", "offset", "100", clock())
        await uow.cursors.put("email", "offset", "other channel", clock())
        await uow.commit()
    async with database.transaction() as uow:
        await uow.cursors.put("telegram", "offset", "101", clock())
        await uow.commit()

    async with database.transaction() as uow:
        assert await uow.cursors.get("telegram", "offset") == "101"
        assert await uow.cursors.get("email", "offset") == "other channel"
        assert await uow.cursors.get("telegram", "uidvalidity") is None


async def test_a_cursor_set_by_default_keeps_the_first_value(
    database: Database, clock: FakeClock
) -> None:
    async with database.transaction() as uow:
        assert await uow.cursors.setdefault("console", "customer", "guest-1", clock()) == "guest-1"
        await uow.commit()
    async with database.transaction() as uow:
        assert await uow.cursors.setdefault("console", "customer", "guest-2", clock()) == "guest-1"


async def test_a_dead_letter_is_parked_and_found(database: Database, clock: FakeClock) -> None:
    async with database.transaction() as uow:
        parked = await uow.dead_letters.park(
            channel="email",
            external_id="<poison@mail>",
            error="TextsError: no reply text named 'greeting'",
            payload={"subject": "hi"},
            raw=b"From: a@example.org\r\n\r\nhi",
            now=clock(),
        )
        await uow.commit()

    async with database.transaction() as uow:
        found = await uow.dead_letters.find("email", "<poison@mail>")
        other_channel = await uow.dead_letters.find("telegram", "<poison@mail>")
        [letter] = await uow.dead_letters.search()
    assert (found, other_channel) == (parked, None)
    assert (letter.channel, letter.external_id, letter.status) == (
        "email",
        "<poison@mail>",
        "parked",
    )
    assert letter.error == "TextsError: no reply text named 'greeting'"


# --- helpers ---------------------------------------------------------------------------------


def _touchpoint(
    kind: str, conversation: Conversation | None, now: datetime, details: dict[str, object]
) -> NewTouchpoint:
    return NewTouchpoint(
        kind=kind,
        channel="console",
        actor="customer",
        occurred_at=now,
        contact_id=conversation.contact_id if conversation else None,
        conversation_id=conversation.id if conversation else None,
        details=details,
    )


async def _open_ticket(
    uow: UnitOfWork, conversation: Conversation, clock: FakeClock, summary: str
) -> Ticket:
    return await uow.tickets.open(
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        category="repair",
        summary=summary,
        now=clock(),
    )


async def _add_rep(
    uow: UnitOfWork,
    clock: FakeClock,
    name: str,
    *,
    telegram: str | None = None,
    email: str | None = None,
) -> int:
    given = (("telegram", telegram), ("email", email))
    return await uow.reps.add(
        name=name,
        languages=("en",),
        identities=[Address(channel, value) for channel, value in given if value],
        role="rep",
        capacity=5,
        now=clock(),
    )


async def _claim(
    database: Database, clock: FakeClock, channels: tuple[str, ...] = ("console",)
) -> OutboxRow | None:
    async with database.transaction() as uow:
        row = await claim_one(uow, clock(), LEASE, f"test:{next(TOKENS)}", channels)
        await uow.commit()
    return row
