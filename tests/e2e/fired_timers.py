"""What the durable timers of an end-to-end run did, read from the database: each timer's row,
how many times its effect was recorded (the touchpoint its firing writes) and how many messages
its firing queued (outbox rows of its conversation that answer no inbound message).

The tests that use it give each conversation at most one timer of these kinds, so a
conversation's effects are its timer's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.kinds import TouchpointKind
from storage.tables import outbox, timers, touchpoints
from storage.uow import Database

FOLLOWUP = "ticket_followup"
QUEUE = "handoff_queue"
EFFECT = {
    FOLLOWUP: TouchpointKind.FOLLOWUP_DUE.value,
    QUEUE: TouchpointKind.HANDOFF_TIMED_OUT.value,
}


def now() -> datetime:
    """The wall clock, as the timers' times are kept."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Timer:
    kind: str
    status: str
    due_at: datetime
    fired_at: datetime | None
    conversation_id: int


@dataclass(frozen=True, slots=True)
class Fired:
    timers: list[Timer]
    effects: Counter[int]  # per conversation: touchpoints of its timer's effect
    messages: Counter[int]  # per conversation: messages queued by no inbound message
    mails: frozenset[str]  # the Message-IDs of those messages that are mails

    def count(self, kind: str) -> int:
        return sum(timer.kind == kind for timer in self.timers)

    def effects_per_timer(self) -> set[int]:
        return {self.effects[timer.conversation_id] for timer in self.timers}

    def messages_per_timer(self) -> set[int]:
        return {self.messages[timer.conversation_id] for timer in self.timers}

    def due_around(self, moment: datetime, seconds: float) -> int:
        window = timedelta(seconds=seconds)
        return sum(abs(timer.due_at - moment) <= window for timer in self.timers)

    def summary(self, killed_at: datetime, seconds: float) -> str:
        kinds = ", ".join(
            f"{n} {kind}" for kind, n in sorted(Counter(t.kind for t in self.timers).items())
        )
        return f"timers: {kinds}, {self.due_around(killed_at, seconds)} due within {seconds:g} s of the kill"


async def settled(database_url: str, expected: int) -> Fired | None:
    """The timers of these kinds once `expected` of them exist and every one fired (or failed
    or was cancelled: the test then says which); None before."""
    found = await read(database_url)
    if len(found.timers) < expected or any(t.status == "pending" for t in found.timers):
        return None
    return found


async def read(database_url: str) -> Fired:
    database = Database.from_url(database_url)
    try:
        async with database.transaction() as uow:
            run = uow.connection.execute
            rows = await run(
                select(timers.c.kind, timers.c.status, timers.c.due_at, timers.c.fired_at,
                       timers.c.conversation_id)
                .where(timers.c.kind.in_(EFFECT))
            )  # fmt: skip
            found = [Timer(*row) for row in rows]
            effects = await run(
                select(touchpoints.c.conversation_id, func.count())
                .where(touchpoints.c.kind.in_(EFFECT.values()))
                .group_by(touchpoints.c.conversation_id)
            )
            queued = await run(
                select(outbox.c.conversation_id, outbox.c.header_id)
                .where(outbox.c.inbound_message_id.is_(None))
                .where(outbox.c.conversation_id.in_([t.conversation_id for t in found]))
            )
            messages = queued.all()
            return Fired(
                timers=found,
                effects=Counter({int(c): int(n) for c, n in effects}),
                messages=Counter(int(c) for c, _ in messages),
                mails=frozenset(str(h) for _, h in messages if h),
            )
    finally:
        await database.dispose()
