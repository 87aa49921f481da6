"""Writes a turn does not read back are held and sent together on PostgreSQL (one statement for
the end of a turn); on both engines they land exactly as if each had run at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.records import Conversation, ConversationState
from storage.repos.conversations import StaleConversation
from storage.repos.outbox import NewOutbound
from storage.repos.touchpoints import NewTouchpoint
from storage.tables import outbox, touchpoints
from storage.uow import Database, UnitOfWork
from storage.write_behind import MAX_HELD_ROWS
from tests.integration.helpers import new_conversation, reply_row

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@contextmanager
def statements_sent(database: Database) -> Iterator[list[str]]:
    """The SQL statements the engine hands its driver meanwhile."""
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(args[2])

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def reply(conversation: Conversation, text: str) -> NewOutbound:
    return reply_row(conversation, text, [{"label": "Yes", "data": "yes"}])  # JSON stored too


def touch(conversation: Conversation, kind: str, **details: Any) -> NewTouchpoint:
    return NewTouchpoint(
        kind=kind,
        channel=conversation.channel,
        actor="bot",
        occurred_at=NOW,
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        details=details,
    )


async def opened(database: Database) -> Conversation:
    async with database.transaction() as uow:
        conversation = await new_conversation(uow, NOW)
        await uow.commit()
    return conversation


async def end_of_turn(uow: UnitOfWork, conversation: Conversation, word: str) -> None:
    """What a turn writes last: its new state, its reply, its touchpoints."""
    state = ConversationState(state="lead", step="name", data={"need": word})
    await uow.conversations.save(conversation, state, NOW)
    await uow.outbox.enqueue([reply(conversation, f"About {word}?")], NOW)
    await uow.touchpoints.add(
        [touch(conversation, "message_in", text=word), touch(conversation, "message_out")]
    )


async def stored_rows(database: Database) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with database.transaction() as uow:
        replies = (await uow.connection.execute(select(outbox).order_by(outbox.c.id))).all()
        touches = await uow.connection.execute(select(touchpoints).order_by(touchpoints.c.id))
        return [dict(row._mapping) for row in replies], [dict(row._mapping) for row in touches]


async def test_the_end_of_a_turn_goes_to_postgresql_as_one_statement(database: Database) -> None:
    conversation = await opened(database)
    with statements_sent(database) as sent:
        async with database.transaction() as uow:
            await end_of_turn(uow, conversation, "desks")
            await uow.commit()

    async with database.transaction() as uow:
        saved = await uow.conversations.get(conversation.id)
    replies, touches = await stored_rows(database)
    assert saved is not None and saved.current.data == {"need": "desks"}
    assert [row["text"] for row in replies] == ["About desks?"]
    assert [row["kind"] for row in touches] == ["message_in", "message_out"]
    if database.is_sqlite:
        assert len(sent) == 4  # each at once: no round trip to save
    else:
        assert len(sent) == 1 and sent[0].startswith("WITH")


async def test_rows_written_together_are_stored_as_rows_written_alone(database: Database) -> None:
    conversation = await opened(database)
    async with database.transaction() as uow:  # alone: nothing else is held with them
        await uow.outbox.enqueue([reply(conversation, "Hi")], NOW)
        await uow.commit()
    async with database.transaction() as uow:
        await uow.touchpoints.add([touch(conversation, "note", nested={"a": [1, None]})])
        await uow.commit()
    async with database.transaction() as uow:  # together, in one statement on PostgreSQL
        await uow.outbox.enqueue([reply(conversation, "Hi")], NOW)
        await uow.touchpoints.add([touch(conversation, "note", nested={"a": [1, None]})])
        await uow.commit()

    replies, touches = await stored_rows(database)
    for rows in (replies, touches):
        alone, together = ({k: v for k, v in row.items() if k != "id"} for row in rows)
        assert alone == together


async def test_a_stale_state_held_back_fails_the_commit_and_nothing_stays(
    database: Database,
) -> None:
    conversation = await opened(database)
    async with database.transaction() as uow:
        await uow.conversations.save(conversation, ConversationState(state="idle"), NOW)
        await uow.commit()

    with pytest.raises(StaleConversation):
        async with database.transaction() as uow:
            await end_of_turn(uow, conversation, "chairs")  # from the read before that save
            await uow.commit()

    assert await stored_rows(database) == ([], [])


async def test_a_transaction_reads_what_it_wrote_held_or_not(database: Database) -> None:
    conversation = await opened(database)
    async with database.transaction() as uow:
        await uow.touchpoints.add([touch(conversation, "note", n=1)])
        found = await uow.touchpoints.search(conversation_id=conversation.id)
        await uow.commit()
    assert [item.details for item in found] == [{"n": 1}]


async def test_two_states_of_one_conversation_in_a_transaction_both_apply_in_order(
    database: Database,
) -> None:
    """PostgreSQL applies only one of two updates of a row in one statement: they go apart."""
    conversation = await opened(database)
    async with database.transaction() as uow:
        await uow.conversations.save(conversation, ConversationState(state="lead"), NOW)
        moved = replace(conversation, version=conversation.version + 1)  # no read in between
        await uow.conversations.save(moved, ConversationState(state="handoff"), NOW)
        await uow.commit()

    async with database.transaction() as uow:
        saved = await uow.conversations.get(conversation.id)
    assert saved is not None
    assert (saved.current.state, saved.version) == ("handoff", conversation.version + 2)


async def test_a_savepoint_rolled_back_drops_what_was_held_in_it(database: Database) -> None:
    conversation = await opened(database)
    async with database.transaction() as uow:
        await uow.touchpoints.add([touch(conversation, "kept_before")])
        with pytest.raises(RuntimeError):
            async with uow.connection.savepoint():
                await uow.touchpoints.add([touch(conversation, "dropped")])
                raise RuntimeError("undo the savepoint")
        async with uow.connection.savepoint():
            await uow.touchpoints.add([touch(conversation, "kept_in_savepoint")])
        await uow.commit()

    _, touches = await stored_rows(database)
    assert [row["kind"] for row in touches] == ["kept_before", "kept_in_savepoint"]


async def test_a_rollback_sends_nothing_that_was_held(database: Database) -> None:
    conversation = await opened(database)
    async with database.transaction() as uow:
        await end_of_turn(uow, conversation, "lamps")
        await uow.connection.rollback()
    async with database.transaction() as uow:
        await uow.touchpoints.add([touch(conversation, "after")])
        await uow.commit()

    replies, touches = await stored_rows(database)
    assert (replies, [row["kind"] for row in touches]) == ([], ["after"])


async def test_more_rows_than_are_held_go_on_their_own(database: Database) -> None:
    conversation = await opened(database)
    many = [touch(conversation, "note", n=number) for number in range(MAX_HELD_ROWS * 3)]
    async with database.transaction() as uow:
        await uow.touchpoints.add([touch(conversation, "first")])
        await uow.touchpoints.add(many)
        await uow.outbox.enqueue([reply(conversation, "Done")], NOW)
        await uow.commit()

    replies, touches = await stored_rows(database)
    assert [row["text"] for row in replies] == ["Done"]
    assert [row["details"].get("n") for row in touches[1:]] == list(range(MAX_HELD_ROWS * 3))
    assert touches[0]["kind"] == "first"
