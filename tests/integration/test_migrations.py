"""Migrations that move data keep it: a database filled at an older revision is upgraded (and
taken back) on both engines, and the rows are found through the repositories."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import reports
from bot.model import Address
from storage.db import downgrade, upgrade
from storage.tables import UTCDateTime
from storage.uow import Database
from tests.conftest import ENGINES, administer

CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
# The tables as revision 0007 had them.
REPS_0007 = sa.table(
    "reps",
    sa.column("id"),
    sa.column("name"),
    sa.column("telegram_user_id"),
    sa.column("email"),
    sa.column("active"),
    sa.column("created_at", UTCDateTime()),
)
CONTACTS_0007 = sa.table(
    "contacts", sa.column("id"), sa.column("owner_rep_id"), sa.column("created_at", UTCDateTime())
)


@pytest.fixture(params=ENGINES)
async def blank(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no schema at all, to migrate step by step."""
    if request.param == "sqlite":
        database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
        yield database
        await database.dispose()
        return
    server = request.getfixturevalue("postgres_server")
    name = f"touchpoint_migrations_{os.getpid()}"
    await administer(
        server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"
    )
    database = Database.from_url(f"{server}/{name}")
    try:
        yield database
    finally:
        await database.dispose()
        await administer(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _reps_at_0007(database: Database) -> None:
    """Olga on both channels (her email as someone once typed it), Ivan on Telegram, Zoe by
    email and removed; Olga owns a contact, so the reps table is referenced."""
    rows = [
        {"id": 1, "name": "Olga", "telegram_user_id": "1001", "email": "Olga@Shop.Example"},
        {"id": 2, "name": "Ivan", "telegram_user_id": "1002", "email": None},
        {"id": 3, "name": "Zoe", "telegram_user_id": None, "email": "zoe@shop.example"},
    ]
    await upgrade(database.engine, "0007")
    async with database.engine.begin() as connection:
        for row in rows:
            values = {**row, "active": row["id"] != 3, "created_at": CREATED}
            await connection.execute(REPS_0007.insert().values(values))
        owned = {"id": 1, "owner_rep_id": 1, "created_at": CREATED}
        await connection.execute(CONTACTS_0007.insert().values(owned))


async def test_reps_keep_their_telegram_ids_and_emails_as_identities(blank: Database) -> None:
    await _reps_at_0007(blank)

    await upgrade(blank.engine)

    async with blank.transaction() as uow:
        found = await uow.reps.search(include_inactive=True)
        olga_by_mail = await uow.reps.by_address("email", "OLGA@shop.example")
        ivan_on_telegram = await uow.reps.by_address("telegram", "1002")
        removed_zoe = await uow.reps.by_address("email", "zoe@shop.example")
        contact = await uow.contacts.get(1)
    assert [(rep.id, rep.name, rep.identities) for rep in found] == [
        (1, "Olga", (Address("telegram", "1001"), Address("email", "olga@shop.example"))),
        (2, "Ivan", (Address("telegram", "1002"),)),
        (3, "Zoe", (Address("email", "zoe@shop.example"),)),
    ]
    assert olga_by_mail is not None and olga_by_mail.id == 1
    assert ivan_on_telegram is not None and ivan_on_telegram.id == 2
    assert removed_zoe is None  # an inactive rep is no longer recognised, as before
    assert contact is not None and contact.owner_rep_id == 1


async def test_downgrading_moves_the_addresses_back_into_their_columns(blank: Database) -> None:
    await _reps_at_0007(blank)
    await upgrade(blank.engine)
    async with blank.transaction() as uow:
        now = datetime.now(UTC)
        assert await uow.reps.set_identity(2, "email", "ivan@shop.example", now=now)
        await uow.commit()

    await downgrade(blank.engine, "0007")

    async with blank.engine.connect() as connection:
        columns = (REPS_0007.c.id, REPS_0007.c.telegram_user_id, REPS_0007.c.email)
        rows = (await connection.execute(sa.select(*columns).order_by(REPS_0007.c.id))).all()
    assert [tuple(row) for row in rows] == [
        (1, "1001", "olga@shop.example"),
        (2, "1002", "ivan@shop.example"),
        (3, None, "zoe@shop.example"),
    ]


async def test_foreign_keys_are_enforced_again_after_migrating(blank: Database) -> None:
    # SQLite migrates with foreign keys off (a rebuilt table would break the references);
    # the connections the bot then uses must enforce them again.
    await _reps_at_0007(blank)
    await upgrade(blank.engine)

    orphan = {"id": 2, "owner_rep_id": 999, "created_at": CREATED}
    with pytest.raises(sa.exc.IntegrityError):
        async with blank.engine.begin() as connection:
            await connection.execute(CONTACTS_0007.insert().values(orphan))


async def test_timers_and_the_message_ids_of_our_mail_keep_their_rows(blank: Database) -> None:
    # Revision 0009 renamed `followups` to `timers` and `outbox.message_id` to `header_id`.
    await upgrade(blank.engine, "0007")
    async with blank.engine.begin() as connection:
        for statement, parameters in (
            ("INSERT INTO contacts (id, display_name, created_at) VALUES (1, 'Ann', :at)", {}),
            (
                "INSERT INTO conversations (id, contact_id, channel, thread_key, address, data, "
                "created_at, updated_at) VALUES (1, 1, 'email', 't', 'ann@example.org', '{}', "
                ":at, :at)",
                {},
            ),
            (
                "INSERT INTO followups (kind, status, due_at, conversation_id, payload, "
                "created_at) VALUES ('followup', 'pending', :due, 1, '{}', :at)",
                {"due": CREATED - timedelta(minutes=1)},
            ),
            (
                "INSERT INTO outbox (conversation_id, channel, address, text, options, "
                'message_id, "references", next_attempt_at, created_at) VALUES (1, '
                "'email', 'ann@example.org', 'hi', '[]', '<ours@shop.example>', '[]', :at, :at)",
                {},
            ),
        ):
            await connection.execute(sa.text(statement), {"at": CREATED, **parameters})

    await upgrade(blank.engine)

    async with blank.transaction() as uow:
        [due] = await uow.timers.due(CREATED)
        assert await uow.timers.take(due, CREATED) is not None
        assert await uow.outbox.conversations_of_header_ids(["<ours@shop.example>"]) == [1]
    assert await blank.is_current()


async def test_processes_starting_together_on_an_empty_database_all_migrate_it(
    blank: Database,
) -> None:
    # Regression: two `touchpoint shell`s started at once on an empty PostgreSQL database both
    # created `alembic_version`, and one of them died of a unique violation.
    others = [Database.from_url(blank.engine.url.render_as_string(False)) for _ in range(3)]
    try:
        together = asyncio.gather(blank.upgrade(), *(other.upgrade() for other in others))
        await asyncio.wait_for(together, 60)  # without the lock they could also deadlock
    finally:
        for other in others:
            await other.dispose()
    assert await blank.is_current()


# The tables as revision 0022 had them (the columns this test writes).
CONVERSATIONS_0022 = sa.table(
    "conversations",
    *(sa.column(name) for name in ("id", "contact_id", "channel", "thread_key", "address")),
    sa.column("data", sa.JSON()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
TOUCHPOINTS_0022 = sa.table(
    "touchpoints",
    *(sa.column(name) for name in ("contact_id", "conversation_id", "channel", "kind", "actor")),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("details", sa.JSON()),
)


def _history_at_0022() -> list[dict[str, object]]:
    """Two conversations: Ann writes at 09:00, 09:05 and the next day, and her lead is won;
    Bo writes once at 09:20 and rates his rep."""
    day = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def point(number: int, kind: str, minutes: int, **details: object) -> dict[str, object]:
        return {
            "contact_id": number, "conversation_id": number,
            "channel": "telegram" if number == 1 else "email", "kind": kind, "actor": "bot",
            "occurred_at": day + timedelta(minutes=minutes), "details": details,
        }  # fmt: skip

    return [
        point(1, "message_in", 0, text="hello"),
        point(1, "lead_captured", 1, lead_id=7, source="expo"),
        point(1, "message_in", 5, text="hello?"),
        point(2, "message_in", 20, text="hi"),
        point(1, "lead_contacted", 30, lead_id=7, rep_id=1, latency=1740.0),
        point(2, "csat_rated", 40, rep_id=1, rating=5),
        point(1, "lead_status_changed", 50, lead_id=7, rep_id=1, to="won", reason=None),
        point(1, "message_in", 24 * 60 + 3, text="thanks"),
    ]


async def test_the_reports_rollups_are_filled_from_the_touchpoints_written_before(
    blank: Database,
) -> None:
    await upgrade(blank.engine, "0022")
    async with blank.engine.begin() as connection:
        for number in (1, 2):
            await connection.execute(CONTACTS_0007.insert().values(id=number, created_at=CREATED))
            channel = "telegram" if number == 1 else "email"
            conversation: dict[str, object] = {"id": number, "contact_id": number, "channel": channel,
                                               "thread_key": str(number), "address": str(number), "data": {},
                                               "created_at": CREATED, "updated_at": CREATED}  # fmt: skip
            await connection.execute(CONVERSATIONS_0022.insert().values(conversation))
        await connection.execute(TOUCHPOINTS_0022.insert(), _history_at_0022())

    await upgrade(blank.engine)

    day = reports.Period(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    next_day = reports.Period(day.until, day.until + timedelta(days=1))
    async with blank.transaction() as uow:
        figures = await reports.build(uow, day, now=day.until, followup_after=timedelta(days=1))
        assert await uow.activity.by_channel(day.since, day.until) == {"telegram": 1, "email": 1}
        assert await uow.activity.by_channel(next_day.since, next_day.until) == {"telegram": 1}
        ann = await uow.conversations.get(1)
    assert ann is not None and ann.active_slot == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    assert figures["funnel"]["won"] == 1 and figures["leads"]["by_source"] == {"expo": 1}
    assert figures["speed_to_lead"]["all"] == {"count": 1, "median": 1740.0, "p90": 1740.0}
    assert figures["csat"]["by_channel"] == {
        "email": {"count": 1, "average": 5.0, "satisfied": 1.0}
    }

    await downgrade(blank.engine, "0022")  # and back, the rollups gone with their revision
    await upgrade(blank.engine)
