"""What prospects and customers actually write, as transcripts in English and Russian: short
requests and bare price questions start the lead flow, Russian with a brand name stays
Russian, negations are heard, cancellations and delivery problems open tickets, and a second
order's problem opens a ticket of its own."""

from __future__ import annotations

from tests.harness import BotHarness, Customer

LEAD_START = "Great, I'll prepare this for our sales team. A few short questions (you can /cancel at any time)."
LEAD_START_RU = "Отлично, передам это нашему отделу продаж. Несколько коротких вопросов (в любой момент можно /cancel)."
ASK_NAME_RU = "Как вас зовут?"
ASK_NAME_CONTACT_RU = (
    "Как вас зовут и как с вами связаться? Напишите имя и email или номер телефона."
)
ASK_BUDGET_TIMELINE_RU = (
    "Есть ли ориентир по бюджету и срокам? Например, «около 300 тысяч рублей, к маю». "
    "(Необязательно.)"
)
ASK_COMPANY_RU = "Какую компанию вы представляете? (Пропустите, если вы частное лицо.)"
ASK_CONTACT_RU = "Как с вами связаться нашему менеджеру? Напишите email или номер телефона."
OPENED = 'Your request #{n} is open. Our team will look into it and I\'ll follow up within 24 hours. Ask "status #{n}" any time.'
OPENED_RU = "Заявка #{n} открыта. Команда займётся ей, и я вернусь с новостями в течение 24 ч. Статус можно узнать в любой момент: «статус #{n}»."
NOTE_ADDED = "Added to your request #{n}."


async def kinds_of(bot: BotHarness, customer: Customer) -> list[str]:
    async with bot.database.transaction() as uow:
        contact_id = await uow.contacts.owner_of(customer.address.channel, customer.address.value)
    assert contact_id is not None
    return [kind for kind in await bot.kinds(contact_id) if kind != "delivered"]


async def language_of(bot: BotHarness, customer: Customer) -> str:
    async with bot.database.transaction() as uow:
        conversation = await uow.conversations.find("console", customer.address.value)
    assert conversation is not None
    return conversation.current.language


async def notes_of(bot: BotHarness, ticket_id: int) -> list[str]:
    async with bot.database.transaction() as uow:
        return [text for _author, text, _at in await uow.tickets.notes(ticket_id)]


# --- short requests and price questions start the lead flow ---------------------------------


async def test_a_short_request_with_a_quantity_and_a_product_starts_the_lead_flow(
    bot: BotHarness,
) -> None:
    tom = bot.customer("tom")

    replies = await tom.say("need 12 standing desks")

    assert replies[0] == LEAD_START
    assert (await bot.state_of(tom))[0] == "lead"


async def test_a_short_russian_request_starts_the_lead_flow_in_russian(bot: BotHarness) -> None:
    olga = bot.customer("olga")

    replies = await olga.say("ищем 8 кресел для переговорной")

    assert replies[0] == LEAD_START_RU
    assert (await bot.state_of(olga))[0] == "lead"


async def test_how_much_alone_starts_the_lead_flow(bot: BotHarness) -> None:
    tom = bot.customer("tom")

    replies = await tom.say("How much?")

    assert replies[0] == LEAD_START
    assert (await bot.state_of(tom))[0] == "lead"


async def test_skolko_alone_starts_the_lead_flow_in_russian(bot: BotHarness) -> None:
    olga = bot.customer("olga")

    replies = await olga.say("Сколько?")

    assert replies[0] == LEAD_START_RU
    assert (await bot.state_of(olga))[0] == "lead"


# --- Russian with brand names, addresses and numbers stays Russian --------------------------


async def test_russian_with_a_brand_name_an_email_and_a_url_stays_russian(bot: BotHarness) -> None:
    pavel = bot.customer("pavel")

    assert await pavel.say("Нужны 4 ноутбука Lenovo ThinkPad T14 для бухгалтерии") == [
        LEAD_START_RU,
        ASK_NAME_CONTACT_RU,
    ]
    assert await pavel.say("Павел Орлов, p.orlov@tehnoplus.example") == [ASK_COMPANY_RU]
    replies = await pavel.say("ООО «Техноплюс», сайт https://tehnoplus.example")

    assert replies == [ASK_BUDGET_TIMELINE_RU]
    assert await language_of(bot, pavel) == "ru"


