"""The outbox: replies waiting for delivery, claimed by the relay in batches.

States: pending → sending → sent | failed. A row left in `sending` by a crashed process is
claimed again once its lease expires, so a reply can repeat (at-least-once), but only those
that were in flight: at most one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)

from bot.records import OutboxRow
from storage.connection import SqlConnection
from storage.sql import in_key_order
from storage.tables import conversations, identities, outbox
from storage.write_behind import Check

ENQUEUE = outbox.insert()  # a constant: held writes are merged by statement


class LeaseLost(Exception):
    """A row settled as still leased was not: its lease ran out during the send and another
    relay took it over."""


@dataclass(frozen=True, slots=True)
class NewOutbound:
    channel: str
    address: str
    text: str
    conversation_id: int | None = None
    inbound_message_id: int | None = None
    options: list[dict[str, str]] = field(default_factory=list)
    contact_button: str = ""
    subject: str = ""
    header_id: str | None = None  # the Message-ID of a mail (threaded channels)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    ticket: int | None = None
    relay_conversation_id: int | None = None
    forward_message_id: int | None = None
    automatic: bool = True
    reply_token: str | None = None  # a mail to a rep: answers must carry it (rep_replies.py)
    link_previews: bool = True  # False: the channel must not fetch the links to show them
    not_before: datetime | None = None  # held until then (the quiet hours); None: due now


STORED_FIELDS = tuple(name for name in NewOutbound.__dataclass_fields__ if name != "not_before")


def outbox_from_row(row: Row[Any]) -> OutboxRow:
    return OutboxRow(
        id=row.id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        address=row.address,
        text=row.text,
        options=list(row.options or []),
        contact_button=row.contact_button,
        subject=row.subject,
        header_id=row.header_id,
        in_reply_to=row.in_reply_to,
        references=list(row.references or []),
        attempts=row.attempts,
        ticket=row.ticket,
        forward_message_id=row.forward_message_id,
        automatic=row.automatic,
        reply_token=row.reply_token,
        link_previews=row.link_previews,
        lease_token=row.lease_token,
        parts_sent=row.parts_sent,
    )


# Spelled as literal SQL so that SQLite sees the condition of the partial index ix_outbox_unsent
# and walks it (with bound parameters it cannot prove the match and scans the whole table).
UNSENT = text("outbox.status IN ('pending', 'sending')")


def _claimable() -> ColumnElement[bool]:
    """Due and pending, or `sending` under a lease that has expired (its relay died)."""
    now: BindParameter[datetime] = bindparam("now")
    pending = and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
    abandoned = and_(outbox.c.status == "sending", outbox.c.locked_until < now)
    return or_(pending, abandoned)


def _oldest_unsent_of_its_conversation() -> ColumnElement[bool]:
    """Replies of one conversation go out in order: a row waits while an older one is unsent.

    Asked as "is it the oldest unsent row of its conversation" (a subquery with LIMIT 1, run
    per candidate on ix_outbox_unsent_conversation) rather than "does no older unsent row
    exist": PostgreSQL planned that anti-join as a scan of every unsent row per candidate
    whenever its statistics said the outbox held almost none (as an idle outbox's do), and a
    burst of 2,000 replies then took 20–200 ms a lease. The status is literal SQL, as UNSENT:
    SQLite then walks the partial index too. A row of no conversation (a notice to a rep)
    waits for nothing."""
    earlier = outbox.alias("earlier")
    oldest = (
        select(earlier.c.id)
        .where(
            earlier.c.conversation_id == outbox.c.conversation_id,
            text("earlier.status IN ('pending', 'sending')"),
        )
        .order_by(earlier.c.id)
        .limit(literal_column("1"))  # literal: a generic plan must know it is one row
        .correlate(outbox)
        .scalar_subquery()
    )
    return or_(outbox.c.conversation_id.is_(None), outbox.c.id == oldest)


RECIPIENT = and_(identities.c.channel == outbox.c.channel, identities.c.address == outbox.c.address)
WHOLE_CHANNELS = outbox.c.channel.in_(bindparam("channels", expanding=True))
# A relay with a terminal serves that terminal's customer only: rows of the channel addressed
# to another customer wait for the process whose terminal is theirs.
SOME_ADDRESSES = tuple_(outbox.c.channel, outbox.c.address).in_(
    bindparam("addresses", expanding=True)
)


def _batch_candidates(served: ColumnElement[bool]) -> Select[Any]:
    """The oldest claimable rows that `served` takes: each the oldest unsent of its
    conversation, so a batch holds at most one row of a conversation."""
    return (
        select(outbox.c.id)
        .where(UNSENT, _claimable(), served, _oldest_unsent_of_its_conversation())
        .order_by(outbox.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )


def _recipient_columns() -> tuple[Any, ...]:
    """Whose a row is, and whether its address is known to be unreachable (identities are
    unique per channel and address), as scalar subqueries on the outbox row."""
    contact = select(conversations.c.contact_id).where(
        conversations.c.id == outbox.c.conversation_id
    )
    reachable = select(identities.c.reachable).where(RECIPIENT)
    reason = select(identities.c.unreachable_reason).where(RECIPIENT)
    return tuple(
        query.correlate(outbox).scalar_subquery().label(label)
        for query, label in (
            (contact, "recipient_contact_id"),
            (reachable, "recipient_reachable"),
            (reason, "recipient_unreachable_reason"),
        )
    )


# PostgreSQL returns each leased row's recipient with the claim (one statement per lease).
# SQLite would scan the identities for each row in a subquery of RETURNING (it uses no index
# there, where a SELECT's subquery uses one), so it reads them by a second statement.
RECIPIENTS = select(outbox.c.id, *_recipient_columns()).where(
    outbox.c.id.in_(bindparam("row_ids", expanding=True))
)


def _claim_batch(served: ColumnElement[bool], *, with_recipients: bool) -> Any:
    """Lease the candidates in one statement."""
    # A CTE, materialized: as a plain `IN (subquery)` PostgreSQL may run the subquery again
    # for the rows it updates, and a `LIMIT` of 2 then leased 4.
    picked = (
        _batch_candidates(served).cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
    )
    returned = (*outbox.c, *_recipient_columns()) if with_recipients else tuple(outbox.c)
    # The picked rows are locked, and were checked once locked: the update takes them by id
    # alone. Checked again, the status made PostgreSQL walk every unsent row (the partial
    # index, when statistics say it is nearly empty) instead of fetching the few by key.
    return (
        update(outbox)
        .where(outbox.c.id.in_(select(picked.c.id)))
        .values(
            status="sending",
            locked_until=bindparam("lease_until"),
            lease_token=bindparam("token"),
            attempts=outbox.c.attempts + 1,
        )
        .returning(*returned)
    )


# Keyed by (only some addresses are served, the recipients come back with the rows).
CLAIMS = {
    (some, inline): _claim_batch(
        or_(WHOLE_CHANNELS, SOME_ADDRESSES) if some else WHOLE_CHANNELS, with_recipients=inline
    )
    for some in (False, True)
    for inline in (False, True)
}
# PostgreSQL plans the lease from statistics that a burst outruns (an outbox never analyzed
# yet, or one analyzed while it held almost nothing unsent): estimating a handful of unsent
# rows, it read them all, each with its "oldest of the conversation" check, and sorted them by
# id to take the first; during a backlog of 2,000 replies, 3 ms a lease and a relay at 140 a
# second. With sorting ruled out for the lease's transaction the one way left is down the
# unsent rows' index in id order, stopping at the limit (about 0.5 ms with the same backlog).
LEASE_IN_ID_ORDER = text("SET LOCAL enable_sort = off")
# Settling happens only under the lease the row was sent under: a relay whose lease ran out
# and was taken by another changes nothing (the fence).
HELD = and_(
    outbox.c.id == bindparam("row_id"),
    outbox.c.status == "sending",
    outbox.c.lease_token == bindparam("token"),
)
SETTLE = update(outbox).where(HELD)
POSTPONE = SETTLE.values(
    status="pending",
    next_attempt_at=bindparam("when"),
    last_error=bindparam("reason"),
    parts_sent=bindparam("parts_sent"),
    locked_until=None,
    attempts=outbox.c.attempts - 1,
)
# A batch shares one lease token: renewed, and checked before it is settled, all at once.
OF_BATCH = and_(outbox.c.status == "sending", outbox.c.lease_token == bindparam("token"))
RENEW_BATCH = update(outbox).where(OF_BATCH).values(locked_until=bindparam("lease_until"))
HELD_OF_BATCH = (
    select(outbox.c.id)
    .where(OF_BATCH, outbox.c.id.in_(bindparam("row_ids", expanding=True)))
    .with_for_update()
)
RELEASE = (
    update(outbox)
    .where(OF_BATCH, outbox.c.id.in_(bindparam("row_ids", expanding=True)))
    .values(status="pending", locked_until=None, attempts=outbox.c.attempts - 1)
)
# Fenced like SETTLE (by `row_id` and `token`): for one row, its count says whether it was held;
# for many (an executemany), run only on rows already known to be held (`held_of_batch`).
MARK_SENT = (
    update(outbox)
    .where(HELD)
    .values(
        status="sent",
        sent_at=bindparam("sent_at"),
        external_id=bindparam("external_id"),
        text=bindparam("kept_text"),
        locked_until=None,
    )
)


# Each count walks an index (by conversation; by address and time).
_QUEUED_SINCE = outbox.c.created_at >= bindparam("since")
REPLIES_SINCE = select(
    select(func.count())
    .where(_QUEUED_SINCE, outbox.c.conversation_id == bindparam("conversation_id"))
    .scalar_subquery()
    .label("to_conversation"),
    select(func.count())
    .where(
        _QUEUED_SINCE,
        outbox.c.channel == bindparam("channel"),
        outbox.c.address == bindparam("address"),
    )
    .scalar_subquery()
    .label("to_address"),
)


@dataclass(frozen=True, slots=True)
class SentRow:
    row: OutboxRow
    external_id: str | None
    kept_text: str  # what stays of the text once sent


def _leased(row: Row[Any], recipient: Row[Any]) -> OutboxRow:
    reachable = recipient.recipient_reachable is not False
    return replace(
        outbox_from_row(row),
        contact_id=recipient.recipient_contact_id,
        reachable=reachable,
        retrying=reachable and recipient.recipient_unreachable_reason is not None,
    )


def _still_held(row_id: int) -> Check:
    def check(settled: int) -> None:
        if settled != 1:
            raise LeaseLost(f"outbox row {row_id} is no longer leased to this relay")

    return check


def _sent_values(item: SentRow, token: str, now: datetime) -> dict[str, Any]:
    return {
        "row_id": item.row.id,
        "token": token,
        "sent_at": now,
        "external_id": item.external_id,
        "kept_text": item.kept_text,
    }


class OutboxRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection
        self.queued_to: set[str] = set()  # the channels of the rows enqueued by this unit of work

    async def enqueue(self, rows: Sequence[NewOutbound], now: datetime) -> None:
        if not rows:
            return
        self.queued_to.update(row.channel for row in rows)
        values = [
            {
                **{name: getattr(row, name) for name in STORED_FIELDS},
                "status": "pending",
                "next_attempt_at": row.not_before or now,
                "created_at": now,
            }
            for row in rows
        ]
        await self._db.defer(ENQUEUE, values)

    async def release_held(self, conversation_id: int, now: datetime) -> int:
        """Make the conversation's rows held for later (quiet hours) due now; returns how many.

        A row held back is one never tried (`attempts` 0) whose time is still ahead: a reply
        queued after it would otherwise wait behind it, as replies go out in order.
        """
        statement = (
            update(outbox)
            .where(
                outbox.c.conversation_id == conversation_id,
                outbox.c.status == "pending",
                outbox.c.attempts == 0,
                outbox.c.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
        )
        return int((await self._db.execute(statement)).rowcount or 0)

    async def card_status(
        self, channel: str, address: str, conversation_id: int, since: datetime
    ) -> str | None:
        """The status of the newest card (a message with buttons) about a conversation queued
        to `(channel, address)` at or after `since`; None when there is none."""
        query = (
            select(outbox.c.status, outbox.c.options)
            .where(
                outbox.c.channel == channel,
                outbox.c.address == address,
                outbox.c.relay_conversation_id == conversation_id,
                outbox.c.created_at >= since,
            )
            .order_by(outbox.c.id.desc())
        )
        for row in await self._db.execute(query):
            if row.options:
                return str(row.status)
        return None

    async def claim_batch(
        self,
        now: datetime,
        lease: timedelta,
        channels: Sequence[str],
        token: str,
        *,
        limit: int,
        addresses: Sequence[tuple[str, str]] = (),
    ) -> list[OutboxRow]:
        """Lease up to `limit` deliverable rows in one statement, all under `token`, in id
        order: at most one per conversation (a later row of a conversation waits while an
        earlier one is unsent), none that another relay holds (`SKIP LOCKED`), each with its
        contact and whether its address is known to be unreachable (returned by the same
        statement on PostgreSQL, read by a second one on SQLite: see RECIPIENTS). On PostgreSQL
        sorting stays off for the rest of the transaction (LEASE_IN_ID_ORDER): lease last."""
        parameters: dict[str, Any] = {
            "now": now,
            "channels": list(channels),
            "limit": limit,
            "lease_until": now + lease,
            "token": token,
        }
        if addresses:
            parameters["addresses"] = [tuple(pair) for pair in addresses]
        inline = self._db.dialect.name == "postgresql"
        if inline:
            await self._db.execute(LEASE_IN_ID_ORDER)
        statement = CLAIMS[(bool(addresses), inline)]
        rows = (await self._db.execute(statement, parameters)).all()
        if inline or not rows:
            leased = [_leased(row, row) for row in rows]
        else:
            ids = {"row_ids": [row.id for row in rows]}
            recipients = {found.id: found for found in await self._db.execute(RECIPIENTS, ids)}
            leased = [_leased(row, recipients[row.id]) for row in rows]
        return sorted(leased, key=lambda row: row.id)

    async def held_of_batch(self, token: str, row_ids: Sequence[int]) -> set[int]:
        """Which of `row_ids` are still leased under `token`, locked until the transaction
        ends, so settling them needs no check per row."""
        if not row_ids:
            return set()
        parameters = {"token": token, "row_ids": list(row_ids)}
        return {row.id for row in await self._db.execute(HELD_OF_BATCH, parameters)}

    async def mark_sent(self, token: str, sent: Sequence[SentRow], now: datetime) -> set[int]:
        """Settle the delivered rows still leased under `token`; returns their ids.

        One row (the relay's default batch): one fenced UPDATE, whose count says whether the
        row was still held. More: the held ones found and locked in one statement, then all of
        them settled in one executemany, so no count per row is needed."""
        if len(sent) == 1:
            [item] = sent
            settled = await self._db.execute(MARK_SENT, _sent_values(item, token, now))
            return {item.row.id} if settled.rowcount == 1 else set()
        held = await self.held_of_batch(token, [item.row.id for item in sent])
        values = [_sent_values(item, token, now) for item in sent if item.row.id in held]
        if values:
            await self._db.execute(MARK_SENT, values)
        return held

    async def settle_sent(self, token: str, item: SentRow, now: datetime) -> None:
        """Settle one delivered row taken to be still leased under `token`: a held write, so on
        PostgreSQL it goes with the settling transaction's other writes (a round trip fewer
        than asking first). When the row was not held, `LeaseLost` is raised by the next
        statement or the commit at the latest: roll back and settle with `mark_sent`."""
        values = _sent_values(item, token, now)
        await self._db.defer(MARK_SENT, values, check=_still_held(item.row.id))

    async def renew_batch(self, token: str, until: datetime) -> int:
        """Keep the leases of a batch while its sends go on; returns how many are still held."""
        parameters = {"token": token, "lease_until": until}
        return int((await self._db.execute(RENEW_BATCH, parameters)).rowcount or 0)

    async def replies_since(
        self, since: datetime, conversation_id: int, channel: str, address: str
    ) -> tuple[int, int]:
        """Replies queued since `since` to the conversation, and to its channel address."""
        parameters = {
            "since": since,
            "conversation_id": conversation_id,
            "channel": channel,
            "address": address,
        }
        row = (await self._db.execute(REPLIES_SINCE, parameters)).one()
        return int(row.to_conversation), int(row.to_address)

    async def conversations_of_header_ids(self, header_ids: Sequence[str]) -> list[int]:
        """The conversations our replies with these Message-IDs belong to, in the ids' order."""
        if not header_ids:
            return []
        query = select(outbox.c.header_id, outbox.c.conversation_id).where(
            outbox.c.header_id.in_(list(header_ids)), outbox.c.conversation_id.is_not(None)
        )
        found = {row.header_id: row.conversation_id for row in await self._db.execute(query)}
        return in_key_order(header_ids, found)

    async def relayed_since(
        self, channel: str, address: str, conversation_id: int, since: datetime
    ) -> int:
        """How many messages about `conversation_id` were queued to this rep since `since`."""
        query = (
            select(func.count())
            .select_from(outbox)
            .where(
                outbox.c.channel == channel,
                outbox.c.address == address,
                outbox.c.relay_conversation_id == conversation_id,
                outbox.c.created_at >= since,
            )
        )
        return int((await self._db.execute(query)).scalar_one())

    async def sent_to(self, channel: str, address: str, header_ids: Sequence[str]) -> bool:
        """Whether one of our messages with these Message-IDs went to `address`: a reply to it
        comes from a mailbox that received it (the ids are random and were never public)."""
        ids = [value for value in header_ids if value]
        if not ids:
            return False
        query = select(outbox.c.id).where(
            outbox.c.channel == channel,
            outbox.c.address == address,
            or_(outbox.c.header_id.in_(ids), outbox.c.external_id.in_(ids)),
        )
        return (await self._db.execute(query.limit(1))).first() is not None

    async def last_chain(self, conversation_id: int) -> list[str]:
        """The References of our newest reply in the conversation, followed by its own id."""
        query = (
            select(outbox.c.references, outbox.c.header_id)
            .where(outbox.c.conversation_id == conversation_id, outbox.c.header_id.is_not(None))
            .order_by(outbox.c.id.desc())
            .limit(1)
        )
        row = (await self._db.execute(query)).first()
        return [*row.references, row.header_id] if row else []

    async def last_relay_chain(self, channel: str, address: str, conversation_id: int) -> list[str]:
        """Like `last_chain`, for our newest message to a rep about the conversation."""
        query = (
            select(outbox.c.references, outbox.c.header_id)
            .where(
                outbox.c.channel == channel,
                outbox.c.address == address,
                outbox.c.relay_conversation_id == conversation_id,
                outbox.c.header_id.is_not(None),
            )
            .order_by(outbox.c.id.desc())
            .limit(1)
        )
        row = (await self._db.execute(query)).first()
        return [*row.references, row.header_id] if row else []

    async def relayed_conversation(self, channel: str, key: str) -> int | None:
        """The customer conversation a message we sent to a rep was about, found by the key the
        rep's answer quotes (a Telegram `chat:message` id, a mail's Message-ID)."""
        query = (
            select(outbox.c.relay_conversation_id)
            .where(
                outbox.c.channel == channel,
                or_(outbox.c.external_id == key, outbox.c.header_id == key),
                outbox.c.relay_conversation_id.is_not(None),
            )
            .limit(1)
        )
        found: int | None = (await self._db.execute(query)).scalar_one_or_none()
        return found

    async def retry_later(
        self, row: OutboxRow, when: datetime, error: str, *, parts_sent: int
    ) -> bool:
        return await self._set(
            row,
            status="pending",
            next_attempt_at=when,
            last_error=error,
            parts_sent=parts_sent,
            locked_until=None,
        )

    async def postpone(
        self, row: OutboxRow, when: datetime, reason: str, *, parts_sent: int
    ) -> bool:
        """Back to pending without spending an attempt: pacing held it back, nothing failed."""
        parameters = {"when": when, "reason": reason, "parts_sent": parts_sent}
        return await self._execute(POSTPONE, row, parameters)

    async def mark_failed(self, row: OutboxRow, error: str) -> bool:
        return await self._set(row, status="failed", last_error=error, locked_until=None)

    async def release(self, token: str, row_ids: Sequence[int]) -> int:
        """Leased rows not sent after all: pending again at once, their attempt not spent."""
        parameters = {"token": token, "row_ids": list(row_ids)}
        return int((await self._db.execute(RELEASE, parameters)).rowcount or 0)

    async def reclaim(self, holder: str) -> int:
        """Rows this instance was sending when it died: pending again at once, instead of
        waiting out their lease (the reply in flight may go twice; nothing is lost)."""
        statement = (
            update(outbox)
            .where(outbox.c.status == "sending", outbox.c.lease_token.startswith(f"{holder}:"))
            .values(status="pending", locked_until=None, attempts=outbox.c.attempts - 1)
        )
        return (await self._db.execute(statement)).rowcount

    async def _set(self, row: OutboxRow, **values: Any) -> bool:
        return await self._execute(SETTLE, row, values)

    async def _execute(self, statement: Any, row: OutboxRow, values: dict[str, Any]) -> bool:
        held = {"row_id": row.id, "token": row.lease_token}
        return (await self._db.execute(statement, {**held, **values})).rowcount == 1
