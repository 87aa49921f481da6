"""Hand-off to a person, as transcripts: asking for one while the team is off duty, what the
customer hears while the hand-off waits, and the bot taking over again when it ends.

With no rep at all see test_nobody_available.py; the rep's side, test_rep_handoff.py.
"""

from __future__ import annotations

import pytest

from bot.kinds import Actor
from bot.records import Handoff
from bot.turn import Context, Result, Turn
from handlers import handoff
from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness, Customer

QUEUED = (
    "I'm passing your conversation to our team. Nobody is free this very moment, but a person "
    "will answer right here as soon as someone is. You can keep writing: your messages are "
    "kept for them. /cancel stops waiting and brings you back to me."
)
QUEUED_RU = (
    "Передаю ваш разговор нашей команде. Прямо сейчас все заняты, но сотрудник ответит здесь, "
    "как только освободится. Можете писать и дальше: сообщения сохранятся для него. "
    "/cancel — перестать ждать и вернуться ко мне."
)
STILL_WAITING = (
    "You're waiting for a person from our team; what you write here is kept for them. "
    "/cancel stops waiting and brings you back to me."
)
HELP = (
    "Here is what I can do:\n- prepare an offer or a quote (say what you need)\n"
    '- open a service request and tell you its status ("status #1042")\n'
    "- connect you with a person (/human)\nYou can stop any question with /cancel."
)
AFTER_MISSES = "I'm sorry I couldn't help. I'm passing your conversation to a person from our team; they will answer right here."
NOT_UNDERSTOOD = "Sorry, I didn't quite get that. Please choose one of the options or describe what you need in a few words."
CLOSED = "Our team has closed this conversation. If you need anything else, just write — I'm here."
MENU = ["menu:lead", "menu:service", "menu:status", "menu:human"]


@pytest.fixture
async def bot(bot: BotHarness) -> BotHarness:
    """The bot with one rep registered, off duty: a hand-off opens and waits for her."""
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    return bot


async def rep_on_duty(bot: BotHarness) -> None:
    async with bot.database.transaction() as uow:
        [olga] = await uow.reps.search()
        await uow.reps.update(olga.id, on_duty=True)
        await uow.commit()


async def handoffs(bot: BotHarness) -> list[Handoff]:
    async with bot.database.transaction() as uow:
        return await uow.handoffs.search()


async def kinds_of(bot: BotHarness, customer: Customer) -> list[str]:
    """The customer's touchpoints in order, without the relay's delivery receipts."""
    async with bot.database.transaction() as uow:
        contact_id = await uow.contacts.owner_of(customer.address.channel, customer.address.value)
    assert contact_id is not None
    return [kind for kind in await bot.kinds(contact_id) if kind != "delivered"]


async def inbound_texts(bot: BotHarness, customer: Customer) -> list[str]:
    conversation_id = await conversation_id_of(bot, customer)
    async with bot.database.transaction() as uow:
        stored = await uow.messages.recent(conversation_id, limit=100)
    return [text for direction, text in stored if direction == "in"]


async def conversation_id_of(bot: BotHarness, customer: Customer) -> int:
    async with bot.database.transaction() as uow:
        conversation = await uow.conversations.find(
            customer.address.channel, customer.address.value
        )
    assert conversation is not None
    return conversation.id


async def finish(
    bot: BotHarness, customer: Customer, *, returned: bool, actor: Actor = Actor.OPERATOR
) -> bool:
    """What `touchpoint handoffs close` (or a rep handing back) does: a system turn."""

    async def action(turn: Turn, ctx: Context) -> Result | None:
        return await handoff.finish(turn, ctx, returned=returned, summary="done", actor=actor)

    finished = await bot.dispatcher.system_turn(await conversation_id_of(bot, customer), action)
    await bot.deliver()
    return finished


