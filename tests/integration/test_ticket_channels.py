"""A resolved ticket over the real channels: the customer on Telegram (python-telegram-bot
against the fake Bot API) or by email (Dovecot and aiosmtpd) is told, in their thread, and
asked once how we did; the rating answered by button or by a number in a reply is recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.turn import Context, Result, Turn
from handlers import service
from storage.uow import Database
from tests.fakes.telegram import FakeTelegram
from tests.integration.test_email_channel import MailCustomer, plain_text, quoting
from tests.integration.test_handoff_channels import ANN, KIM, inbox
from tests.omni_harness import OmniBot, TelegramPerson, buttons
from tests.services import smtp as smtp_service
from tests.services.dovecot import Dovecot
from tests.services.smtp import SmtpServer
from tests.waiting import eventually

smtp_server = smtp_service.smtp_server  # the fixtures, made visible to this module
__all__ = ["inbox"]


@pytest.fixture
async def bot(
    database: Database, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> AsyncIterator[OmniBot]:
    async with OmniBot(database, fake, inbox, smtp_server) as running:
        yield running


async def resolve(bot: OmniBot, number: int) -> None:
    """What `touchpoint tickets set-status N resolved --as NAME` does: a turn of the ticket's
    conversation, in the running bot's database."""
    async with bot.database.transaction() as uow:
        [ticket] = [t for t in await uow.tickets.search() if t.number == number]
    assert ticket.conversation_id is not None

    async def action(turn: Turn, ctx: Context) -> Result | None:
        return await service.set_status(turn, ctx, ticket.id, "resolved")

    assert await bot.dispatcher.system_turn(ticket.conversation_id, action)


async def ratings(bot: OmniBot) -> list[dict[str, object]]:
    async with bot.database.transaction() as uow:
        return [dict(t.details) for t in await uow.touchpoints.search(kind="csat_rated")]


async def test_a_telegram_customer_hears_the_ticket_is_resolved_and_rates_it(
    bot: OmniBot, fake: FakeTelegram
) -> None:
    ann = TelegramPerson(fake, ANN, "Ann", "Lee")
    ann.says("My order 5531 arrived damaged, the armrest is broken")
    [opened] = await ann.texts(1)
    assert opened.startswith("Your request #1001 is open.")

    await resolve(bot, 1001)
    news, question = await ann.receives(2)
    assert news.text.startswith("Good news: your request #1001 has been resolved.")
    assert question.text.startswith("How satisfied are you with how we handled request #1001?")
    assert buttons(question) == ["csat:1", "csat:2", "csat:3", "csat:4", "csat:5"]
    ann.presses("csat:5", on=question)
    [thanks] = await ann.texts(1)
    assert thanks.startswith("Thank you for your rating!")
    [rating] = await eventually(lambda: ratings(bot), what="the rating")
    assert (rating["rating"], rating["about"], rating["number"]) == (5, "ticket", 1001)


async def test_a_customer_by_mail_hears_it_in_the_thread_and_rates_it_by_number(
    bot: OmniBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    kim = MailCustomer(inbox, smtp_server, KIM, "Kim Lee")
    complaint = await kim.writes(
        "Broken chair", "My order 5531 arrived damaged, the armrest is broken."
    )
    [opened] = await kim.receives(1)
    assert plain_text(opened).startswith("Your request #1001 is open.")

    await resolve(bot, 1001)
    [news] = await kim.receives(1)
    assert news["In-Reply-To"] == complaint.message_id  # in her thread
    text = plain_text(news)
    assert text.startswith("Good news: your request #1001 has been resolved.")
    assert "How satisfied are you with how we handled request #1001?" in text
    await kim.writes("Re: Broken chair", quoting(news, "4 — quick, thank you"), replying_to=news)
    [thanks] = await kim.receives(1)
    assert plain_text(thanks).startswith("Thank you for your rating!")
    [rating] = await ratings(bot)
    assert (rating["rating"], rating["comment"]) == (4, "quick, thank you")
