"""Leads nobody could be told of, offered once somebody can be; and what a rep or manager does
from the command line (handlers/office.py), run as turns of the customer's conversation."""

from __future__ import annotations

from dataclasses import replace

from bot.dispatch import SystemAction
from bot.records import Rep
from bot.turn import Context, Result, Turn
from handlers import lead_desk, office
from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness, Customer

BORIS_TELEGRAM = "4343"


async def waiting_lead(customer: Customer) -> None:
    await customer.say("Please send me a quote for 500 kg of coffee beans")
    for answer in ("Zoe", "zoe@beanery.example", "Beanery"):
        await customer.say(answer)
    await customer.press("lead:skip")
    await customer.press("lead:confirm")


async def rep(bot: BotHarness, rep_id: int) -> Rep:
    async with bot.database.transaction() as uow:
        found = await uow.reps.get(rep_id)
    assert found is not None
    return found


async def test_a_waiting_lead_is_offered_to_the_first_rep_who_comes_online(
    bot: BotHarness,
) -> None:
    await waiting_lead(bot.customer("zoe"))
    [lead] = await bot.leads()
    assert lead.status == "waiting"
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")

    replies = await olga.say("/online")

    assert replies[0] == "You are online. Waiting conversations offered to you: 1."
    assert replies[1].startswith("New lead #1 for you")
    [lead] = await bot.leads()
    assert (lead.status, lead.offered_rep_id) == ("new", 1)
    async with bot.database.transaction() as uow:  # its first-contact clock runs from now on
        assert "lead_sla" in [timer.kind for timer in await uow.timers.pending()]
    assert {"lead_offered", "rep_message"} <= set(await bot.kinds())


async def as_operator(bot: BotHarness, conversation_id: int, action: SystemAction) -> bool:
    return await bot.dispatcher.system_turn(conversation_id, action)


async def test_a_rep_answers_only_what_they_hold_a_manager_any_open_hand_off(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM, role="manager", on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("/human")
    await bot.customer(OLGA_TELEGRAM, channel="telegram").press("claim:1")
    olga, boris = await rep(bot, 1), await rep(bot, 2)

    def reply(person: Rep, text: str) -> SystemAction:
        async def action(turn: Turn, ctx: Context) -> Result | None:
            return await office.reply(turn, ctx, 1, person, text)

        return action

    assert await as_operator(bot, 1, reply(olga, "Hi Ann, Olga here"))
    assert await as_operator(bot, 1, reply(boris, "Boris, her manager, is reading too"))
    assert not await as_operator(bot, 1, reply(olga, "   "))
    await bot.deliver()

    assert ann.channel.texts_to("1001")[-2:] == [
        "Hi Ann, Olga here",
        "Boris, her manager, is reading too",
    ]
    async with bot.database.transaction() as uow:
        handoff = await uow.handoffs.get(1)
        replied = await uow.touchpoints.search(kind="rep_replied")
    assert handoff is not None and (handoff.status, handoff.rep_id) == ("claimed", 1)  # still hers
    assert [(t.actor, t.details["rep_id"]) for t in replied] == [("operator", 1), ("operator", 2)]
    assert not office.may_reply(olga, replace(handoff, rep_id=2))
    assert not office.may_reply(olga, replace(handoff, status="queued", rep_id=None))
    assert office.may_reply(boris, replace(handoff, status="queued", rep_id=None))
    assert not office.may_reply(boris, replace(handoff, status="closed"))


async def test_a_lead_step_is_the_operators_and_only_the_owners_or_a_managers(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM, on_duty=False)
    await waiting_lead(bot.customer("zoe"))  # offered to Olga, not accepted
    olga, boris = await rep(bot, 1), await rep(bot, 2)

    async def note(person: Rep) -> lead_desk.Step | None:
        async with bot.database.transaction() as uow:
            ctx = bot.services.context(uow)
            step = await office.lead_step(
                ctx,
                1,
                person,
                lambda c, lead, r, now: lead_desk.note(c, lead, r, "hi", now),
                bot.clock(),
            )
            await uow.commit()
        return step

    assert await note(olga) is None  # offered, not hers yet
    assert await note(boris) is None
    async with bot.database.transaction() as uow:
        await uow.leads.assign(1, 1, bot.clock())
        await uow.commit()
    step = await note(olga)
    assert step is not None
    assert [(e.kind, e.actor, e.details["rep_id"]) for e in step.events] == [
        ("lead_noted", "operator", 1)
    ]


async def test_a_manager_assigns_a_waiting_lead_and_its_first_contact_clock_starts(
    bot: BotHarness,
) -> None:
    zoe = bot.customer("zoe")
    await waiting_lead(zoe)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM, role="manager", on_duty=False)
    olga, boris = await rep(bot, 1), await rep(bot, 2)

    async def assign(turn: Turn, ctx: Context) -> Result | None:
        return await office.assign(turn, ctx, 1, olga, boris)

    assert await as_operator(bot, 1, assign)
    assert not await as_operator(bot, 1, assign)  # hers already: nothing recorded
    await bot.deliver()

    assert zoe.channel.texts_to("zoe")[-1].startswith(
        "Olga from our sales team now has your request No. 1"
    )
    [card] = bot.channels["telegram"].texts_to(OLGA_TELEGRAM)
    assert card.startswith("Lead #1 is yours now: a manager gave it to you\nZoe")
    [lead] = await bot.leads()
    assert (lead.status, lead.owner_rep_id) == ("new", 1)
    async with bot.database.transaction() as uow:
        assert "lead_sla" in [timer.kind for timer in await uow.timers.pending()]
        [assigned] = await uow.touchpoints.search(kind="lead_assigned")
    assert (assigned.actor, assigned.conversation_id) == ("operator", 1)
    assert assigned.details == {"lead_id": 1, "rep_id": 1, "from_rep_id": None, "by_rep_id": 2}
