"""Pacing of outbound Telegram messages: about one per second per chat, 30 per second overall.

Token buckets: each chat may send a short burst, then one message per `per_chat` second; the
whole bot `overall` messages per second, evenly spread. On top of the overall bucket, a hard
cap: never more than `overall` sends in any `OVERALL_WINDOW` (a bucket alone lets its burst
through on top of a second's worth, 33 in a second at the defaults). A send that would exceed
them is not delayed here: it raises `ThrottledSendError`, and the relay postpones that reply in
the outbox (no attempt spent) and goes on with other chats. A limit of 0 lifts it (the
benchmarks run that way).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.model import ThrottledSendError

CHAT_BURST = 3.0
IDLE_CHATS_KEPT = 10_000
# The overall cap is counted over a little more than a second: a send is admitted here and
# reaches Telegram a few milliseconds later, and those delays differ from send to send; the
# margin keeps the count within the limit as Telegram sees it (at the cost of 28.6 sends a
# second at most instead of 30).
OVERALL_WINDOW = 1.05


@dataclass(slots=True)
class Bucket:
    rate: float
    capacity: float
    tokens: float
    updated: float

    def wait_for_token(self, now: float) -> float:
        """Seconds until a token is available (0 when one is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


@dataclass(slots=True)
class Pacing:
    per_chat: float = 1.0
    overall: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _chats: dict[str, Bucket] = field(default_factory=dict)
    _all: Bucket | None = None
    _admitted: deque[float] = field(default_factory=deque)  # the overall cap's recent sends
    _paused_until: float = 0.0

    def admit(self, chat_id: str) -> None:
        """Take a send slot for `chat_id`, or raise `ThrottledSendError` saying how long to wait."""
        now = self.clock()
        if now < self._paused_until:
            raise ThrottledSendError("flood control", self._paused_until - now, whole_channel=True)
        overall = self._overall(now)
        chat = self._chat(chat_id, now)
        wait_all = max(overall.wait_for_token(now), self._wait_for_cap(now)) if overall else 0.0
        wait_chat = chat.wait_for_token(now) if chat else 0.0
        if wait_all > 0:
            raise ThrottledSendError("overall pace", wait_all, whole_channel=True)
        if wait_chat > 0:
            raise ThrottledSendError("pace of this chat", wait_chat)
        for bucket in (overall, chat):
            if bucket:
                bucket.take()
        if overall:
            self._admitted.append(now)

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nothing is sent to any chat for `seconds`."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    def _overall(self, now: float) -> Bucket | None:
        if self.overall <= 0:
            return None
        if self._all is None:
            # A small burst only: a bucket holding a whole second of tokens would let twice the
            # rate through in the second it refills.
            burst = max(1.0, self.overall / 10)
            self._all = Bucket(self.overall, burst, burst, now)
        return self._all

    def _wait_for_cap(self, now: float) -> float:
        """Seconds until a send fits the cap of `overall` sends in any `OVERALL_WINDOW`."""
        admitted = self._admitted
        while admitted and admitted[0] <= now - OVERALL_WINDOW:
            admitted.popleft()
        cap = max(1, math.floor(self.overall))
        return 0.0 if len(admitted) < cap else admitted[-cap] + OVERALL_WINDOW - now

    def _chat(self, chat_id: str, now: float) -> Bucket | None:
        if self.per_chat <= 0:
            return None
        if len(self._chats) > IDLE_CHATS_KEPT:
            self._forget_full_buckets(now)
        bucket = self._chats.get(chat_id)
        if bucket is None:
            bucket = self._chats[chat_id] = Bucket(self.per_chat, CHAT_BURST, CHAT_BURST, now)
        return bucket

    def _forget_full_buckets(self, now: float) -> None:
        # A chat quiet long enough to refill completely needs no bucket; forget it.
        refill = CHAT_BURST / self.per_chat
        self._chats = {k: b for k, b in self._chats.items() if now - b.updated < refill}
