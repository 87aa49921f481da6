"""Outgoing webhooks against a real HTTP receiver on 127.0.0.1: an event is queued in the
transaction of its change, signed, retried until a 2xx, never lost, never sent through a
redirect, and a dead one comes back with `touchpoint webhooks redeliver`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text

from bot import webhook_events
from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.recorder import Touch, record
from bot.records import Lead
from bot.retention import Retention, prune
from bot.turn import Context, Result, Turn
from bot.webhook_events import Change, lead_snapshot
from bot.webhooks import WebhookPolicy, WebhookSender
from bot.webhooks import redeliver as webhook_redeliver
from handlers import service
from storage.repos.leads import NewLead
from storage.repos.webhooks import DeliveryView
from storage.uow import Database
from tests.harness import BotHarness, FakeClock

PROJECT = Path(__file__).resolve().parents[2]
SECRET = "whsec_test_0123456789abcdef"
HANG = 0  # an answer the receiver never finishes in time
ALL = ["lead.created", "lead.updated", "ticket.resolved", "csat.rated"]


def readme_verify() -> Callable[..., bool]:
    """The README's verification snippet, run as a reader would copy it."""
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    [snippet] = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "def verify" in b]
    scope: dict[str, Any] = {}
    exec(snippet, scope)
    verify: Callable[..., bool] = scope["verify"]
    return verify


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool


@dataclass
class Receiver:
    """A CRM's endpoint: checks each signature with the secret and answers as told (then 200)."""

    clock: FakeClock
    answers: deque[int] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers.get("X-Touchpoint-Signature", "")
        signed = _verify_at(self.clock.now, header, body)
        self.requests.append(Received(request.path, dict(request.headers), body, signed))
        status = self.answers.popleft() if self.answers else 200
        if status == HANG:
            await asyncio.sleep(2)  # four times the sender's timeout
        if status == 302:
            raise web.HTTPFound("/elsewhere")
        return web.Response(status=status, text="ok" if status < 300 else "no")

    def to(self, path: str) -> list[Received]:
        return [item for item in self.requests if item.path == path]


def _verify_at(now: datetime, header: str, body: bytes) -> bool:
    # The sender signs with its clock (the test's fake one): check freshness against it.
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp = int(fields.get("t", "0"))
    fresh = abs(now.timestamp() - timestamp) <= 300
    return fresh and readme_verify()(SECRET, header, body, tolerance=10**10)


@pytest.fixture
async def receiver(clock: FakeClock) -> AsyncIterator[Receiver]:
    server = Receiver(clock)
    yield server
    await server.stop()


def sender(database: Database, clock: FakeClock, *, attempts: int = 8) -> WebhookSender:
    policy = WebhookPolicy(timeout=5.0, max_attempts=attempts, holder="test")
    return WebhookSender(database, policy=policy, clock=clock, jitter=lambda: 0.5)


async def add_webhook(database: Database, url: str, events: list[str], clock: FakeClock) -> int:
    async with database.transaction() as uow:
        webhook_id = await uow.webhooks.add(url, SECRET, events, clock.now)
        await uow.commit()
    return webhook_id


async def captured_lead(database: Database, clock: FakeClock, *, commit: bool = True) -> int:
    """A lead saved and recorded as the business does it, in one transaction."""
    async with database.transaction() as uow:
        contact_id = await uow.contacts.create("Anna", "en", clock.now)
        new = NewLead(
            contact_id=contact_id, conversation_id=None, need="40 standing desks",
            name="Anna Petrova", company="Northwind Ltd", email="anna@northwind.example",
            phone=None, budget="about 5,000 euros", timeline="by May", source="fair", score=75,
        )  # fmt: skip
        lead_id = await uow.leads.create(new, clock.now)
        details = {"lead_id": lead_id, "score": 75, "source": "fair"}
        touch = Touch(Kind.LEAD_CAPTURED, Actor.BOT, "cli", clock.now, details, contact_id)
        await record(uow, [touch])
        if commit:
            await uow.commit()
    return lead_id