async def test_ok_or_a_number_keeps_the_conversation_russian(bot: BotHarness) -> None:
    pavel = bot.customer("pavel")
    await pavel.say("Хочу купить 2 монитора Dell")

    await pavel.say("ok")

    assert await language_of(bot, pavel) == "ru"


# --- negations -------------------------------------------------------------------------------


async def test_not_wanting_to_buy_does_not_start_the_lead_flow(bot: BotHarness) -> None:
    tom = bot.customer("tom")

    replies = await tom.say("I don't want to buy anything, just looking around")

    assert LEAD_START not in replies
    assert await bot.state_of(tom) == ("idle", None)
    assert await bot.leads() == []


async def test_not_wanting_a_person_in_russian_is_no_hand_off(bot: BotHarness) -> None:
    olga = bot.customer("olga")

    await olga.say("я не хочу говорить с человеком, просто подскажите часы работы")

    assert "handoff_requested" not in await kinds_of(bot, olga)
    assert (await bot.state_of(olga))[0] != "handoff"


async def test_no_need_to_call_is_no_callback_request(bot: BotHarness) -> None:
    tom = bot.customer("tom")

    await tom.say("no need to call me")

    assert await bot.state_of(tom) == ("idle", None)
    assert await bot.leads() == []


# --- cancellations and delivery problems open tickets ----------------------------------------


async def test_cancelling_an_order_opens_a_ticket_not_a_status_answer(bot: BotHarness) -> None:
    tom = bot.customer("tom")

    assert await tom.say("Please cancel my order 55120, we have changed our plans") == [
        OPENED.format(n=1001)
    ]

    [ticket] = await bot.tickets()
    assert ticket.category == "order"
    assert "status_requested" not in await kinds_of(bot, tom)


async def test_cancelling_an_order_in_russian_opens_a_ticket(bot: BotHarness) -> None:
    olga = bot.customer("olga")

    assert await olga.say("Отмените, пожалуйста, мой заказ 55120, он больше не нужен") == [
        OPENED_RU.format(n=1001)
    ]
    [ticket] = await bot.tickets()
    assert ticket.category == "order"


async def test_a_damaged_parcel_opens_a_delivery_ticket(bot: BotHarness) -> None:
    tom = bot.customer("tom")

    assert await tom.say("My parcel arrived damaged, the lamp inside is broken") == [
        OPENED.format(n=1001)
    ]
    [ticket] = await bot.tickets()
    assert ticket.category == "delivery"


async def test_a_lost_parcel_in_russian_opens_a_delivery_ticket(bot: BotHarness) -> None:
    olga = bot.customer("olga")

    assert await olga.say("Курьер потерял мою посылку, трек не обновляется") == [
        OPENED_RU.format(n=1001)
    ]
    [ticket] = await bot.tickets()
    assert ticket.category == "delivery"


# --- a second order's problem while a ticket is open -----------------------------------------


async def test_a_problem_with_another_order_opens_a_new_ticket(bot: BotHarness) -> None:
    tom = bot.customer("tom")
    assert await tom.say("Order 4410 arrived damaged, two mugs are cracked") == [
        OPENED.format(n=1001)
    ]

    assert await tom.say("And order 5531 came with the wrong item inside") == [
        OPENED.format(n=1002)
    ]

    first, second = sorted(await bot.tickets(), key=lambda ticket: ticket.number)
    assert "5531" in second.summary
    assert not any("5531" in note for note in await notes_of(bot, first.id))


async def test_more_about_the_same_order_is_a_note_on_its_ticket(bot: BotHarness) -> None:
    tom = bot.customer("tom")
    await tom.say("Order 4410 arrived damaged, two mugs are cracked")

    assert await tom.say("Order 4410 also had a broken saucer") == [NOTE_ADDED.format(n=1001)]
    assert len(await bot.tickets()) == 1


async def test_a_problem_with_another_order_in_russian_opens_a_new_ticket(
    bot: BotHarness,
) -> None:
    olga = bot.customer("olga")
    assert await olga.say("Заказ 4410 пришёл повреждённым, коробка разбита") == [
        OPENED_RU.format(n=1001)
    ]

    assert await olga.say("А в заказе 5531 прислали не тот товар") == [OPENED_RU.format(n=1002)]
    assert len(await bot.tickets()) == 2
