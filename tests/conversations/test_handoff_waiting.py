"""A hand-off that waits, as transcripts: nobody takes it in time (HANDOFF_QUEUE_MINUTES), what
the customer wrote meanwhile reaches the rep who claims, and a manager's assignment is told to
the customer only once the card reached the rep."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.bootstrap import build_services
from bot.kinds import Actor
from bot.model import PermanentSendError
from bot.records import Handoff
from bot.settings import Settings
from bot.turn import Context, Result, Turn
from handlers.assignment import reassign
from storage.uow import Database
from tests.conversations.test_handoff import conversation_id_of, kinds_of
from tests.conversations.test_nobody_available import PASSED_ON, PASSED_ON_RU
from tests.conversations.test_rep_handoff import BORIS_TELEGRAM, OLGA_TELEGRAM, add_rep, last_to
from tests.harness import BotHarness, FakeClock

REQUESTED = (
    "I'm passing your conversation to a person from our team. They will answer right here; "
    "anything you write meanwhile is kept for them. /cancel brings you back to me."
)
TIMED_OUT = (
    "I'm sorry: nobody from our team could take your conversation yet. If you like, write your "
    "message here and I'll pass it on to the team with a request number, so nothing is lost. "
    "Or /cancel to carry on with me."
)
TIMED_OUT_RU = (
    "Извините: пока никто из команды не смог взять ваш разговор. Если хотите, напишите "
    "сообщение здесь, и я передам его команде с номером заявки — ничего не потеряется. "
    "Или /cancel, чтобы продолжить со мной."
)
NO_LONGER_WAITING = (
    "Conversation #1 is no longer waiting: nobody took it in time, and the customer was "
    "offered to leave a message for the team."
)
JOINED = "{name} from our team has joined and will answer you here."


async def the_handoff(bot: BotHarness) -> Handoff:
    async with bot.database.transaction() as uow:
        [handoff] = await uow.handoffs.search()
    return handoff


async def pass_time(bot: BotHarness, **delta: float) -> None:
    """Time passes: due timers fire and the relay delivers what they queued."""
    bot.clock.advance(**delta)
    await bot.scheduler.fire_due()
    await bot.deliver()


async def test_a_handoff_nobody_takes_ends_and_the_customer_may_leave_a_message(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    assert await ann.say("I want to talk to a human") == [REQUESTED]
    assert last_to(olga).text.startswith("New conversation #1 for you")

    await pass_time(bot, minutes=3)  # Olga's claim deadline: nobody else, it waits in the queue
    assert (await the_handoff(bot)).status == "queued"
    await pass_time(bot, minutes=26)
    assert ann.channel.texts_to("1001") == [REQUESTED]  # 29 minutes: still waiting

    await pass_time(bot, minutes=1)
    assert ann.channel.texts_to("1001")[-1] == TIMED_OUT
    assert last_to(ann).options[0].data == "cancel"
    assert last_to(olga).text == NO_LONGER_WAITING
    assert (await the_handoff(bot)).status == "timed_out"

    [told] = await ann.say("Please call me back about the 40 desks, +49 30 1234567")
    assert told == PASSED_ON.format(number=1001)
    [ticket] = await bot.tickets()
    assert (ticket.number, ticket.category) == (1001, "message")
    assert await bot.state_of(ann) == ("idle", None)
    kinds = await kinds_of(bot, ann)
    assert kinds[kinds.index("handoff_timed_out") :] == [
        "handoff_timed_out",
        "message_out",
        "message_in",
        "ticket_opened",
        "message_passed_on",
        "message_out",
    ]
    # Olga learns nothing more, and the timer never fires again.
    await pass_time(bot, hours=2)
    assert last_to(olga).text == NO_LONGER_WAITING


async def test_in_russian_the_timeout_is_said_in_russian(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    ivan = bot.customer("2002", channel="telegram", name="Иван")
    await ivan.say("Позовите оператора, пожалуйста")
    await ivan.say("Мне нужно 20 ноутбуков до пятницы")  # kept for the card while it waits

    await pass_time(bot, minutes=30)

    assert ivan.channel.texts_to("2002")[-1] == TIMED_OUT_RU
    assert await ivan.say("Перезвоните мне завтра утром") == [PASSED_ON_RU.format(number=1001)]
    assert (await the_handoff(bot)).status == "timed_out"


async def test_a_claimed_handoff_does_not_time_out(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await ann.say("/human")
    await olga.press("claim:1")

    await pass_time(bot, minutes=45)

    assert TIMED_OUT not in ann.channel.texts_to("1001")
    assert "handoff_timed_out" not in await kinds_of(bot, ann)
    assert (await the_handoff(bot)).status == "claimed"


async def test_a_cancelled_wait_does_not_time_out_later(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("/human")
    await ann.say("/cancel")
    sent = list(ann.channel.texts_to("1001"))

    await pass_time(bot, minutes=31)

    assert ann.channel.texts_to("1001") == sent
    assert (await the_handoff(bot)).status == "cancelled"


async def test_the_rep_who_claims_gets_what_the_customer_wrote_after_the_card(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann Lee")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await ann.say("I'd like a quote for standing desks")
    await ann.say("I want to talk to a human")
    card = last_to(olga)
    assert "Ann Lee" in card.text

    bot.clock.advance(seconds=20)
    await ann.say("It's 40 desks for Berlin")
    await ann.say("/help")  # a command to the bot, not words for the rep
    await ann.attach("photo")
    await ann.say("Delivery by Friday, please")
    assert last_to(olga) == card  # nothing is relayed before the claim

    await olga.press("claim:1")

    after_claim = olga.channel.sent[olga.channel.sent.index(card) + 1 :]
    to_olga = [m for m in after_claim if m.address.value == OLGA_TELEGRAM]
    assert [m.text for m in to_olga] == [
        "Conversation #1 is yours. Reply to the customer's messages here, or /r 1 text. "
        "/close 1 when done, /return 1 to give it back to the bot.",
        "#1 Ann Lee wrote while waiting (3):\n"
        "- It's 40 desks for Berlin\n- [file]\n- Delivery by Friday, please",
        "#1 Ann Lee: [file]",
    ]
    assert to_olga[2].forward is not None  # the photo itself is copied to her chat
    assert ann.channel.texts_to("1001")[-1] == JOINED.format(name="Olga")


async def test_in_russian_the_rep_gets_the_waiting_messages_too(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, languages=("ru", "en"))
    ivan = bot.customer("2002", channel="telegram", name="Иван")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await ivan.say("Позовите оператора")
    bot.clock.advance(seconds=5)
    await ivan.say("Нужны 20 ноутбуков")

    await olga.press("claim:1")

    assert olga.channel.texts_to(OLGA_TELEGRAM)[-1] == (
        "#1 Иван написал(а), пока ждал(а) (1):\n- Нужны 20 ноутбуков"
    )
    assert ivan.channel.texts_to("2002")[-1] == (
        "К разговору подключился(ась) Olga из нашей команды и ответит вам здесь."
    )


async def assign(bot: BotHarness, handoff_id: int, rep_id: int) -> bool:
    """What `touchpoint handoffs assign` does: a system turn of the customer's conversation."""
    async with bot.database.transaction() as uow:
        handoff = await uow.handoffs.get(handoff_id)
        rep = await uow.reps.get(rep_id)
    assert handoff is not None and rep is not None

    async def action(turn: Turn, ctx: Context) -> Result | None:
        return await reassign(ctx, handoff, turn.conversation, rep, turn.now, actor=Actor.OPERATOR)

    return await bot.dispatcher.system_turn(handoff.conversation_id, action)


