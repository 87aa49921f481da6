"""Service follow-ups, as transcripts in English and Russian: opening a ticket, its status,
adding to it, and the timer that follows it up."""

from __future__ import annotations

from datetime import timedelta

from bot.records import Timer
from tests.harness import BotHarness, Customer

OPENED_1001 = 'Your request #1001 is open. Our team will look into it and I\'ll follow up within 24 hours. Ask "status #1001" any time.'
OPENED_1001_RU = "Заявка #1001 открыта. Команда займётся ей, и я вернусь с новостями в течение 24 ч. Статус можно узнать в любой момент: «статус #1001»."
ASK_DETAILS = "I'll open a service request. Please describe the issue in a message: what happened, and an order or invoice number if you have one."
ASK_DETAILS_RU = "Я открою заявку. Опишите, пожалуйста, одним сообщением, что случилось, и укажите номер заказа или счёта, если он есть."
STATUS_1001 = "Request #1001 (general): open, last updated 2026-03-02 09:00 UTC."
NONE_OPEN = "You have no open requests. Describe the issue and I'll open one."


async def kinds_of(bot: BotHarness, customer: Customer) -> list[str]:
    """The customer's touchpoints in order, without the relay's delivery receipts."""
    async with bot.database.transaction() as uow:
        contact_id = await uow.contacts.owner_of(customer.address.channel, customer.address.value)
    assert contact_id is not None
    return [kind for kind in await bot.kinds(contact_id) if kind != "delivered"]


async def notes_of(bot: BotHarness, ticket_id: int) -> list[tuple[str, str]]:
    async with bot.database.transaction() as uow:
        return [(author, text) for author, text, _at in await uow.tickets.notes(ticket_id)]


async def pending_timers(bot: BotHarness) -> list[Timer]:
    async with bot.database.transaction() as uow:
        return await uow.timers.pending()


async def open_by_button(customer: Customer, description: str) -> list[str]:
    """Open a ticket through the menu, so the test does not depend on the intent matcher."""
    assert await customer.press("menu:service") == [ASK_DETAILS]
    return await customer.say(description)


# --- opening a ticket ---------------------------------------------------------------------


