"""A lead saved while nobody can be told of it, as transcripts: it waits, and the customer is
promised no rep."""

from __future__ import annotations

from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness, Customer


async def handoffs_count(bot: BotHarness) -> int:
    async with bot.database.transaction() as uow:
        return len(await uow.handoffs.search())


async def contact_of(bot: BotHarness, customer: Customer) -> int:
    async with bot.database.transaction() as uow:
        contact_id = await uow.contacts.owner_of(customer.address.channel, customer.address.value)
    assert contact_id is not None
    return contact_id


async def kinds_of(bot: BotHarness, customer: Customer) -> list[str]:
    """The customer's touchpoints in order, without the relay's delivery receipts."""
    kinds = await bot.kinds(await contact_of(bot, customer))
    return [kind for kind in kinds if kind != "delivered"]


async def details_of(bot: BotHarness, kind: str) -> list[dict[str, object]]:
    async with bot.database.transaction() as uow:
        return [t.details for t in await uow.touchpoints.search(kind=kind)]


# --- a lead nobody can be told about ----------------------------------------------------------


async def say_a_lead(customer: Customer) -> list[str]:
    await customer.say("Hi, I'd like a quote for 40 standing desks for our new office in Berlin")
    await customer.say("Anna Petrova")
    await customer.say("Northwind Ltd")
    await customer.say("anna@northwind.example, +49 30 901820")
    await customer.say("about 20000 EUR")
    await customer.say("ASAP")
    return await customer.press("lead:confirm")


async def test_a_lead_saved_with_no_rep_waits_and_promises_no_rep(bot: BotHarness) -> None:
    anna = bot.customer("4004", channel="telegram", name="Anna")

    assert await say_a_lead(anna) == [
        "Thank you, Anna Petrova! Your request is saved. Nobody from our sales team is "
        "available right now, so it may take a while, but they will get back to you."
    ]

    [lead] = await bot.leads()
    assert (lead.status, lead.score >= 80) == ("waiting", True)  # a hot lead, nobody to tell
    assert await handoffs_count(bot) == 0
    assert (await kinds_of(bot, anna))[-4:] == [
        "message_in",
        "lead_captured",
        "lead_waiting",
        "message_out",
    ]
    assert await details_of(bot, "lead_waiting") == [{"lead_id": lead.id}]


async def test_a_russian_lead_saved_with_no_rep_waits(bot: BotHarness) -> None:
    ivan = bot.customer("2002", channel="telegram", name="Иван")
    await ivan.say("Хочу купить 5 кофемашин для офиса")
    await ivan.say("Иван Петров")
    await ivan.press("lead:skip")
    await ivan.say("ivan@example.ru")
    await ivan.press("lead:skip")

    assert await ivan.press("lead:skip") != []
    assert await ivan.press("lead:confirm") == [
        "Спасибо, Иван Петров! Ваша заявка сохранена. Сейчас никого из отдела продаж нет на "
        "связи, поэтому ответ может занять время, но с вами обязательно свяжутся."
    ]
    [lead] = await bot.leads()
    assert lead.status == "waiting"


async def test_a_lead_saved_with_a_rep_registered_is_new(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    bob = bot.customer("5005", channel="telegram", name="Bob")
    await bob.say("I want to buy 3 licences of your software for my team")
    await bob.say("Bob")
    await bob.press("lead:skip")
    await bob.say("bob@example.com")
    await bob.press("lead:skip")
    await bob.press("lead:skip")

    assert await bob.press("lead:confirm") == [
        "Thank you, Bob! Your request is with our sales team, and a sales rep will contact you "
        "shortly."
    ]
    [lead] = await bot.leads()
    assert lead.status == "new"
    assert "lead_waiting" not in await bot.kinds()
