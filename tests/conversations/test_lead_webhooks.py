"""Leads as the CRM hears of them: the events a transcript queues for a webhook endpoint."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from tests.conversations.test_lead_mail import mail, our_last_mail
from tests.harness import BotHarness


async def events(bot: BotHarness) -> list[dict[str, Any]]:
    async with bot.database.transaction() as uow:
        rows = await uow.connection.execute(text("SELECT body FROM webhook_deliveries ORDER BY id"))
        return [json.loads(row.body) for row in rows]


async def subscribe(bot: BotHarness) -> None:
    async with bot.database.transaction() as uow:
        await uow.webhooks.add(
            "https://crm.example/hook", "whsec_x", ["lead.created", "lead.updated"], bot.clock.now
        )
        await uow.commit()


async def test_a_lead_completed_in_its_mail_thread_is_lead_updated(bot: BotHarness) -> None:
    await subscribe(bot)
    mona = bot.customer("mona@kraft.example", channel="email")
    first = (
        "Hello,\n\nwe need a quote for 25 lockers.\n\nKind regards,\nMona Kraft\nKraft Gym GmbH\n"
    )
    await mail(mona, first, 1, subject="Lockers")
    bot.clock.advance(minutes=30)
    await mail(
        mona,
        "No set budget yet, ideally delivered by mid-April.",
        2,
        subject="Re: Lockers",
        in_reply_to=our_last_mail(bot),
    )

    created, updated = await events(bot)
    assert created["type"] == "lead.created"
    assert created["data"]["lead"]["name"] == "Mona Kraft"
    assert created["data"]["lead"]["budget"] is None
    assert updated["type"] == "lead.updated"
    assert updated["created_at"] == "2026-03-02T09:30:00Z"
    assert updated["data"]["lead"]["id"] == created["data"]["lead"]["id"]
    assert updated["data"]["lead"]["budget"] == "No set budget yet"
    assert updated["data"]["lead"]["timeline"] == "by mid-April"
    assert updated["data"]["changes"] == [{"kind": "lead_amended", "noted": False}]
    assert "lead_amended" in await bot.kinds()


async def test_a_contact_asking_again_extends_the_open_lead_as_lead_updated(
    bot: BotHarness,
) -> None:
    await subscribe(bot)
    anna = bot.customer("anna", name="Anna")
    for line in (
        "Hi, I'd like a quote for 40 standing desks for our new office",
        "Anna Petrova",
        "anna@northwind.example",
        "Northwind Ltd",
        "no budget yet, ASAP",
    ):
        await anna.say(line)
    await anna.press("lead:confirm")
    await anna.say("I also need a quote for 10 office chairs")
    await anna.say("Anna Petrova")
    await anna.say("anna@northwind.example")
    await anna.say("Northwind Ltd")
    await anna.say("no budget yet")
    await anna.press("lead:confirm")

    kinds = [(event["type"], event["data"]["lead"]["id"]) for event in await events(bot)]
    [lead] = await bot.leads()
    assert kinds == [("lead.created", lead.id), ("lead.updated", lead.id)]
