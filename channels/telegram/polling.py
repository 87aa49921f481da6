"""Long polling that acknowledges only what the core has committed.

python-telegram-bot's own Updater confirms a batch as soon as it is queued (a killed process
loses it); this loop fetches raw updates itself, has the core `accept` each one, and only then
moves the offset — which Telegram takes as the acknowledgement, and which is also stored in the
database so a restart resumes where the last committed update left off.
"""

from __future__ import annotations

import asyncio
import logging
import random
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from telegram import Bot
from telegram.error import Conflict, InvalidToken, RetryAfter
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.backoff import full_jitter
from bot.model import Accept, InboundMessage
from channels.telegram.normalize import BotIdentity, Normalized, normalize
from channels.telegram.sending import retry_seconds

log = logging.getLogger(__name__)

# getUpdates goes through `do_api_request` on purpose: it returns the raw dicts, which are parsed
# one by one (python-telegram-bot's own get_updates fails the whole batch on one bad update).
warnings.filterwarnings("ignore", message=".*Bot.getUpdates.*", category=PTBUserWarning)
# Reading RetryAfter.retry_after warns that it will become a timedelta; retry_seconds takes both.
warnings.filterwarnings("ignore", message=".*retry_after.*", category=PTBDeprecationWarning)

BACKOFF_BASE = 1.0
MAX_BACKOFF = 60.0
CONFLICT_WAIT = 30.0


class OffsetStore(Protocol):
    async def load(self) -> int: ...

    async def save(self, offset: int) -> None: ...


Answer = Callable[[str], Awaitable[None]]


class BatchFailed(Exception):
    """`accept` raised (the database is away): redeliver from `offset` after a pause."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"accepting update {offset} failed")
        self.offset = offset


class Poller:
    def __init__(
        self,
        client: Bot,
        me: BotIdentity,
        offsets: OffsetStore,
        answer: Answer,
        long_poll: int,
        conflict_wait: float = CONFLICT_WAIT,
    ) -> None:
        self._conflict_wait = conflict_wait
        self._client = client
        self._me = me
        self._offsets = offsets
        self._answer = answer
        self._long_poll = long_poll
        self._failures = 0

    async def run(self, accept: Accept) -> None:
        """Poll until cancelled. Only an invalid token ends it: a database or network outage
        is waited out with backoff, and a bad update is parked by the core."""
        offset = await self._load_offset()
        while True:
            updates = await self._fetch(offset)
            if updates:
                offset = await self._handle(updates, offset, accept)

    async def _load_offset(self) -> int:
        while True:
            try:
                offset = await self._offsets.load()
            except Exception as error:  # the database is away: wait for it, never give up
                await self._back_off(f"the stored offset cannot be read: {error}")
                continue
            self._failures = 0
            return offset

    async def _fetch(self, offset: int) -> list[Mapping[str, Any]] | None:
        try:
            updates = await fetch_updates(self._client, offset, self._long_poll)
        except InvalidToken:
            raise  # nothing will ever work: stop with the error
        except Conflict:
            log.error("409 Conflict: another process polls this bot token; retrying slowly")
            await asyncio.sleep(self._conflict_wait * (0.5 + random.random()))
            return None
        except RetryAfter as error:
            await asyncio.sleep(retry_seconds(error.retry_after))
            return None
        except Exception as error:  # network trouble, 5xx, an answer that is not JSON
            await self._back_off(f"getUpdates failed: {error}")
            return None
        self._failures = 0
        return updates

    async def _handle(
        self, updates: Sequence[Mapping[str, Any]], offset: int, accept: Accept
    ) -> int:
        try:
            offset = max(
                offset, await accept_batch(updates, self._me, self._client, accept, self._answer)
            )
        except BatchFailed as failure:
            await self._back_off(f"the core could not take update {failure.offset}")
            offset = max(offset, failure.offset)
        await self._save_offset(offset)
        return offset

    async def _save_offset(self, offset: int) -> None:
        # Telegram itself keeps the offset given with the next getUpdates; the stored copy only
        # spares a restart some duplicates. A database outage here is waited out, not fatal.
        try:
            await self._offsets.save(offset)
        except Exception as error:
            await self._back_off(f"the offset {offset} cannot be stored: {error}")

    async def _back_off(self, reason: str) -> None:
        self._failures += 1
        delay = full_jitter(self._failures, base=BACKOFF_BASE, cap=MAX_BACKOFF)
        log.warning("%s; next try in %.1f s", reason, delay)
        await asyncio.sleep(delay)


async def fetch_updates(client: Bot, offset: int, long_poll: int) -> list[Mapping[str, Any]]:
    """Raw update dicts: parsed one by one later, so one bad update cannot block the rest.

    `long_poll` is how long Telegram may hold the request open waiting for an update.
    """
    api_kwargs = {"offset": offset, "timeout": long_poll, "allowed_updates": []}
    result = await client.do_api_request(
        "getUpdates", api_kwargs=api_kwargs, read_timeout=long_poll + 10
    )
    return [item for item in result if isinstance(item, dict)] if isinstance(result, list) else []


async def accept_batch(
    updates: Sequence[Mapping[str, Any]],
    me: BotIdentity,
    client: Bot,
    accept: Accept,
    answer: Answer,
) -> int:
    """Accept a batch: chats in parallel, each chat's updates in order. Returns the next offset.

    Raises `BatchFailed` with the lowest update id that was not accepted; updates after it that
    were accepted will come again and be recognised as duplicates.
    """
    chains: dict[str, list[tuple[int, Normalized]]] = {}
    for update_id, raw in numbered(updates):
        item = normalize(raw, me, client)
        chains.setdefault(item.message.conversation_key, []).append((update_id, item))
    outcomes = await asyncio.gather(*(_chain(chain, accept, answer) for chain in chains.values()))
    failed = [update_id for update_id in outcomes if update_id is not None]
    if failed:
        raise BatchFailed(min(failed))
    return max(update_id for update_id, _ in numbered(updates)) + 1


def numbered(updates: Sequence[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    """Each update with its id. An update without a usable id (never sent by Telegram, but
    possible from a proxy or a broken server) takes its predecessor's: it is still handled
    (parked, most likely) and the offset still moves past it."""
    found, last = [], -1
    for raw in updates:
        given = raw.get("update_id")
        last = given if type(given) is int else last
        found.append((last, raw))
    return found


async def _chain(chain: list[tuple[int, Normalized]], accept: Accept, answer: Answer) -> int | None:
    """Accept one chat's updates in order; the id of the first that failed, or None."""
    for update_id, item in chain:
        try:
            await accept(in_order(item.message))
        except Exception:
            log.exception("accept failed for update %s", update_id)
            return update_id
        if item.callback_query_id:
            await answer_quietly(answer, item.callback_query_id)
    return None


def in_order(message: InboundMessage) -> InboundMessage:
    """One poller hands a chat's updates over one after another: none can be late, and the
    conversation need not remember the newest message id (one statement less per turn; the
    comparison is the webhook's, whose deliveries overtake one another)."""
    return replace(message, sequence=None) if message.sequence is not None else message


async def answer_quietly(answer: Answer, callback_query_id: str) -> None:
    # The press is committed; a failure to stop the client's spinner must not undo that.
    try:
        await answer(callback_query_id)
    except Exception:
        log.exception("callback query %s not answered", callback_query_id)
