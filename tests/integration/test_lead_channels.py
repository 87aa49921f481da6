"""Leads over the real channels: a Telegram prospect's lead reaches a rep on Telegram and a rep
by email (python-telegram-bot against the fake Bot API, Dovecot and aiosmtpd), who accept it,
work it and write to the customer; the first contact is timed from the lead's arrival.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from storage.uow import Database
from tests.fakes.telegram import FakeTelegram
from tests.integration.test_email_channel import MailCustomer, plain_text, quoting
from tests.integration.test_handoff_channels import ANN, BORIS, OLGA, add_rep, inbox
from tests.omni_harness import OmniBot, TelegramPerson, buttons
from tests.services import smtp as smtp_service
from tests.services.dovecot import Dovecot
from tests.services.smtp import SmtpServer

smtp_server = smtp_service.smtp_server  # the fixtures, made visible to this module
__all__ = ["inbox"]

OPENER = (
    "I'm Ann Lee from Northwind, ann@northwind.example, we need 40 standing desks, "
    "budget about 20000 EUR, by May"
)


@pytest.fixture
async def bot(
    database: Database, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> AsyncIterator[OmniBot]:
    # A lead stays with the bot (no hot-lead hand-off): the pipeline alone brings it to a rep.
    async with OmniBot(database, fake, inbox, smtp_server, hot_lead_score=101) as running:
        yield running


async def leaves_a_lead(ann: TelegramPerson) -> str:
    ann.says(OPENER)
    [summary] = await ann.receives(1)
    ann.presses("lead:confirm", on=summary)
    [saved] = await ann.texts(1)
    return saved


async def first_contact(bot: OmniBot) -> tuple[dict[str, object], datetime, datetime]:
    """The `lead_contacted` details, when it happened, and when the lead came in."""
    async with bot.database.transaction() as uow:
        [lead] = await uow.leads.search()
        [contacted] = await uow.touchpoints.search(kind="lead_contacted")
    return dict(contacted.details), contacted.occurred_at, lead.created_at


async def test_a_telegram_prospects_lead_is_accepted_worked_and_won_on_telegram(
    bot: OmniBot, fake: FakeTelegram
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA)
    olga = TelegramPerson(fake, OLGA, "Olga")
    olga.says("/online")
    await olga.receives(1)
    ann = TelegramPerson(fake, ANN, "Ann", "Lee")

    saved = await leaves_a_lead(ann)
    assert saved.startswith("Thank you, Ann Lee! Your request No. 1 is with our sales team.")
    [card] = await olga.receives(1)
    assert card.text.startswith("New lead #1 for you\nAnn Lee · Northwind · telegram · en")
    assert buttons(card) == ["accept:1"]

    olga.presses("accept:1", on=card)
    assert (await olga.texts(1))[0].startswith("Lead #1 is yours.")
    assert await ann.texts(1) == [
        "Olga from our sales team now has your request No. 1 and will contact you within 1 hour."
    ]
    olga.says("/note 1 Berlin office, needs assembly")
    assert await olga.texts(1) == ["Note added to lead #1."]
    olga.says("/msg 1 Hello Ann, Olga here. Do you need them assembled?")
    await olga.receives(1)
    assert await ann.texts(2) == [
        "Olga from our sales team, about your request No. 1:",
        "Hello Ann, Olga here. Do you need them assembled?",
    ]
    ann.says("Yes please, assembled")
    [relayed] = await olga.receives(1)
    assert relayed.text.endswith("Yes please, assembled")
    olga.says("/stage 1 won")
    assert await olga.texts(1) == ["Lead #1 is won."]

    details, contacted_at, created_at = await first_contact(bot)
    assert details["via"] == "message"
    assert details["latency"] == round((contacted_at - created_at).total_seconds(), 1)
    async with bot.database.transaction() as uow:
        [lead] = await uow.leads.search()
        [note] = await uow.leads.notes(lead.id)
    assert (lead.status, note.text) == ("won", "Berlin office, needs assembly")


async def test_a_telegram_prospects_lead_reaches_a_rep_by_email_who_accepts_by_replying(
    bot: OmniBot, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    await add_rep(bot, "Boris", email=BORIS)
    boris = MailCustomer(inbox, smtp_server, BORIS, "Boris Ivanov")
    [welcomed] = await boris.receives(1)
    await boris.writes("on duty", "/online", replying_to=welcomed)
    await boris.receives(1)
    ann = TelegramPerson(fake, ANN, "Ann", "Lee")

    await leaves_a_lead(ann)
    [card] = await boris.receives(1)
    assert card["Subject"] == "[L1] Ann Lee"
    assert plain_text(card).startswith("New lead #1 for you\nAnn Lee · Northwind · telegram")

    # Replying to the card accepts it, and what he wrote goes to the customer.
    await boris.writes(
        "Re: [L1] Ann Lee",
        quoting(card, "Hello Ann, Boris here. When should the desks arrive?"),
        replying_to=card,
    )
    assert await ann.texts(3) == [
        "Boris from our sales team now has your request No. 1 and will contact you within 1 hour.",
        "Boris from our sales team, about your request No. 1:",
        "Hello Ann, Boris here. When should the desks arrive?",
    ]
    told = [plain_text(m) for m in await boris.receives(2)]
    assert told[0].startswith("Lead #1 is yours.")
    assert told[1].startswith("Sent to the customer of lead #1.")

    ann.says("Early May, please")
    [relayed] = await boris.receives(1)
    assert plain_text(relayed).endswith("Early May, please")
    details, _, _ = await first_contact(bot)
    assert details["via"] == "message"