async def deliveries(database: Database) -> list[DeliveryView]:
    async with database.transaction() as uow:
        return list(reversed(await uow.webhooks.search()))


async def bodies(database: Database) -> list[dict[str, Any]]:
    async with database.transaction() as uow:
        rows = await uow.connection.execute(text("SELECT body FROM webhook_deliveries ORDER BY id"))
        return [json.loads(row.body) for row in rows]


async def get_lead(database: Database, lead_id: int) -> Lead:
    async with database.transaction() as uow:
        lead = await uow.leads.get(lead_id)
    assert lead is not None
    return lead


def cli(database: Database, *args: str) -> subprocess.CompletedProcess[str]:
    url = database.engine.url.render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "IMAP_", "SMTP_"))}
    env.update(NO_COLOR="1", DATABASE_URL=url, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True, text=True, env=env, cwd=PROJECT, timeout=120, check=False,
    )  # fmt: skip


# --- queued with the change ------------------------------------------------------------------


async def test_a_lead_saved_through_the_dispatcher_queues_lead_created_with_its_data(
    bot: BotHarness, receiver: Receiver
) -> None:
    url = await receiver.start()
    await add_webhook(bot.database, f"{url}/hook", ["lead.created"], bot.clock)
    anna = bot.customer("anna", name="Anna")
    await anna.say("Hi, I'd like a quote for 40 standing desks for our new office")
    await anna.say("Anna Petrova")
    await anna.say("you can write to Anna.Petrova@Northwind.example")
    await anna.say("Northwind Ltd")
    await anna.say("no budget yet, ASAP")
    assert await deliveries(bot.database) == []  # nothing is saved before the confirmation

    await anna.press("lead:confirm")

    [lead] = await bot.leads()
    [queued] = await deliveries(bot.database)
    assert (queued.event, queued.status, queued.attempts) == ("lead.created", "pending", 0)
    assert queued.created_at == lead.created_at  # written by the turn that saved the lead
    [body] = await bodies(bot.database)
    assert body["type"] == "lead.created"
    assert body["id"] == queued.event_id
    assert body["created_at"] == "2026-03-02T09:00:00Z"
    assert body["data"] == {"lead": lead_snapshot(lead, None)}
    assert body["data"]["lead"]["email"] == "anna.petrova@northwind.example"
    assert body["data"]["lead"]["status"] == "waiting"

    assert await sender(bot.database, bot.clock).deliver_due() == 1
    [request] = receiver.to("/hook")
    assert request.signed
    assert json.loads(request.body) == body
    assert request.headers["X-Touchpoint-Event"] == "lead.created"
    assert request.headers["X-Touchpoint-Delivery"] == body["id"]
    assert request.headers["Content-Type"] == "application/json"


async def test_an_event_is_queued_only_when_its_change_commits(
    database: Database, clock: FakeClock
) -> None:
    await add_webhook(database, "https://crm.example/hook", ALL, clock)

    await captured_lead(database, clock, commit=False)  # the turn rolled back
    assert await deliveries(database) == []

    await captured_lead(database, clock)
    assert [d.event for d in await deliveries(database)] == ["lead.created"]


async def test_each_endpoint_gets_the_events_it_asked_for(
    database: Database, clock: FakeClock
) -> None:
    leads_only = await add_webhook(database, "https://crm.example/leads", ["lead.created"], clock)
    tickets_only = await add_webhook(database, "https://crm.example/t", ["ticket.resolved"], clock)
    await captured_lead(database, clock)
    queued = await deliveries(database)
    assert [(d.webhook_id, d.event) for d in queued] == [(leads_only, "lead.created")]
    assert tickets_only != leads_only