async def actors_of(bot: BotHarness, customer: Customer, kind: str) -> list[str]:
    conversation_id = await conversation_id_of(bot, customer)
    async with bot.database.transaction() as uow:
        found = await uow.touchpoints.search(conversation_id=conversation_id, kind=kind)
    return [touchpoint.actor for touchpoint in found]


def said_to(bot: BotHarness, customer: Customer) -> list[str]:
    return bot.channels[customer.address.channel].texts_to(customer.address.value)


# --- asking for a person ------------------------------------------------------------------


async def test_the_human_command_opens_one_queued_handoff(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await alice.say("/human") == [QUEUED]

    [opened] = await handoffs(bot)
    assert (opened.status, opened.reason) == ("queued", "customer_asked")
    assert opened.conversation_id == await conversation_id_of(bot, alice)
    assert await bot.state_of(alice) == ("handoff", None)
    assert await kinds_of(bot, alice) == [
        "message_in",
        "handoff_requested",
        "handoff_queued",  # nobody is on duty: it waits for the first rep online
        "message_out",
    ]


async def test_asking_for_a_real_person_in_words_hands_over(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await alice.say("I'd like to speak to a real person") == [QUEUED]

    [opened] = await handoffs(bot)
    assert (opened.status, opened.reason) == ("queued", "customer_asked")


async def test_asking_for_an_operator_in_russian_gets_a_russian_holding_message(
    bot: BotHarness,
) -> None:
    ivan = bot.customer("ivan")

    assert await ivan.say("Хочу поговорить с оператором") == [QUEUED_RU]

    [opened] = await handoffs(bot)
    assert opened.status == "queued"


async def test_the_talk_to_a_person_button_hands_over(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("hello")

    assert await alice.press("menu:human") == [QUEUED]
    assert len(await handoffs(bot)) == 1
    assert await bot.state_of(alice) == ("handoff", None)


async def test_asking_for_a_person_in_the_middle_of_a_lead_hands_over(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("/lead")
    await alice.say("Forty standing desks for our new office in Leeds")

    assert await alice.say("I'd like to speak to a real person") == [QUEUED]
    assert await bot.state_of(alice) == ("handoff", None)
    assert await bot.leads() == []


# --- while the hand-off waits for a rep -------------------------------------------------------


async def test_every_kind_of_message_is_kept_for_the_team_and_commands_are_answered(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    await alice.say("/human")
    original = alice.message("I want to buy 100 chairs")

    assert await alice.say("Are you still there?") == []  # she was just told it is kept
    assert await alice.say("/help") == [HELP, STILL_WAITING]
    assert await alice.press("menu:lead") == []
    assert await alice.attach("photo") == []
    assert await alice.send(original) == []
    assert await alice.send(alice.message("I want 200 chairs", edit_of=original.external_id)) == []

    assert said_to(bot, alice) == [QUEUED, HELP, STILL_WAITING]
    assert await kinds_of(bot, alice) == [
        "message_in",
        "handoff_requested",
        "handoff_queued",
        "message_out",
        "message_in",
        "customer_waiting",
        "message_in",
        "message_out",
        "message_out",
        *["message_in", "customer_waiting"] * 3,
        "message_edited",
    ]
    # Every message is kept for the rep; the edit changed the stored text of the original.
    assert await inbound_texts(bot, alice) == [
        "/human",
        "Are you still there?",
        "/help",
        "",
        "",
        "I want 200 chairs",
        "I want 200 chairs",
    ]
    assert await bot.leads() == []
    assert await bot.state_of(alice) == ("handoff", None)


async def test_asking_again_does_not_open_a_second_handoff(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("/human")

    assert await alice.say("/human") == [STILL_WAITING]
    assert await alice.say("I'd like to speak to a real person") == []
    assert await alice.press("menu:human") == []

    assert len(await handoffs(bot)) == 1
    assert (await kinds_of(bot, alice)).count("handoff_requested") == 1


async def test_three_misunderstood_messages_in_a_row_hand_over(bot: BotHarness) -> None:
    await rep_on_duty(bot)
    alice = bot.customer("alice")

    assert await alice.say("qwerty uiop") == [NOT_UNDERSTOOD]
    assert alice.last_options() == MENU
    assert await alice.say("zxcv bnm") == [NOT_UNDERSTOOD]
    assert await alice.say("lorem ipsum dolor") == [AFTER_MISSES]

    [opened] = await handoffs(bot)
    assert (opened.status, opened.reason) == ("offered", "repeated_misunderstanding")
    assert await bot.state_of(alice) == ("handoff", None)
    assert await alice.say("hello?") == []


async def test_three_misunderstood_russian_messages_hand_over_in_russian(bot: BotHarness) -> None:
    await rep_on_duty(bot)
    ivan = bot.customer("ivan")

    await ivan.say("фывапролдж")
    await ivan.say("ячсмитьбю йцукен")

    assert await ivan.say("абырвалг абырвалг") == [
        "Извините, что не смог помочь. Передаю ваш разговор сотруднику — он ответит прямо здесь."
    ]
    [opened] = await handoffs(bot)
    assert opened.reason == "repeated_misunderstanding"


async def test_an_understood_message_breaks_the_streak_of_misses(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("qwerty uiop")
    await alice.say("zxcv bnm")

    assert (await alice.say("hello"))[0].startswith("Hello!")
    assert await alice.say("lorem ipsum dolor") == [NOT_UNDERSTOOD]
    assert await handoffs(bot) == []


# --- the hand-off ends --------------------------------------------------------------------


async def test_after_the_team_closes_the_bot_answers_again(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("/human")
    await alice.say("Are you still there?")

    assert await finish(bot, alice, returned=False)

    assert said_to(bot, alice)[-1] == CLOSED
    [closed] = await handoffs(bot)
    assert (closed.status, closed.summary) == ("closed", "done")
    assert closed.closed_at == bot.clock.now
    assert (await kinds_of(bot, alice))[-2:] == ["closed", "message_out"]
    assert await actors_of(bot, alice, "closed") == ["operator"]
    assert await bot.state_of(alice) == ("idle", None)
    assert (await alice.say("hello"))[0].startswith("Hello!")


async def test_the_closing_message_is_in_the_customers_language(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("Хочу поговорить с оператором")
    await ivan.say("Вы ещё здесь?")

    await finish(bot, ivan, returned=False)

    assert said_to(bot, ivan)[-1] == (
        "Сотрудник завершил разговор. Если понадобится что-то ещё, просто напишите — я на связи."
    )
    assert (await ivan.say("привет"))[0].startswith("Здравствуйте!")


async def test_a_conversation_handed_back_is_returned_to_the_bot(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.press("menu:human")

    await finish(bot, alice, returned=True, actor=Actor.REP)

    assert said_to(bot, alice)[-1] == "You're back with the assistant. How can I help?"
    [returned] = await handoffs(bot)
    assert returned.status == "returned"
    assert (await kinds_of(bot, alice))[-2:] == ["returned_to_bot", "message_out"]
    assert await actors_of(bot, alice, "returned_to_bot") == ["rep"]
    assert await alice.say("/help") != []


async def test_closing_twice_changes_nothing_the_second_time(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("/human")
    await finish(bot, alice, returned=False)
    before = await kinds_of(bot, alice)

    assert not await finish(bot, alice, returned=False)

    assert await kinds_of(bot, alice) == before
    assert said_to(bot, alice).count(CLOSED) == 1


async def test_a_handoff_ended_elsewhere_no_longer_silences_the_bot(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("/human")
    async with bot.database.transaction() as uow:
        [opened] = await uow.handoffs.search()
        await uow.handoffs.finish(opened.id, "closed", None, bot.clock.now)
        await uow.commit()

    replies = await alice.say("hello")

    assert replies[0].startswith("Hello!")
    assert await bot.state_of(alice) == ("idle", None)