async def test_a_descriptive_message_opens_a_ticket_at_once(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    complaint = "Where is my order? It was supposed to arrive last week"

    assert await alice.say(complaint) == [OPENED_1001]

    [ticket] = await bot.tickets()
    assert (ticket.number, ticket.status, ticket.summary) == (1001, "open", complaint)
    assert await notes_of(bot, ticket.id) == [("customer", complaint)]
    [timer] = await pending_timers(bot)
    assert (timer.kind, timer.ticket_id) == ("ticket_followup", ticket.id)
    assert timer.due_at == bot.clock.now + timedelta(hours=24)
    assert await kinds_of(bot, alice) == [
        "message_in",
        "ticket_opened",
        "followup_scheduled",
        "message_out",
    ]
    assert await bot.state_of(alice) == ("idle", None)


async def test_a_descriptive_russian_message_opens_a_ticket_in_russian(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")
    complaint = "Моя посылка так и не пришла, трек не обновляется уже десять дней"

    assert await ivan.say(complaint) == [OPENED_1001_RU]

    [ticket] = await bot.tickets()
    assert (ticket.number, ticket.summary) == (1001, complaint)
    assert len(await pending_timers(bot)) == 1
    assert "ticket_opened" in await kinds_of(bot, ivan)


async def test_a_short_problem_asks_for_details_then_opens_the_ticket(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await alice.say("I have a problem with my order") == [ASK_DETAILS]
    assert await bot.state_of(alice) == ("service", "describe")
    assert await bot.tickets() == []

    details = "The blender I got on Monday does not switch on at all"
    assert await alice.say(details) == [OPENED_1001]
    [ticket] = await bot.tickets()
    assert ticket.summary == details
    assert await notes_of(bot, ticket.id) == [("customer", details)]
    assert await bot.state_of(alice) == ("idle", None)
    assert await kinds_of(bot, alice) == [
        "message_in",
        "message_out",
        "message_in",
        "ticket_opened",
        "followup_scheduled",
        "message_out",
    ]


async def test_a_short_russian_problem_asks_for_details_in_russian(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")

    assert await ivan.say("У меня проблема с заказом") == [ASK_DETAILS_RU]
    assert await bot.tickets() == []
    assert await ivan.say("Чайник, который пришёл в понедельник, не включается") == [OPENED_1001_RU]
    [ticket] = await bot.tickets()
    assert ticket.summary == "Чайник, который пришёл в понедельник, не включается"


async def test_the_service_button_asks_for_details(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    replies = await open_by_button(alice, "My invoice 7781 shows the wrong VAT number")

    assert replies == [OPENED_1001]
    [ticket] = await bot.tickets()
    assert (ticket.category, ticket.summary) == (
        "other",
        "My invoice 7781 shows the wrong VAT number",
    )


async def test_a_description_with_no_letters_is_asked_again(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.press("menu:service")

    assert await alice.say("?!") == ["Please tell me a little more."]
    assert await bot.state_of(alice) == ("service", "describe")
    assert await bot.tickets() == []


async def test_cancel_during_the_intake_opens_nothing(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.press("menu:service")

    replies = await alice.say("/cancel")

    assert replies == ["Cancelled, nothing was saved."]
    assert alice.last_options() == ["menu:lead", "menu:service", "menu:status", "menu:human"]
    assert await bot.tickets() == []
    assert await bot.state_of(alice) == ("idle", None)


# --- status -------------------------------------------------------------------------------


async def test_status_of_an_own_ticket_in_three_ways(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await open_by_button(alice, "The blender I got on Monday does not switch on at all")

    assert await alice.say("status #1001") == [STATUS_1001]
    assert await alice.say("/status 1001") == [STATUS_1001]
    assert await alice.say("/status #1001") == [STATUS_1001]
    assert (await kinds_of(bot, alice))[-2:] == ["status_requested", "message_out"]


async def test_status_in_russian_names_the_category_and_status_in_russian(
    bot: BotHarness,
) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("Здравствуйте")
    assert await ivan.press("menu:service") == [ASK_DETAILS_RU]
    await ivan.say("Чайник не включается после первого использования, заказ 5531")

    assert await ivan.say("какой статус заявки #1001") == [
        "Заявка #1001 (общий вопрос): открыта, обновлена 2026-03-02 09:00 UTC."
    ]


async def test_status_shows_when_the_ticket_was_last_updated(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await open_by_button(alice, "The blender I got on Monday does not switch on at all")
    bot.clock.advance(hours=2)
    await alice.attach("photo")

    assert await alice.say("/status 1001") == [
        "Request #1001 (general): open, last updated 2026-03-02 11:00 UTC."
    ]


async def test_someone_elses_ticket_reads_as_not_found(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await open_by_button(alice, "The blender I got on Monday does not switch on at all")
    bob = bot.customer("bob")
    not_found = "I couldn't find request #1001 among yours. Please check the number."

    assert await bob.say("status #1001") == [not_found]
    assert await bob.say("/status 1001") == [not_found]
    assert await bob.say("какой статус заявки #1001") == [
        "Среди ваших заявок нет #1001. Проверьте, пожалуйста, номер."
    ]
    # Nothing of Alice's ticket reached Bob, and Bob opened nothing by asking.
    assert not any("blender" in text for text in bot.channels["console"].texts_to("bob"))
    assert len(await bot.tickets()) == 1
    assert await bot.state_of(bob) == ("idle", None)


async def test_status_without_a_number_lists_the_open_tickets(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await open_by_button(alice, "The blender I got on Monday does not switch on at all")
    await open_by_button(alice, "My invoice 7781 shows the wrong VAT number")
    await open_by_button(alice, "The courier scratched the door of my car with the box")
    async with bot.database.transaction() as uow:
        await uow.tickets.set_status(3, "resolved", bot.clock.now)
        await uow.commit()

    expected = [
        "Your open requests:\n"
        "Request #1002 (general): open, last updated 2026-03-02 09:00 UTC.\n"
        "Request #1001 (general): open, last updated 2026-03-02 09:00 UTC."
    ]
    assert await alice.say("/status") == expected
    assert await alice.press("menu:status") == expected


async def test_status_with_no_tickets_asks_for_a_description(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await alice.say("/status") == [NONE_OPEN]
    assert await bot.state_of(alice) == ("service", "describe")

    assert await alice.say("My parcel 5531 came with a broken handle") == [OPENED_1001]
    [ticket] = await bot.tickets()
    assert ticket.summary == "My parcel 5531 came with a broken handle"


async def test_status_button_with_no_tickets_answers_in_russian(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("Здравствуйте")

    assert await ivan.press("menu:status") == [
        "Открытых заявок у вас нет. Опишите проблему, и я открою заявку."
    ]


async def test_asking_about_a_ticket_number_during_the_intake_opens_no_ticket(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    assert await alice.say("/status") == [NONE_OPEN]

    assert await alice.say("but what about #1042?") == [
        "I couldn't find request #1042 among yours. Please check the number."
    ]
    assert await bot.tickets() == []
    assert await bot.state_of(alice) == ("service", "describe")


# --- adding to the open ticket ------------------------------------------------------------


async def test_later_messages_are_added_to_the_open_ticket(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    first = "Where is my order? It was supposed to arrive last week"
    later = "The box was crushed and two cups inside are broken"
    await alice.say(first)

    assert await alice.say(later) == ["Added to your request #1001."]

    [ticket] = await bot.tickets()
    assert await notes_of(bot, ticket.id) == [("customer", first), ("customer", later)]
    assert (await kinds_of(bot, alice))[-3:] == ["message_in", "ticket_updated", "message_out"]
    assert len(await bot.tickets()) == 1


async def test_later_russian_messages_are_added_to_the_open_ticket(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("Моя посылка так и не пришла, трек не обновляется уже десять дней")

    assert await ivan.say("Коробка была смята, две чашки внутри разбиты") == [
        "Добавил это к заявке #1001."
    ]
    [ticket] = await bot.tickets()
    assert [text for _author, text in await notes_of(bot, ticket.id)][-1] == (
        "Коробка была смята, две чашки внутри разбиты"
    )


async def test_an_attachment_without_text_is_added_to_the_open_ticket(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await open_by_button(alice, "The blender I got on Monday does not switch on at all")

    assert await alice.attach("photo") == ["Added to your request #1001."]

    [ticket] = await bot.tickets()
    assert len(await notes_of(bot, ticket.id)) == 2
    async with bot.database.transaction() as uow:
        [received] = await uow.touchpoints.search(kind="message_in", limit=1)
    assert received.details["attachments"] == ["photo"]
    assert (await kinds_of(bot, alice))[-2:] == ["ticket_updated", "message_out"]


async def test_an_attachment_without_a_ticket_asks_what_it_is(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await alice.attach("document") == [
        "Thank you, I've saved your file. Please also tell me in a few words what it is about."
    ]
    assert alice.last_options() == ["menu:lead", "menu:service", "menu:status", "menu:human"]
    assert await bot.tickets() == []


async def test_a_resolved_ticket_takes_no_more_notes(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await open_by_button(alice, "The blender I got on Monday does not switch on at all")
    async with bot.database.transaction() as uow:
        await uow.tickets.set_status(1, "resolved", bot.clock.now)
        await uow.commit()

    replies = await alice.attach("photo")

    assert replies[0].startswith("Thank you, I've saved your file.")
    assert len(await notes_of(bot, 1)) == 1


# --- the follow-up timer ------------------------------------------------------------------


async def test_the_follow_up_fires_once_a_day_later_in_the_customers_language(
    bot: BotHarness,
) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("Моя посылка так и не пришла, трек не обновляется уже десять дней")
    bot.clock.advance(hours=23)
    assert await bot.scheduler.fire_due() == 0

    bot.clock.advance(hours=1)
    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()

    assert bot.channels["console"].texts_to("ivan")[-1] == (
        "Возвращаюсь по заявке #1001: статус — открыта, команда работает над ней. "
        "Если хотите что-то добавить, ответьте здесь."
    )
    assert await bot.scheduler.fire_due() == 0
    assert await pending_timers(bot) == []
    assert "followup_due" in await bot.kinds()