async def test_lead_changes_in_one_turn_make_one_lead_updated_listing_them(
    database: Database, clock: FakeClock
) -> None:
    lead_id = await captured_lead(database, clock)
    await add_webhook(database, "https://crm.example/hook", ["lead.updated"], clock)
    clock.advance(minutes=5)
    async with database.transaction() as uow:
        await uow.leads.set_status(lead_id, "qualified", clock.now)
        moved = {"lead_id": lead_id, "rep_id": None, "from": "new", "to": "qualified"}
        contacted = {"lead_id": lead_id, "latency": 300, "via": "stage"}
        await record(
            uow,
            [
                Touch(Kind.LEAD_STATUS_CHANGED, Actor.REP, "cli", clock.now, moved),
                Touch(Kind.LEAD_CONTACTED, Actor.REP, "cli", clock.now, contacted),
                Touch(Kind.LEAD_NEXT_STEP_DUE, Actor.SYSTEM, "cli", clock.now, {"lead_id": 1}),
            ],
        )
        await uow.commit()

    [body] = await bodies(database)
    assert body["type"] == "lead.updated"
    assert body["data"]["lead"]["status"] == "qualified"
    assert body["data"]["lead"]["id"] == lead_id
    assert body["data"]["changes"] == [
        {"kind": "lead_status_changed", "rep_id": None, "from": "new", "to": "qualified"},
        {"kind": "lead_contacted", "latency": 300, "via": "stage"},
    ]


async def test_a_ticket_set_to_resolved_queues_ticket_resolved(bot: BotHarness) -> None:
    await add_webhook(bot.database, "https://crm.example/hook", ALL, bot.clock)
    await bot.customer("bob").say("hello")
    async with bot.database.transaction() as uow:
        [conversation_id] = [c.id for c in await uow.conversations.for_contact(1)]
        ticket = await uow.tickets.open(
            contact_id=1, conversation_id=conversation_id, category="delivery",
            summary="order 5531 is late", now=bot.clock.now,
        )  # fmt: skip
        await uow.commit()

    def set_status(status: str) -> Callable[[Turn, Context], Awaitable[Result | None]]:
        return lambda turn, ctx: service.set_status(turn, ctx, ticket.id, status)

    for status in ("in_progress", "resolved"):
        await bot.dispatcher.system_turn(conversation_id, set_status(status))

    [body] = await bodies(bot.database)
    assert body["type"] == "ticket.resolved"
    assert body["data"]["previous_status"] == "in_progress"
    assert body["data"]["ticket"] == {
        "number": ticket.number, "status": "resolved", "category": "delivery",
        "summary": "order 5531 is late", "contact_id": 1, "conversation_id": conversation_id,
        "created_at": "2026-03-02T09:00:00Z", "updated_at": "2026-03-02T09:00:00Z",
    }  # fmt: skip


async def test_a_rating_is_delivered_once_its_kind_is_recorded(
    database: Database, clock: FakeClock
) -> None:
    # `csat_rated` is mapped by its name: a kind the business does not record yet.
    await add_webhook(database, "https://crm.example/hook", ["csat.rated"], clock)
    async with database.transaction() as uow:
        contact_id = await uow.contacts.create("Anna", "en", clock.now)
        rated = Change("csat_rated", {"rating": 5, "rep_id": None}, clock.now, contact_id)
        assert await webhook_events.enqueue(uow, [rated]) == 1
        await uow.commit()
    [body] = await bodies(database)
    assert body["type"] == "csat.rated"
    assert body["data"] == {
        "rating": 5,
        "rep_id": None,
        "contact_id": contact_id,
        "conversation_id": None,
    }


# --- delivery ----------------------------------------------------------------------------------


