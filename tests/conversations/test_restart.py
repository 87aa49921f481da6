"""A restart in the middle of a conversation loses nothing: the state is in the database.

`bot.restart()` builds a new dispatcher, relay and scheduler on the same database, as a new
process would; nothing is carried over in memory.
"""

from __future__ import annotations

from bot.model import Outcome
from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness, Customer


async def kinds_of(bot: BotHarness, customer: Customer) -> list[str]:
    """The customer's touchpoints in order, without the relay's delivery receipts."""
    async with bot.database.transaction() as uow:
        contact_id = await uow.contacts.owner_of(customer.address.channel, customer.address.value)
    assert contact_id is not None
    return [kind for kind in await bot.kinds(contact_id) if kind != "delivered"]


async def test_a_lead_flow_continues_at_the_same_step_after_a_restart(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("/lead")
    await alice.say("Forty standing desks for our new office in Leeds")
    await alice.say("Alice Green")

    bot.restart()

    assert await bot.state_of(alice) == ("lead", "contact")
    assert await alice.say("alice@northwind.example") == [
        "Which company are you with? (Skip if you are buying as a private person.)"
    ]
    await alice.say("Northwind Ltd")
    await alice.press("lead:skip")
    await alice.press("lead:confirm")
    [lead] = await bot.leads()
    assert (lead.need, lead.name, lead.company) == (
        "Forty standing desks for our new office in Leeds",
        "Alice Green",
        "Northwind Ltd",
    )


async def test_a_russian_lead_flow_continues_in_russian_after_a_restart(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("привет")
    await ivan.press("menu:lead")
    await ivan.say("Нужны 5 кофемашин для офиса")
    await ivan.say("Иван Смирнов")
    await ivan.say("ivan@acme.example")

    bot.restart()

    # A company name in Latin letters is an answer, not a switch to English.
    assert await ivan.say("Acme Ltd") == [
        "Есть ли ориентир по бюджету и срокам? Например, «около 300 тысяч рублей, к маю». "
        "(Необязательно.)"
    ]
    assert await bot.state_of(ivan) == ("lead", "budget_timeline")


async def test_start_after_a_restart_resumes_the_lead_where_it_stopped(bot: BotHarness) -> None:
    alice = bot.customer("alice", channel="telegram")
    await alice.say("/lead")
    await alice.say("Forty standing desks for our new office in Leeds")
    await alice.say("Alice Green")
    await alice.say("alice@northwind.example")

    bot.restart()

    assert await alice.say("/start") == [
        "Let's continue where we stopped.",
        "Which company are you with? (Skip if you are buying as a private person.)",
    ]
    assert alice.last_options() == ["lead:skip"]


async def test_a_service_intake_waiting_for_details_continues_after_a_restart(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    await alice.press("menu:service")

    bot.restart()

    assert await alice.say("The blender I got on Monday does not switch on at all") == [
        'Your request #1001 is open. Our team will look into it and I\'ll follow up within 24 hours. Ask "status #1001" any time.'
    ]
    [ticket] = await bot.tickets()
    assert ticket.summary == "The blender I got on Monday does not switch on at all"


async def test_a_waiting_handoff_goes_on_waiting_after_a_restart(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    alice = bot.customer("alice")
    await alice.say("/human")

    bot.restart()

    assert await alice.say("hello, anyone?") == []  # told a moment ago: kept for the team
    assert await bot.state_of(alice) == ("handoff", None)
    assert (await kinds_of(bot, alice))[-2:] == ["message_in", "customer_waiting"]
    assert await alice.say("/cancel") == [
        "Done: you're no longer waiting for a person, and you're back with the assistant. "
        "How can I help?"
    ]


async def test_a_follow_up_timer_set_before_a_restart_fires_after_it(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.press("menu:service")
    await alice.say("The blender I got on Monday does not switch on at all")

    bot.restart()
    bot.clock.advance(hours=24)

    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()
    assert bot.channels["console"].texts_to("alice")[-1] == (
        "Following up on your request #1001: it is open, and our team is on it. "
        "Reply here if there is anything to add."
    )


async def test_a_message_delivered_twice_is_answered_once(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    hello = alice.message("hello")

    assert len(await alice.send(hello)) == 2
    assert await alice.send(hello) == []

    assert alice.last_result is not None
    assert alice.last_result.outcome is Outcome.DUPLICATE
    assert (await kinds_of(bot, alice)).count("message_in") == 1
    assert (await kinds_of(bot, alice)).count("message_out") == 2


async def test_a_message_redelivered_after_a_restart_is_answered_once(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("/lead")
    need = alice.message("Forty standing desks for our new office in Leeds")
    assert await alice.send(need) == [
        "Who should our sales rep contact? Please write your name and an email address or a "
        "phone number."
    ]

    bot.restart()

    assert await alice.send(need) == []
    assert await bot.state_of(alice) == ("lead", "name_contact")
    assert (await kinds_of(bot, alice)).count("message_in") == 2


async def test_a_button_press_delivered_twice_counts_once(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("/lead")
    for answer in ("Forty standing desks for our new office", "Alice Green", "Northwind"):
        await alice.say(answer)
    await alice.say("alice@northwind.example")
    await alice.say("Northwind")
    skip_budget_and_date = alice.message(button="lead:skip")

    [summary] = await alice.send(skip_budget_and_date)
    assert summary.startswith("Please check:")
    assert await alice.send(skip_budget_and_date) == []

    # The second copy did not act again (a stale button at the summary would answer).
    assert await bot.state_of(alice) == ("lead", "confirm")
