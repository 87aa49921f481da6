"""Helpers of the reliability suite: rows the repositories do not expose, a second instance on
the same database, a database that cannot be reached, and a reply catalog an operator broke."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Table, func, select, text

from bot.bootstrap import build_services
from bot.records import Conversation, OutboxRow
from bot.settings import Settings
from bot.texts import Texts
from bot.turn import Services
from handlers.catalog import CATALOG_DIR
from storage import tables
from storage.repos.outbox import NewOutbound
from storage.uow import Database, UnitOfWork
from tests.waiting import eventually

UNREACHABLE_POSTGRES = "postgresql+asyncpg://u:p@127.0.0.1:1/x"


@dataclass(frozen=True, slots=True)
class OutboxState:
    id: int
    conversation_id: int | None
    text: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    direction: str
    external_id: str
    text: str
    edited: bool


@dataclass(frozen=True, slots=True)
class TimerState:
    id: int
    kind: str
    status: str
    attempts: int
    locked_until: datetime | None


async def outbox_rows(database: Database) -> list[OutboxState]:
    query = select(
        tables.outbox.c.id,
        tables.outbox.c.conversation_id,
        tables.outbox.c.text,
        tables.outbox.c.status,
        tables.outbox.c.attempts,
        tables.outbox.c.next_attempt_at,
        tables.outbox.c.last_error,
    ).order_by(tables.outbox.c.id)
    async with database.transaction() as uow:
        return [OutboxState(*row) for row in await uow.connection.execute(query)]


async def stored_messages(database: Database, direction: str | None = None) -> list[StoredMessage]:
    query = select(
        tables.messages.c.direction,
        tables.messages.c.external_id,
        tables.messages.c.text,
        tables.messages.c.edited_at.is_not(None),
    ).order_by(tables.messages.c.id)
    if direction is not None:
        query = query.where(tables.messages.c.direction == direction)
    async with database.transaction() as uow:
        rows = await uow.connection.execute(query)
        return [StoredMessage(row[0], row[1], row[2], bool(row[3])) for row in rows]


async def timers(database: Database) -> list[TimerState]:
    query = select(
        tables.timers.c.id,
        tables.timers.c.kind,
        tables.timers.c.status,
        tables.timers.c.attempts,
        tables.timers.c.locked_until,
    ).order_by(tables.timers.c.id)
    async with database.transaction() as uow:
        return [TimerState(*row) for row in await uow.connection.execute(query)]


async def claim_one(
    uow: UnitOfWork,
    now: datetime,
    lease: timedelta,
    token: str,
    channels: tuple[str, ...] = ("console",),
) -> OutboxRow | None:
    """Lease the oldest deliverable row as a relay would (a batch of one), or None."""
    rows = await uow.outbox.claim_batch(now, lease, channels, token, limit=1)
    return rows[0] if rows else None


async def count_rows(database: Database, table: Table) -> int:
    async with database.transaction() as uow:
        query = select(func.count()).select_from(table)
        return int((await uow.connection.execute(query)).scalar_one())


async def kinds(database: Database, *, conversation_id: int | None = None) -> list[str]:
    async with database.transaction() as uow:
        found = await uow.touchpoints.search(conversation_id=conversation_id, limit=10_000)
    return [row.kind for row in found]


async def new_conversation(
    uow: UnitOfWork, now: datetime, address: str = "alice", channel: str = "console"
) -> Conversation:
    """A contact with one identity and one conversation, as the dispatcher would create them."""
    contact_id = await uow.contacts.create(address.title(), "en", now)
    await uow.contacts.link(contact_id, channel, address, now)
    return await uow.conversations.open(
        contact_id=contact_id,
        channel=channel,
        thread_key=address,
        address=address,
        language="en",
        subject=None,
        now=now,
    )


def reply_row(
    conversation: Conversation, text: str, options: list[dict[str, str]] | None = None
) -> NewOutbound:
    """An outbox row answering `conversation`, as a turn queues one."""
    return NewOutbound(
        channel=conversation.channel,
        address=conversation.address,
        text=text,
        conversation_id=conversation.id,
        options=options or [],
    )


def url_of(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


@asynccontextmanager
async def another_instance(database: Database) -> AsyncIterator[Database]:
    """The same database as a second process would see it: its own engine and pool."""
    other = Database.from_url(url_of(database))
    try:
        yield other
    finally:
        await other.dispose()


def unreachable_like(database: Database, tmp_path: Path) -> Database:
    """A database of the same engine that cannot be opened: PostgreSQL on a closed port, or a
    SQLite "file" that is a folder."""
    if database.is_sqlite:
        folder = tmp_path / "not-a-file.db"
        folder.mkdir()
        return Database.from_url(f"sqlite+aiosqlite:///{folder}")
    return Database.from_url(UNREACHABLE_POSTGRES)


def services_without_text(key: str, folder: Path) -> Services:
    """The bot's services with a reply catalog that lacks `key`, as an operator's bad edit
    would leave it: every turn that needs that text raises `TextsError`."""
    header = f"[replies.{key}]"
    lines = (CATALOG_DIR / "replies.toml").read_text(encoding="utf-8").splitlines()
    start = lines.index(header)
    end = next((at for at in range(start + 1, len(lines)) if lines[at].startswith("[")), len(lines))
    folder.mkdir(parents=True, exist_ok=True)
    kept = lines[:start] + lines[end:]
    (folder / "replies.toml").write_text("\n".join(kept) + "\n", encoding="utf-8")
    texts = Texts.load(folder)
    assert not texts.has(key)
    return replace(build_services(Settings(_env_file=None, timezone="UTC")), texts=texts)


class TurnHeldAtTheLock:
    """PostgreSQL: another instance holds an existing conversation's row lock, so a turn of that
    conversation waits inside its open transaction until `lose_connection()` kills it there."""

    def __init__(self, database: Database, channel: str, key: str) -> None:
        self._database = database
        self._channel = channel
        self._key = key

    async def __aenter__(self) -> TurnHeldAtTheLock:
        self._holder = await self._database.engine.connect()
        await self._holder.begin()
        locked = await self._holder.execute(
            text("SELECT id FROM conversations WHERE channel = :c AND thread_key = :k FOR UPDATE"),
            {"c": self._channel, "k": self._key},
        )
        assert locked.first() is not None, "the conversation must exist to be locked"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._holder.rollback()
        await self._holder.close()

    async def lose_connection(self) -> None:
        """Wait until a turn blocks on the lock, then terminate its server connection, as a
        PostgreSQL restart or failover would."""
        waiting = text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        async with self._database.engine.connect() as observer:

            async def waiting_turn() -> int | None:
                pids = list((await observer.execute(waiting)).scalars())
                await observer.commit()  # the next poll reads pg_stat_activity afresh
                return pids[0] if pids else None

            pid = await eventually(
                waiting_turn, what="a turn waiting for the conversation lock", interval=0.01
            )
            await observer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