async def test_an_endpoint_failing_twice_gets_the_event_three_times_and_it_is_delivered(
    database: Database, clock: FakeClock, receiver: Receiver
) -> None:
    url = await receiver.start()
    await add_webhook(database, f"{url}/hook", ALL, clock)
    await captured_lead(database, clock)
    receiver.answers.extend([500, 500])
    webhooks = sender(database, clock)

    assert await webhooks.deliver_due() == 1
    [failed] = await deliveries(database)
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert failed.last_error == "HTTP 500 Internal Server Error"
    assert await webhooks.deliver_due() == 0  # not due yet: the backoff
    clock.advance(seconds=5)  # full jitter's draw of 0.5 of 10 s
    assert await webhooks.deliver_due() == 1
    clock.advance(seconds=10)
    assert await webhooks.deliver_due() == 1

    [delivered] = await deliveries(database)
    assert (delivered.status, delivered.attempts, delivered.last_error) == ("delivered", 3, None)
    assert delivered.delivered_at == clock.now
    arrived = receiver.to("/hook")
    assert len(arrived) == 3
    assert all(item.signed for item in arrived)
    assert {item.body for item in arrived} == {arrived[0].body}  # the same event each time
    assert {item.headers["X-Touchpoint-Delivery"] for item in arrived} == {delivered.event_id}
    assert await webhooks.deliver_due() == 0


async def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    database: Database, clock: FakeClock, receiver: Receiver
) -> None:
    url = await receiver.start()
    await add_webhook(database, f"{url}/hook", ALL, clock)
    await captured_lead(database, clock)
    receiver.answers.append(302)

    assert await sender(database, clock).deliver_due() == 1

    assert len(receiver.to("/hook")) == 1
    assert receiver.to("/elsewhere") == []
    [delivery] = await deliveries(database)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "HTTP 302 Found (redirects are not followed)"


async def test_an_endpoint_that_does_not_answer_in_time_fails_the_attempt(
    database: Database, clock: FakeClock, receiver: Receiver
) -> None:
    url = await receiver.start()
    await add_webhook(database, f"{url}/hook", ALL, clock)
    await captured_lead(database, clock)
    receiver.answers.append(HANG)
    policy = WebhookPolicy(timeout=0.5, holder="test")
    webhooks = WebhookSender(database, policy=policy, clock=clock, jitter=lambda: 0.5)

    assert await webhooks.deliver_due() == 1
    [late] = await deliveries(database)
    assert (late.status, late.attempts, late.last_error) == (
        "pending", 1, "no answer within 0.5 s",
    )  # fmt: skip
    clock.advance(seconds=5)
    assert await webhooks.deliver_due() == 1
    assert [d.status for d in await deliveries(database)] == ["delivered"]
    assert len(receiver.to("/hook")) == 2


