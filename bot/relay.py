"""The relay: delivers outbox rows through the channel adapters.

Guarantees: at-least-once delivery. A batch of rows (`batch`, at most one per conversation) is
leased in one statement, sent (up to `concurrency` sends at once, one chat's rows one after
another), then settled in one transaction which also leases the next batch. A crash between the
sends and the settling repeats at most the replies of that batch, never loses one. Replies of
one conversation go out in order: a later row is leased only once the earlier one is settled;
rows to one chat (channel and address) within a batch are sent one after another in id order.

Errors: `TransientSendError` (and any unexpected exception) → retry with exponential backoff
and jitter, honouring `retry_after`; after `max_attempts` the row fails. A `PermanentSendError`
fails the row at once and, when the recipient is gone, marks the identity unreachable so
nothing more is tried for it. `ThrottledSendError` (pacing, flood control) postpones the row
without spending an attempt, and pauses the whole channel when it says so; a pause of at most
`pause_in_batch` is waited out within the batch instead. Delivered and failed rows are
touchpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from bot.backoff import full_jitter
from bot.intake import describe
from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.language import detect_language
from bot.leadership import until_ready
from bot.leases import Leases
from bot.logs import about
from bot.metrics import SendObserver, ignore_send
from bot.model import (
    Address,
    ChannelAdapter,
    OutboundMessage,
    PermanentSendError,
    QuickReply,
    SendGate,
    SendReceipt,
    ServesAddresses,
    ThrottledSendError,
    TransientSendError,
    utc_now,
)
from bot.originals import Originals
from bot.recorder import Touch, of_outbox_row, record
from bot.records import OutboxRow
from bot.redaction import redact, without_sign_in_links
from storage.repos.messages import OutboundStored
from storage.repos.outbox import LeaseLost, SentRow
from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

UNREACHABLE = "the recipient is unreachable (blocked the bot or the address bounced)"
ROUND_LIMIT = 1000  # rows a poll, a drain or `deliver_due` attempts before it returns


@dataclass(frozen=True, slots=True)
class RelayPolicy:
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 600.0
    poll_seconds: float = 1.0
    # Rows a channel's loop sends and then settles together: what a crash may send twice, at
    # most. One by default: a SIGKILL repeats at most the one reply in flight of each channel;
    # more is a deployment's choice of throughput.
    batch: int = 1
    concurrency: int = 1  # sends of a channel in flight at once, each to a different chat
    # With batches of one: rows leased at once, in one statement, then sent and settled one by
    # one (a crash still repeats at most the one in flight). Those not yet sent wait out their
    # lease if another instance has to take them; a restarted instance takes them back at once.
    ahead: int = 16
    pause_in_batch: float = 1.0  # seconds of a channel's pause waited out with the batch leased
    holder: str = "touchpoint"  # this instance's name in its leases (bot/leases.py)


@dataclass(frozen=True, slots=True)
class Delivered:
    receipt: SendReceipt


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str
    permanent: bool
    unreachable: bool = False
    retry_after: float | None = None
    parts_done: int | None = None  # of a message in several parts, delivered before the error


@dataclass(frozen=True, slots=True)
class Throttled:
    reason: str
    retry_after: float
    whole_channel: bool
    parts_done: int | None = None


Attempt = Delivered | Failed | Throttled


class Relay:
    def __init__(
        self,
        database: Database,
        adapters: Mapping[str, ChannelAdapter],
        *,
        policy: RelayPolicy = RelayPolicy(),
        clock: Callable[[], datetime] = utc_now,
        jitter: Callable[[], float] = random.random,
        on_sent: SendObserver = ignore_send,
        gates: Mapping[str, SendGate] | None = None,
    ) -> None:
        """`gates`: the channels this instance may send only while their gate is open (those
        paced per account, among instances sharing the database); the others always."""
        self._db = database
        self._gates = dict(gates or {})
        self._on_sent = on_sent
        self._adapters = dict(adapters)
        self._addresses = {
            name: adapter.served_addresses
            for name, adapter in self._adapters.items()
            if isinstance(adapter, ServesAddresses)
        }
        self._stating_language = {
            name for name, adapter in self._adapters.items() if adapter.capabilities.states_language
        }
        self._policy = policy
        self._clock = clock
        self._jitter = jitter
        self._wakeup = asyncio.Event()  # a stop, or a wake of any channel
        self._lanes = {name: asyncio.Event() for name in self._adapters}  # each channel's wake
        self._stopping = False
        self._paused_until: dict[str, float] = {}
        self._originals = Originals(database, self._adapters)
        holder = _holder(policy.holder, self._addresses)
        self._leases = Leases(database, policy.lease, holder, clock)

    async def reclaim(self) -> None:
        """Take back what this instance was sending when it stopped (bot/leases.py)."""
        with contextlib.suppress(Exception):  # the database away: the leases run out instead
            await self._leases.reclaim()

    async def keep_gates(self) -> None:
        """Hold the channels' gates until cancelled (after the last delivery: a stop's drain
        still sends), and look for rows whenever one opens. Runs beside `run`."""
        # A task group, not gather: cancelled, it waits until every gate has let go.
        async with asyncio.TaskGroup() as group:
            for gate in self._gates.values():
                group.create_task(gate.keep(self.wake))
            await asyncio.Event().wait()

    def wake(self, channels: Iterable[str] | None = None) -> None:
        """Called after a turn commits, with the channels it queued messages to (None: every
        channel): deliver them now instead of at the next poll."""
        for name in self._lanes if channels is None else channels:
            lane = self._lanes.get(name)
            if lane is not None:
                lane.set()
        self._wakeup.set()

    async def run(self, *, ready: asyncio.Event | None = None) -> None:
        """Deliver until `stop()`; a stop lets the batches in hand be settled first. With
        `ready`, nothing is taken back or sent before it is set (no other running process has
        this instance's name: see `App.presence`).

        Each channel is delivered by a loop of its own: a channel whose sends hang (a mail
        server that stopped answering, waited out for its timeout at every attempt) holds up
        its own messages, never another channel's."""
        self._stopping = False
        if not await until_ready(ready, self._wakeup, lambda: self._stopping):
            return
        await self.reclaim()
        async with asyncio.TaskGroup() as lanes:
            for name in self._adapters:
                lanes.create_task(self._lane(name), name=f"relay {name}")

    async def _lane(self, channel: str) -> None:
        wakeup, only = self._lanes[channel], (channel,)
        while not self._stopping:
            wakeup.clear()
            if await self._poll(only) == 0 and not self._stopping:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that meets a wake-up, and this loop would then never end.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_seconds(channel)):
                        await wakeup.wait()

    def _idle_seconds(self, channel: str) -> float:
        """Until the next poll: the poll interval, or less when the channel's pause ends
        sooner."""
        return max(0.001, min(self._policy.poll_seconds, self._pause_left(channel) or math.inf))

    async def _poll(self, channels: tuple[str, ...]) -> int:
        try:
            return await self._deliver(channels, ROUND_LIMIT, stop_early=True)
        except Exception:  # the database may be away for a moment; try again next poll
            log.exception("relay poll of %s failed", ", ".join(channels))
            return 0

    def stop(self) -> None:
        # Cancelling mid-delivery would leave sent rows unmarked (and resent after the lease);
        # a stop request is honoured between batches instead.
        self._stopping = True
        self._wakeup.set()
        for lane in self._lanes.values():
            lane.set()

    async def deliver_due(self, limit: int = ROUND_LIMIT, *, stop_early: bool = False) -> int:
        """Deliver due rows of every channel batch by batch; returns how many were attempted.

        Settling a batch and leasing the next one share a transaction, so a steady stream costs
        one transaction per batch, not per reply.
        """
        return await self._deliver(tuple(self._adapters), limit, stop_early=stop_early)

    async def drain(self) -> int:
        """At a stop, after `run` ended: deliver what is due, each channel on its own, so that a
        channel whose sends hang leaves the others' due replies sent. Returns how many were
        attempted."""
        every = [self._deliver((name,), ROUND_LIMIT, stop_early=False) for name in self._adapters]
        return sum(await asyncio.gather(*every))

    async def _deliver(self, channels: tuple[str, ...], limit: int, *, stop_early: bool) -> int:
        if self._policy.batch == 1 and self._policy.ahead > 1:
            return await self._deliver_one_by_one(channels, limit, stop_early=stop_early)
        attempted = 0
        size = min(limit, self._policy.batch)
        batch = await self._db.run(partial(self._claim, size=size, channels=channels))
        while batch.rows:
            attempts = await self._attempt_all(batch)
            attempted += len(batch.rows)
            more = attempted < limit and not (stop_early and self._stopping)
            size = min(limit - attempted, self._policy.batch) if more else 0
            for row in batch.rows:
                self._on_sent(row.channel, _outcome(attempts[row.id]))
            batch = await self._settle_and_claim(batch, attempts, size, channels)
        return attempted

    async def _settle_and_claim(
        self,
        batch: Batch,
        attempts: Mapping[int, Attempt],
        size: int,
        channels: tuple[str, ...],
    ) -> Batch:
        """Settle the batch and lease the next in one transaction. A batch of one delivered
        row is settled trusting that its lease still held (one statement fewer); in the rare
        case it did not, the transaction is rolled back and run again asking first."""
        settle = partial(
            self._settle_then_claim, batch=batch, attempts=attempts, size=size, channels=channels
        )
        try:
            return await self._db.run(partial(settle, trusting=True))
        except LeaseLost:
            return await self._db.run(partial(settle, trusting=False))

    async def _deliver_one_by_one(
        self, channels: tuple[str, ...], limit: int, *, stop_early: bool
    ) -> int:
        """Lease up to `ahead` rows in one statement, then send them one at a time, each
        settled as soon as its send ends (the last one with the next lease, in one
        transaction). Rows left unsent when the loop must stop sending (a stop, a shut gate, a
        long pause of the channel) are released at once."""
        attempted = 0
        size = min(limit, self._policy.ahead)
        leased = await self._db.run(partial(self._claim, size=size, channels=channels))
        while leased.rows:
            async with self._leases.kept(leased.token):
                for index, row in enumerate(leased.rows):
                    if attempted and not self._may_go_on(row.channel, stop_early=stop_early):
                        await self._release(leased.token, leased.rows[index:])
                        return attempted
                    attempt = await self._attempt(row)
                    attempted += 1
                    self._on_sent(row.channel, _outcome(attempt))
                    last = index == len(leased.rows) - 1
                    more = last and attempted < limit and not (stop_early and self._stopping)
                    size = min(limit - attempted, self._policy.ahead) if more else 0
                    sent = Batch(leased.token, [row])
                    following = await self._settle_and_claim(
                        sent, {row.id: attempt}, size, channels
                    )
            leased = following
        return attempted

    def _may_go_on(self, channel: str, *, stop_early: bool) -> bool:
        """Whether the next leased row of `channel` may be sent now."""
        if stop_early and self._stopping:
            return False
        return self._may_send(channel) and self._pause_left(channel) <= self._policy.pause_in_batch

    async def _release(self, token: str, rows: list[OutboxRow]) -> None:
        async def work(uow: UnitOfWork) -> None:
            await uow.outbox.release(token, [row.id for row in rows])
            await uow.commit()

        await self._db.run(work)

    async def deliver_one(self) -> bool:
        return await self.deliver_due(limit=1) == 1

    async def _claim(self, uow: UnitOfWork, *, size: int, channels: tuple[str, ...]) -> Batch:
        """Lease up to `size` rows of `channels` that are not paused (of a channel served for
        some addresses only, rows to one of them)."""
        token = self._leases.new_token()
        channels = self._open_channels(channels)
        if not channels or size <= 0:
            return Batch(token, [])
        whole = [name for name in channels if name not in self._addresses]
        some = [(name, value) for name in channels for value in self._addresses.get(name, ())]
        now, lease = self._clock(), self._policy.lease
        rows = await uow.outbox.claim_batch(now, lease, whole, token, limit=size, addresses=some)
        await uow.commit()
        return Batch(token, rows)

    def _open_channels(self, channels: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(name for name in channels if not self._paused(name) and self._may_send(name))

    def _paused(self, channel: str) -> bool:
        return self._pause_left(channel) > 0

    def _may_send(self, channel: str) -> bool:
        gate = self._gates.get(channel)
        return gate is None or gate.open

    def _pause_if_asked(self, channel: str, attempt: Attempt) -> None:
        # Flood control of the whole channel (Telegram's 429): no send of that channel is even
        # tried until it ends; the rows stay in the outbox, nothing waits in memory.
        if isinstance(attempt, Throttled) and attempt.whole_channel:
            self._paused_until[channel] = time.monotonic() + attempt.retry_after

    async def _settle_then_claim(
        self,
        uow: UnitOfWork,
        *,
        batch: Batch,
        attempts: Mapping[int, Attempt],
        size: int,
        channels: tuple[str, ...],
        trusting: bool,
    ) -> Batch:
        await self._settle_all(uow, batch, attempts, trusting=trusting)
        return await self._claim(uow, size=size, channels=channels)

    async def _attempt_all(self, batch: Batch) -> dict[int, Attempt]:
        """Send the batch: chats side by side (at most `concurrency` sends at once), each
        chat's rows one after another, in id order."""
        slots = asyncio.Semaphore(max(1, self._policy.concurrency))
        attempts: dict[int, Attempt] = {}

        async def chat(rows: list[OutboxRow]) -> None:
            for row in rows:
                async with slots:
                    attempts[row.id] = await self._attempt(row)

        chats = _by_chat(batch.rows)
        async with self._leases.kept(batch.token):
            if len(chats) == 1:  # the default batch of one: no task to create and gather
                await chat(chats[0])
            else:
                await asyncio.gather(*(chat(rows) for rows in chats))
        return attempts

    async def _attempt(self, row: OutboxRow) -> Attempt:
        """Send a row of the batch. A pause of its channel (the overall pace, a short 429) no
        longer than `pause_in_batch` is waited out here, the row still leased: postponing the
        rest of a batch at every pause would cost a statement a row and a claim a send. A
        longer pause postpones the row without sending it."""
        if not row.reachable:
            return Failed(UNREACHABLE, permanent=True)
        while True:
            wait = self._pause_left(row.channel)
            if wait > self._policy.pause_in_batch:
                return Throttled("the channel is paused", wait, False, row.parts_sent)
            if wait > 0:
                await asyncio.sleep(wait)
            with about(channel=row.channel, outbox_id=row.id, conversation_id=row.conversation_id):
                attempt = await self._send(row)
            self._pause_if_asked(row.channel, attempt)
            if not isinstance(attempt, Throttled) or not attempt.whole_channel:
                return attempt
            # The parts that went out before the pause are not sent again.
            row = replace(row, parts_sent=_parts(row, attempt.parts_done))

    def _pause_left(self, channel: str) -> float:
        return max(0.0, self._paused_until.get(channel, 0.0) - time.monotonic())

    async def _send(self, row: OutboxRow) -> Attempt:
        # An SDK's error may quote a secret (a rejected token): reasons are stored and shown.
        try:
            return Delivered(await self._adapters[row.channel].send(await self._shown(row)))
        except PermanentSendError as error:
            return Failed(redact(error.reason), permanent=True, unreachable=error.unreachable)
        except ThrottledSendError as error:
            wait = error.retry_after or 1.0
            return Throttled(redact(error.reason), wait, error.whole_channel, error.parts_done)
        except TransientSendError as error:
            return Failed(
                redact(error.reason),
                permanent=False,
                retry_after=error.retry_after,
                parts_done=error.parts_done,
            )
        except Exception as error:  # an adapter bug or an unforeseen network error: retry
            log.exception("sending outbox row %s failed", row.id)
            return Failed(redact(describe(error)), permanent=False)

    async def _shown(self, row: OutboxRow) -> OutboundMessage:
        message = to_message(row, language=row.channel in self._stating_language)
        if row.forward_message_id is None:
            return message
        return await self._originals.shown(message, row.forward_message_id)

    async def _settle_all(
        self, uow: UnitOfWork, batch: Batch, attempts: Mapping[int, Attempt], *, trusting: bool
    ) -> None:
        """Settle a batch in one transaction: the delivered rows in a few statements for all
        of them, the others (rare) one by one."""
        now = self._clock()
        delivered: list[tuple[OutboxRow, SendReceipt]] = []
        for row in batch.rows:
            attempt = attempts[row.id]
            if isinstance(attempt, Delivered):
                delivered.append((row, attempt.receipt))
            else:
                await self._settle_undelivered(uow, row, attempt, now)
        await self._delivered(uow, batch.token, delivered, now, trusting=trusting)
        await uow.commit()

    async def _settle_undelivered(
        self, uow: UnitOfWork, row: OutboxRow, attempt: Failed | Throttled, now: datetime
    ) -> None:
        if isinstance(attempt, Throttled):
            when = now + timedelta(seconds=attempt.retry_after)
            parts = _parts(row, attempt.parts_done)
            await uow.outbox.postpone(row, when, attempt.reason, parts_sent=parts)
        elif attempt.permanent or row.attempts >= self._policy.max_attempts:
            await self._failed(uow, row, attempt, now)
        else:
            when = now + timedelta(seconds=self._delay(row.attempts, attempt.retry_after))
            parts = _parts(row, attempt.parts_done)
            await uow.outbox.retry_later(row, when, attempt.reason, parts_sent=parts)

    async def _delivered(
        self,
        uow: UnitOfWork,
        token: str,
        delivered: list[tuple[OutboxRow, SendReceipt]],
        now: datetime,
        *,
        trusting: bool,
    ) -> None:
        if not delivered:
            return
        settling = [_sent_row(row, receipt) for row, receipt in delivered]
        if trusting and len(settling) == 1:  # LeaseLost, later, if it was not held
            await uow.outbox.settle_sent(token, settling[0], now)
            held = {settling[0].row.id}
        else:
            held = await uow.outbox.mark_sent(token, settling, now)
        for row, _ in delivered:
            if row.id not in held:
                log.warning("outbox row %s was sent after its lease was lost", row.id)
        sent = [(row, receipt) for row, receipt in delivered if row.id in held]
        await uow.messages.insert_outbound([_stored(row, receipt) for row, receipt in sent], now)
        touches = [_delivered_touch(row, receipt, now) for row, receipt in sent]
        for row, _ in sent:
            if row.retrying:  # the address bounced once; its owner wrote, and this send went
                touches += await self._reachable_again(uow, row, now)
        await record(uow, touches)

    async def _reachable_again(self, uow: UnitOfWork, row: OutboxRow, now: datetime) -> list[Touch]:
        await uow.contacts.set_reachable(row.channel, row.address, None)
        after = {"address": row.address, "after": "bounce"}
        return [of_outbox_row(row, Kind.REACHABLE_AGAIN, Actor.SYSTEM, now, after)]

    async def _failed(
        self, uow: UnitOfWork, row: OutboxRow, attempt: Failed, now: datetime
    ) -> None:
        if not await uow.outbox.mark_failed(row, attempt.reason):
            return  # another relay holds it now and decides
        details = {"outbox_id": row.id, "attempts": row.attempts, "reason": attempt.reason}
        touches = [of_outbox_row(row, Kind.FAILED, Actor.SYSTEM, now, details)]
        if attempt.unreachable and await uow.contacts.set_reachable(
            row.channel, row.address, attempt.reason
        ):
            reason = {"reason": attempt.reason}
            touches.append(of_outbox_row(row, Kind.UNREACHABLE, Actor.SYSTEM, now, reason))
        await record(uow, touches)

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:  # the channel said when: then, and a little spread
            return retry_after + self._jitter()
        policy = self._policy
        return full_jitter(
            attempts, base=policy.base_delay, cap=policy.max_delay, draw=self._jitter
        )


@dataclass(frozen=True, slots=True)
class Batch:
    token: str  # the lease of all its rows
    rows: list[OutboxRow]


def _by_chat(rows: list[OutboxRow]) -> list[list[OutboxRow]]:
    """The rows grouped by chat (channel and address), each group in id order."""
    chats: dict[tuple[str, str], list[OutboxRow]] = {}
    for row in sorted(rows, key=lambda row: row.id):
        chats.setdefault((row.channel, row.address), []).append(row)
    return list(chats.values())


def _sent_row(row: OutboxRow, receipt: SendReceipt) -> SentRow:
    return SentRow(row, receipt.external_id, without_sign_in_links(row.text))


def _stored(row: OutboxRow, receipt: SendReceipt) -> OutboundStored:
    key = f"out:{receipt.external_id or row.id}"
    return OutboundStored(row.channel, key, row.conversation_id, without_sign_in_links(row.text))


def _delivered_touch(row: OutboxRow, receipt: SendReceipt, now: datetime) -> Touch:
    details = {"outbox_id": row.id, "attempts": row.attempts, "external_id": receipt.external_id}
    return of_outbox_row(row, Kind.DELIVERED, Actor.BOT, now, details)


def _outcome(attempt: Attempt) -> str:
    if isinstance(attempt, Delivered):
        return "delivered"
    if isinstance(attempt, Throttled):
        return "throttled"
    return "failed" if attempt.permanent else "retried"


def _holder(instance: str, addresses: Mapping[str, frozenset[str]]) -> str:
    """This relay's name in its leases. A relay that serves some addresses only (a terminal)
    names them too (hashed, to fit the column): of the shells and the `run` of one host, each
    takes back after a restart only what it was sending itself."""
    if not addresses:
        return instance
    served = sorted(
        f"{channel}:{value}" for channel, values in addresses.items() for value in values
    )
    digest = hashlib.sha256("\n".join(served).encode()).hexdigest()
    return f"{instance}/{digest[:8]}"


def _parts(row: OutboxRow, parts_done: int | None) -> int:
    """How many parts have gone out, at least as many as before this try."""
    return max(row.parts_sent, parts_done or 0)


def to_message(row: OutboxRow, *, language: bool = True) -> OutboundMessage:
    """The row as a channel sends it; its language detected only if `language`."""
    return OutboundMessage(
        address=Address(row.channel, row.address),
        text=row.text,
        options=tuple(QuickReply(option["label"], option["data"]) for option in row.options),
        contact_button=row.contact_button,
        subject=row.subject,
        header_id=row.header_id,
        in_reply_to=row.in_reply_to,
        references=tuple(row.references),
        ticket=row.ticket,
        automatic=row.automatic,
        language=detect_language(row.text) if language else "en",
        reply_token=row.reply_token,
        parts_done=row.parts_sent,
        link_previews=row.link_previews,
    )
