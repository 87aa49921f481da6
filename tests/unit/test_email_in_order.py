"""Mails handed over side by side: one sender's accepted in UID order, however long each took to
read, other senders' not held up by them; after a sender's mail failed, their next waits too."""

from __future__ import annotations

import asyncio

import pytest

from bot.model import Address, InboundMessage, Sender
from channels.email.in_order import EarlierMailFailed, InSenderOrder
from channels.email.mail import FetchedMail

SENDERS = {1: "ann@example.org", 2: "bob@example.org", 3: "ann@example.org"}


class SlowReader:
    """Reads a mail once the test lets it: readings finish in whatever order the test says."""

    def __init__(self) -> None:
        self.done = {uid: asyncio.Event() for uid in SENDERS}

    async def read(self, fetched: FetchedMail) -> InboundMessage:
        await self.done[fetched.uid].wait()
        sender = SENDERS[fetched.uid]
        return InboundMessage(
            external_id=f"mail-{fetched.uid}",
            address=Address("email", sender),
            sender=Sender(sender),
            text=f"mail {fetched.uid}",
        )


class Desk:
    def __init__(self, refuse: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.accepted: list[str] = []
        self.refuse = refuse

    async def accept(self, message: InboundMessage) -> None:
        await asyncio.sleep(0)
        if message.external_id in self.refuse:
            raise RuntimeError("the database is away")
        self.accepted.append(message.external_id)


def hand_overs(order: InSenderOrder) -> list[asyncio.Task[None]]:
    return [
        asyncio.create_task(order.hand_over(FetchedMail(1, uid, b""))) for uid in sorted(SENDERS)
    ]


async def test_a_senders_mails_are_accepted_in_uid_order_and_others_go_on() -> None:
    reader, desk = SlowReader(), Desk()
    tasks = hand_overs(InSenderOrder(reader.read, desk.accept))
    reader.done[3].set()  # Ann's second mail is read first, then Bob's
    reader.done[2].set()
    await asyncio.sleep(0.01)
    assert desk.accepted == []  # Bob's waits only for the mail before it to find its place
    reader.done[1].set()
    await asyncio.gather(*tasks)
    assert desk.accepted.index("mail-1") < desk.accepted.index("mail-3")
    assert sorted(desk.accepted) == ["mail-1", "mail-2", "mail-3"]


async def test_bob_is_not_held_up_by_anns_slow_turn() -> None:
    reader, desk = SlowReader(), Desk()
    slow_turn = asyncio.Event()

    async def accept(message: InboundMessage) -> None:
        if message.external_id == "mail-1":
            await slow_turn.wait()
        await desk.accept(message)

    tasks = hand_overs(InSenderOrder(reader.read, accept))
    for event in reader.done.values():
        event.set()
    await asyncio.wait_for(tasks[1], 5)  # Bob's mail accepted while Ann's first is in its turn
    assert desk.accepted == ["mail-2"]
    slow_turn.set()
    await asyncio.gather(*tasks)
    assert desk.accepted == ["mail-2", "mail-1", "mail-3"]


async def test_after_a_senders_mail_failed_their_next_is_not_accepted() -> None:
    reader, desk = SlowReader(), Desk(refuse={"mail-1"})
    order = InSenderOrder(reader.read, desk.accept)
    tasks = hand_overs(order)
    for event in reader.done.values():
        event.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[0], RuntimeError)
    assert outcomes[1] is None
    assert isinstance(outcomes[2], EarlierMailFailed)
    assert desk.accepted == ["mail-2"]
    # The lines are dropped with their last mail: the next sweep starts afresh.
    desk.refuse = set()
    await asyncio.gather(*hand_overs(order))
    assert desk.accepted == ["mail-2", "mail-1", "mail-2", "mail-3"]


async def test_a_hand_over_cancelled_while_reading_leaves_none_waiting() -> None:
    """Its sender never known, the ones after it end at once, not accepted (the next sweep
    hands them over again)."""
    reader, desk = SlowReader(), Desk()
    tasks = hand_overs(InSenderOrder(reader.read, desk.accept))
    await asyncio.sleep(0)
    tasks[0].cancel()  # still reading
    reader.done[2].set()
    reader.done[3].set()
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    outcomes = await asyncio.wait_for(asyncio.gather(*tasks[1:], return_exceptions=True), 5)
    assert all(isinstance(outcome, EarlierMailFailed) for outcome in outcomes)
    assert desk.accepted == []


async def test_after_a_mail_that_could_not_be_read_none_after_it_is_accepted() -> None:
    """Its sender is unknown, so it may have been anyone's: the mails after it wait for the
    next sweep, which hands them over again behind it."""
    reader, desk = SlowReader(), Desk()

    async def read(fetched: FetchedMail) -> InboundMessage:
        if fetched.uid == 1:
            await asyncio.sleep(0.01)  # the worker's answer, while the others are in hand
            raise RuntimeError("no worker could be started")
        return await reader.read(fetched)

    order = InSenderOrder(read, desk.accept)
    for event in reader.done.values():
        event.set()
    outcomes = await asyncio.gather(*hand_overs(order), return_exceptions=True)
    assert isinstance(outcomes[0], RuntimeError)
    assert all(isinstance(outcome, EarlierMailFailed) for outcome in outcomes[1:])
    assert desk.accepted == []

    await asyncio.gather(*hand_overs(InSenderOrder(reader.read, desk.accept)))
    assert sorted(desk.accepted) == ["mail-1", "mail-2", "mail-3"]