async def test_a_receiver_down_too_long_ends_as_a_dead_letter_and_redeliver_sends_it_again(
    database: Database, clock: FakeClock, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = _free_port()
    token = "tok3n-0123456789"
    url = f"http://crm:pa55w0rd-x@127.0.0.1:{port}/hook?token={token}"
    await add_webhook(database, url, ALL, clock)
    await captured_lead(database, clock)
    webhooks = sender(database, clock, attempts=3)

    for _ in range(3):
        assert await webhooks.deliver_due() == 1
        clock.advance(hours=1)
    assert await webhooks.deliver_due() == 0

    [dead] = await deliveries(database)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert dead.last_error is not None and "ClientConnectorError" in dead.last_error
    listed = await asyncio.to_thread(cli, database, "dead-letters", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [letter] = json.loads(listed.stdout)
    assert (letter["channel"], letter["external_id"], letter["status"]) == (
        "webhook", str(dead.id), "parked",
    )  # fmt: skip
    assert letter["error"].startswith(
        f"lead.created to http://crm:***@127.0.0.1:{port}/hook?token=*** failed 3 times: "
    )
    for shown in (letter["error"], dead.last_error, caplog.text, listed.stdout):
        assert "pa55w0rd" not in shown and token not in shown and SECRET not in shown

    await receiver.start(port)  # the endpoint is back
    again = await asyncio.to_thread(cli, database, "webhooks", "redeliver", str(dead.id))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"delivery {dead.id} queued again"
    clock.now = datetime.now(UTC)  # the command queued it at the real time
    assert await webhooks.deliver_due() == 1

    [request] = receiver.to("/hook")
    assert request.signed
    assert request.headers["Authorization"].startswith("Basic ")  # the URL's credentials
    [delivered] = await deliveries(database)
    assert (delivered.status, delivered.attempts) == ("delivered", 1)
    listed = await asyncio.to_thread(cli, database, "dead-letters", "list", "--json")
    assert [item["status"] for item in json.loads(listed.stdout)] == ["redelivered"]
    twice = await asyncio.to_thread(cli, database, "webhooks", "redeliver", "999")
    assert (twice.returncode, twice.stderr.strip()) == (1, "touchpoint: delivery 999 not found")


async def test_a_crash_mid_delivery_sends_that_event_again_once_the_lease_expires(
    database: Database, clock: FakeClock, receiver: Receiver
) -> None:
    url = await receiver.start()
    await add_webhook(database, f"{url}/hook", ALL, clock)
    await captured_lead(database, clock)
    async with database.transaction() as uow:  # a sender took it, then died before settling
        leased = await uow.webhooks.claim_next(clock.now, WebhookPolicy().lease, "gone:1")
        await uow.commit()
    assert leased is not None
    webhooks = sender(database, clock)
    assert await webhooks.deliver_due() == 0  # leased: nobody else sends it meanwhile

    clock.advance(seconds=WebhookPolicy().lease.total_seconds() + 1)
    assert await webhooks.deliver_due() == 1
    assert len(receiver.to("/hook")) == 1
    [delivered] = await deliveries(database)
    assert (delivered.status, delivered.attempts) == ("delivered", 2)


async def test_a_removed_endpoint_gets_nothing_more(
    database: Database, clock: FakeClock, receiver: Receiver
) -> None:
    url = await receiver.start()
    webhook_id = await add_webhook(database, f"{url}/hook", ALL, clock)
    await captured_lead(database, clock)
    async with database.transaction() as uow:
        assert await uow.webhooks.remove(webhook_id) == 1
        await uow.commit()
    await captured_lead(database, clock)

    assert await sender(database, clock).deliver_due() == 0
    assert receiver.requests == []
    assert [d.status for d in await deliveries(database)] == ["cancelled"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- keeping and forgetting ------------------------------------------------------------------


async def test_a_forgotten_person_is_in_no_event_and_none_is_sent_about_them(
    database: Database, clock: FakeClock, receiver: Receiver
) -> None:
    url = await receiver.start()
    await add_webhook(database, f"{url}/hook", ALL, clock)
    lead_id = await captured_lead(database, clock)
    contact_id = (await get_lead(database, lead_id)).contact_id

    async with database.transaction() as uow:
        assert await uow.retention.forget_contact(contact_id)
        await uow.commit()

    assert await sender(database, clock).deliver_due() == 0
    assert receiver.requests == []
    [forgotten] = await deliveries(database)
    assert (forgotten.status, forgotten.last_error) == ("cancelled", "(forgotten)")
    async with database.transaction() as uow:
        found = await uow.connection.execute(text("SELECT body FROM webhook_deliveries"))
        assert [row.body for row in found] == [""]


async def test_bodies_sent_are_forgotten_with_the_texts_and_cannot_be_sent_again(
    database: Database, clock: FakeClock, receiver: Receiver
) -> None:
    url = await receiver.start()
    await add_webhook(database, f"{url}/hook", ALL, clock)
    await captured_lead(database, clock)
    assert await sender(database, clock).deliver_due() == 1

    clock.advance(days=731)
    async with database.transaction() as uow:
        pruned = await prune(uow, Retention(), clock.now)
        await uow.commit()
    assert pruned.webhook_bodies == 1
    [delivered] = await deliveries(database)
    async with database.transaction() as uow:
        assert not await webhook_redeliver(uow, delivered.id, clock.now)
    assert await bodies_raw(database) == [""]


async def bodies_raw(database: Database) -> list[str]:
    async with database.transaction() as uow:
        rows = await uow.connection.execute(text("SELECT body FROM webhook_deliveries"))
        return [row.body for row in rows]
