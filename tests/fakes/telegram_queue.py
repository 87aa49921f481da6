"""The getUpdates side of the fake: numbered pending updates, offset confirmation, long polls,
and the 409 a second poller causes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from tests.fakes.telegram_chats import JSON

# Bot API: an empty allowed_updates means every kind except these three.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class PollSuperseded(Exception):
    """A newer getUpdates arrived while this one was waiting."""


def update_kind(update: JSON) -> str:
    return next((key for key in update if key != "update_id"), "")


class _Poll:
    __slots__ = ("superseded", "woken")

    def __init__(self) -> None:
        self.woken = asyncio.Event()
        self.superseded = False


class UpdateQueue:
    """Updates stay until an offset above their id confirms them, as on Telegram; ids only grow."""

    def __init__(self, first_id: int = 1) -> None:
        self.pending: list[JSON] = []
        self.confirmed_offset = 0
        self._next_id = first_id
        self._allowed: frozenset[str] | None = None
        self._waiting: _Poll | None = None
        self._closed = False

    @property
    def polling(self) -> bool:
        """Whether a long poll is waiting right now (so a test can queue "while it waits")."""
        return self._waiting is not None

    def push(self, update: JSON) -> JSON:
        """Queues a copy with an update_id; a given id is kept only while ids keep growing."""
        wanted = update.get("update_id")
        update_id = wanted if isinstance(wanted, int) and wanted >= self._next_id else self._next_id
        self._next_id = update_id + 1
        numbered = {"update_id": update_id} | {k: v for k, v in update.items() if k != "update_id"}
        self.pending.append(numbered)
        self._wake(superseding=False)
        return numbered

    def remove(self, update_id: int) -> None:
        self.pending = [u for u in self.pending if u["update_id"] != update_id]

    def drop_all(self) -> None:
        self.pending = []

    def close(self) -> None:
        self._closed = True
        self._wake(superseding=False)

    async def poll(
        self, offset: int | None, limit: int, wait_seconds: float, allowed: Sequence[str] | None
    ) -> list[JSON]:
        """Raises PollSuperseded in the older of two overlapping polls."""
        self._confirm(offset)
        if allowed is not None:
            self._allowed = frozenset(allowed) or None
        self._wake(superseding=True)
        batch = self._visible(limit)
        if batch or wait_seconds <= 0:
            return batch
        return await self._wait(limit, wait_seconds)

    async def _wait(self, limit: int, wait_seconds: float) -> list[JSON]:
        poll = self._waiting = _Poll()
        deadline = asyncio.get_running_loop().time() + wait_seconds
        try:
            while not (batch := self._visible(limit)) and not poll.superseded and not self._closed:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                poll.woken.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poll.woken.wait(), remaining)
        finally:
            if self._waiting is poll:
                self._waiting = None
        if poll.superseded:
            raise PollSuperseded
        return batch

    def _confirm(self, offset: int | None) -> None:
        if not offset:
            return
        if offset < 0:
            # A negative offset keeps the last -offset updates and forgets all earlier ones.
            kept = self.pending[offset:]
            offset = kept[0]["update_id"] if kept else self._next_id
        self.pending = [u for u in self.pending if u["update_id"] >= offset]
        self.confirmed_offset = max(self.confirmed_offset, offset)

    def _visible(self, limit: int) -> list[JSON]:
        return [u for u in self.pending if self._wanted(update_kind(u))][:limit]

    def _wanted(self, kind: str) -> bool:
        return kind in self._allowed if self._allowed is not None else kind not in NOT_BY_DEFAULT

    def _wake(self, *, superseding: bool) -> None:
        poll = self._waiting
        if poll is None:
            return
        if superseding:
            poll.superseded = True
            self._waiting = None
        poll.woken.set()
