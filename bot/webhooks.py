"""The webhook sender: posts queued events to the company's endpoints (a CRM), signed.

Guarantee: at least once. A delivery is leased (`sending`, with a lease that expires), posted,
and settled in the next transaction (which also leases the following one); so a crash repeats
at most the one delivery in flight, and a delivery leased by a sender that died is taken again
when its lease runs out (or at once by the same instance when it restarts). Receivers must
expect a repeat and deduplicate on the event id (`X-Touchpoint-Delivery`).

A 2xx answer is delivered. Anything else fails the attempt: another status (a 3xx too:
redirects are never followed, the signed body must not travel to an address nobody
registered), no answer within the timeout, a connection refused. A failed attempt is retried
after `bot.backoff.full_jitter`; after `max_attempts` the delivery is dead, parked as a dead
letter (channel `webhook`, the delivery id as its external id) for `touchpoint webhooks
redeliver`.

Each request is signed: `X-Touchpoint-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the endpoint's secret>`. Secrets and URLs with credentials never reach a log
or a stored error (`bot.webhook_urls.shown_url`, `bot.redaction`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import aiohttp

from bot import redaction
from bot.backoff import full_jitter
from bot.leadership import until_ready
from bot.model import utc_now
from bot.webhook_urls import secrets_of, shown_url
from storage.repos.webhooks import Delivery
from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

CHANNEL = "webhook"  # dead letters of deliveries given up
USER_AGENT = "Touchpoint-Webhooks/1"


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    timeout: float = 10.0  # seconds for one request, connecting included
    max_attempts: int = 8
    base_delay: float = 10.0
    max_delay: float = 3600.0
    poll_seconds: float = 1.0
    holder: str = "touchpoint"  # this instance's name in its leases

    @property
    def lease(self) -> timedelta:
        """Longer than any request can take, so a live sender never loses its lease."""
        return timedelta(seconds=self.timeout + 60.0)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Touchpoint-Signature` value of a body sent at `timestamp` (unix seconds)."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def headers(delivery: Delivery, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Touchpoint-Event": delivery.event,
        "X-Touchpoint-Delivery": delivery.event_id,
        "X-Touchpoint-Signature": signature(delivery.secret, timestamp, body),
    }


class WebhookSender:
    def __init__(
        self,
        database: Database,
        *,
        policy: WebhookPolicy = WebhookPolicy(),
        clock: Callable[[], datetime] = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._db = database
        self._policy = policy
        self._clock = clock
        self._jitter = jitter
        self._wakeup = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Called after a turn commits: post now instead of at the next poll."""
        self._wakeup.set()

    def stop(self) -> None:
        """Stop between deliveries: the one in hand is settled first."""
        self._stopping = True
        self._wakeup.set()

    async def run(self, *, ready: asyncio.Event | None = None) -> None:
        """Post until `stop()`; with `ready`, nothing before it is set (see the relay's)."""
        self._stopping = False
        if not await until_ready(ready, self._wakeup, lambda: self._stopping):
            return
        with contextlib.suppress(Exception):  # the database away: the leases run out instead
            await self._reclaim()
        while not self._stopping:
            self._wakeup.clear()
            if await self._poll() == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._policy.poll_seconds):
                        await self._wakeup.wait()

    async def _poll(self) -> int:
        try:
            return await self.deliver_due(stop_early=True)
        except Exception:  # the database may be away for a moment; try again next poll
            log.exception("webhook poll failed")
            return 0

    async def _reclaim(self) -> None:
        async def work(uow: UnitOfWork) -> int:
            released = await uow.webhooks.reclaim(self._policy.holder)
            await uow.commit()
            return released

        if released := await self._db.run(work):
            log.info("%s webhook deliveries leased before a restart are sent again", released)

    async def deliver_due(self, limit: int = 1000, *, stop_early: bool = False) -> int:
        """Post due deliveries one by one; returns how many were attempted."""
        attempted = 0
        delivery = await self._db.run(self._claim)
        if delivery is None:
            return 0
        timeout = aiohttp.ClientTimeout(total=self._policy.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while delivery is not None:
                error = await self._post(session, delivery)
                attempted += 1
                more = attempted < limit and not (stop_early and self._stopping)
                delivery = await self._db.run(
                    partial(self._settle_then_claim, delivery=delivery, error=error, more=more)
                )
        return attempted

    async def _claim(self, uow: UnitOfWork) -> Delivery | None:
        token = f"{self._policy.holder}:{secrets.token_hex(8)}"
        delivery = await uow.webhooks.claim_next(self._clock(), self._policy.lease, token)
        await uow.commit()
        if delivery is not None:
            redaction.register([delivery.secret, *secrets_of(delivery.url)])
        return delivery

    async def _post(self, session: aiohttp.ClientSession, delivery: Delivery) -> str | None:
        """None when the endpoint took it; else why not, fit to store and show."""
        body = delivery.body.encode()
        sent = headers(delivery, int(self._clock().timestamp()), body)
        try:
            async with session.post(
                delivery.url, data=body, headers=sent, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                return _status(response.status, response.reason)
        except TimeoutError:
            return f"no answer within {self._policy.timeout:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as error:
            return _scrubbed(f"{type(error).__name__}: {error}", delivery.url)

    async def _settle_then_claim(
        self, uow: UnitOfWork, *, delivery: Delivery, error: str | None, more: bool
    ) -> Delivery | None:
        await self._settle(uow, delivery, error)
        await uow.commit()
        return await self._claim(uow) if more else None

    async def _settle(self, uow: UnitOfWork, delivery: Delivery, error: str | None) -> None:
        now = self._clock()
        where = shown_url(delivery.url)
        if error is None:
            if await uow.webhooks.mark_delivered(delivery, now):
                log.info("webhook %s %s delivered to %s", delivery.id, delivery.event, where)
            return
        if delivery.attempts < self._policy.max_attempts:
            when = now + timedelta(seconds=self._delay(delivery.attempts))
            if await uow.webhooks.retry_later(delivery, when, error):
                log.info(
                    "webhook %s to %s failed (%s); retried at %s", delivery.id, where, error, when
                )
            return
        if await uow.webhooks.mark_dead(delivery, error):
            await self._park(uow, delivery, error, now)

    async def _park(self, uow: UnitOfWork, delivery: Delivery, error: str, now: datetime) -> None:
        where = shown_url(delivery.url)
        reason = f"{delivery.event} to {where} failed {delivery.attempts} times: {error}"
        log.warning("webhook %s given up: %s", delivery.id, reason)
        await uow.dead_letters.park(
            channel=CHANNEL,
            external_id=str(delivery.id),
            error=reason,
            now=now,
            payload={
                "webhook_id": delivery.webhook_id,
                "event_id": delivery.event_id,
                "event": delivery.event,
            },
        )

    def _delay(self, attempts: int) -> float:
        policy = self._policy
        return full_jitter(
            attempts, base=policy.base_delay, cap=policy.max_delay, draw=self._jitter
        )


async def redeliver(uow: UnitOfWork, delivery_id: int, now: datetime) -> bool:
    """Send a dead (or delivered) delivery again, from its first attempt; its dead letter is
    marked `redelivered`. False when it is not one that can be sent again."""
    if not await uow.webhooks.redeliver(delivery_id, now):
        return False
    await uow.dead_letters.set_status(CHANNEL, str(delivery_id), "redelivered")
    return True


def _status(status: int, reason: str | None) -> str:
    text = redaction.redact(f"HTTP {status} {reason or ''}".strip())[:200]
    if 300 <= status < 400:
        return f"{text} (redirects are not followed)"
    return text


def _scrubbed(text: str, url: str) -> str:
    """An error text without the URL's secrets (an SDK may quote the URL whole)."""
    text = text.replace(url, shown_url(url))
    for secret in secrets_of(url):
        text = text.replace(secret, "***")
    return redaction.redact(text)[:500]
