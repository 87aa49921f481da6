"""Floods: a sender writing faster than a person reads.

Past `limit` messages in `window` from one sender (a chat, a mail address), messages are still
stored, but not answered one by one: the first of them gets one "slow down" reply, and all of
them are held. Held messages join the sender's next turn (their texts first, so a lead typed as
ten quick messages loses nothing), or, when no next message comes, a timer a window later reads
them as one turn; either way they also reach the rep of a hand-off that way.

The counting is in memory, per process: it protects the bot and the company's name from one
sender, and needs no statement per turn. Holding is in the database (`messages.held`), so a
restart loses nothing held.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot.kinds import FLOOD_RELEASE_TIMER, Actor, TouchpointKind
from bot.language import language_for
from bot.model import InboundMessage
from bot.recorder import record_turn
from bot.records import Conversation
from bot.turn import Event, Reply, Result, Routed, Services, Turn
from storage.uow import UnitOfWork

MAX_SENDERS = 50_000  # beyond this, senders idle for a whole window are forgotten


class FloodGate:
    """Arrivals per sender over a sliding window."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._arrivals: dict[tuple[str, str], deque[float]] = {}
        self._holding: set[tuple[str, str]] = set()

    def over(self, channel: str, sender: str) -> bool:
        """Count an arrival from `sender`; whether it is past the limit (never with limit 0)."""
        if self._limit <= 0:
            return False
        now = self._clock()
        key = (channel, sender)
        arrivals = self._arrivals.setdefault(key, deque())
        while arrivals and now - arrivals[0] > self._window:
            arrivals.popleft()
        arrivals.append(now)
        if len(self._arrivals) > MAX_SENDERS:
            self._forget_idle(now)
        flooded = len(arrivals) > self._limit
        if flooded:
            self._holding.add(key)
        return flooded

    def releases(self, channel: str, sender: str) -> bool:
        """Whether the sender's turn should take up what was held (once, after a flood)."""
        key = (channel, sender)
        if key in self._holding:
            self._holding.discard(key)
            return True
        return False

    def _forget_idle(self, now: float) -> None:
        self._arrivals = {
            key: times for key, times in self._arrivals.items() if now - times[-1] <= self._window
        }


async def hold(
    uow: UnitOfWork,
    services: Services,
    message: InboundMessage,
    stored_id: int,
    conversation: Conversation,
    now: datetime,
) -> int:
    """The message is stored and held; the first of a flood gets the one reply, and a timer
    reads the held messages a window later if the sender says nothing more. Returns how many
    replies were queued."""
    first = not await uow.messages.holds(conversation.id, before=stored_id)
    lang = language_for(message, conversation, services.config.default_language)
    turn = Turn(message, stored_id, conversation, lang, now)
    replies: tuple[Reply, ...] = ()
    # Where machines answer (mail), a flood is most likely one: a "slow down" would be one
    # more message to it. The held messages are read all the same.
    answering = not services.capabilities(conversation.channel).answered_by_machines
    if first and answering:
        text = services.texts.get("flood.slow_down", lang, company=services.config.company_name)
        replies = (Reply(text),)
    if first:
        due = now + services.config.flood_window
        await uow.timers.schedule(FLOOD_RELEASE_TIMER, due, now, conversation_id=conversation.id)
    held = Event(TouchpointKind.MESSAGE_HELD, {"limit": services.config.flood_limit}, Actor.SYSTEM)
    return await record_turn(uow, turn, Routed(Result(replies=replies, events=(held,))), services)


async def with_held(
    uow: UnitOfWork, message: InboundMessage, conversation_id: int, *, releasing: bool
) -> InboundMessage:
    """`message` with the texts held before it in front, when there are any."""
    if not releasing:
        return message
    held = await uow.messages.release_held(conversation_id)
    if not held:
        return message
    return replace(message, text="\n".join([*held, message.text]).strip())