async def test_the_customer_hears_of_an_assigned_rep_only_once_the_card_was_sent(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    boris_id = await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM, on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    boris = bot.customer(BORIS_TELEGRAM, channel="telegram")
    await ann.say("/human")
    waiting = list(ann.channel.texts_to("1001"))

    assert await assign(bot, 1, boris_id)
    await pass_time(bot, seconds=5)  # the card is not sent yet: nothing said, looked at again
    assert ann.channel.texts_to("1001") == waiting
    assert last_to(boris).text.startswith("New conversation #1 for you")  # sent just now
    await pass_time(bot, seconds=10)

    assert ann.channel.texts_to("1001") == [*waiting, JOINED.format(name="Boris")]
    await pass_time(bot, minutes=10)  # said once
    assert ann.channel.texts_to("1001") == [*waiting, JOINED.format(name="Boris")]
    assert (await the_handoff(bot)).status == "claimed"


async def test_an_assigned_card_that_fails_undoes_the_assignment_and_tells_the_managers(
    bot: BotHarness,
) -> None:
    boris_id = await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM, on_duty=False)
    mia_id = await add_rep(bot, "Mia", telegram="4444", role="manager", on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    mia = bot.customer("4444", channel="telegram")
    await ann.say("/human")
    waiting = list(ann.channel.texts_to("1001"))

    ann.channel.failures.append(PermanentSendError("403 Forbidden: bot was blocked by the user"))
    assert await assign(bot, 1, boris_id)
    await bot.deliver()  # Boris's card fails for good
    await pass_time(bot, seconds=5)

    assert ann.channel.texts_to("1001") == waiting  # never told that Boris joined
    told, card = mia.channel.texts_to("4444")[-2:]
    assert told == (
        "Conversation #1 could not be given to Boris: the card did not reach them. "
        "The assignment is undone and the conversation waits for a rep again."
    )
    assert card.startswith("New conversation #1 for you")  # offered on: Boris had it already
    handoff = await the_handoff(bot)
    assert (handoff.status, handoff.rep_id, handoff.offered_to) == (
        "offered",
        mia_id,
        (boris_id, mia_id),
    )
    assert "assignment_failed" in await kinds_of(bot, ann)
    # It still ends honestly if nobody takes it.
    await pass_time(bot, minutes=30)
    assert ann.channel.texts_to("1001")[-1] == TIMED_OUT
    assert await conversation_id_of(bot, ann) == handoff.conversation_id


async def test_out_of_hours_the_wait_is_counted_from_the_reps_next_opening(
    database: Database, clock: FakeClock
) -> None:
    settings = Settings(_env_file=None, timezone="UTC", rep_hours="09:00-18:00")
    bot = BotHarness(database, clock, build_services(settings))
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    clock.now = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # Monday evening: reps are gone
    [queued] = await ann.say("/human")
    assert "from 2026-03-03 09:00" in queued

    clock.now = datetime(2026, 3, 3, 9, 29, tzinfo=UTC)
    await pass_time(bot)
    assert ann.channel.texts_to("1001") == [queued]
    await pass_time(bot, minutes=1)  # half an hour after the reps' opening
    assert ann.channel.texts_to("1001") == [queued, TIMED_OUT]
