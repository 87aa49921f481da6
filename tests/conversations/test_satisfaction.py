"""How did we do? One rating after a resolved ticket or a closed conversation, in English and
Russian, by button and by mail; a low one opens a follow-up for the managers; an unanswered
question is never asked again."""

from __future__ import annotations

from typing import Any

from bot.turn import Context, Result, Turn
from handlers import service
from storage.uow import Database
from tests.conversations.test_lead_pipeline import MANAGER_TELEGRAM, sales_bot
from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness, Customer, FakeClock

ASK_HANDOFF = (
    "How satisfied are you with the help you got from our team? Please rate it from 1 (poor) "
    "to 5 (excellent)."
)


async def rated(bot: BotHarness) -> list[dict[str, Any]]:
    async with bot.database.transaction() as uow:
        return [dict(t.details) for t in await uow.touchpoints.search(kind="csat_rated")]


async def with_olga_and_closed(bot: BotHarness, customer: Customer, request: str) -> Customer:
    """The customer asks for a person, Olga takes it, answers and closes it."""
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram", name="Olga")
    await customer.say(request)
    await olga.press("claim:1")
    await olga.say("/r 1 Done, your order ships today.")
    await olga.say("/close 1")
    return olga


async def resolve(bot: BotHarness, number: int, rep_id: int) -> None:
    """What `touchpoint tickets set-status N resolved --as REP` does: a turn of the ticket's
    conversation."""
    [ticket] = [t for t in await bot.tickets() if t.number == number]
    assert ticket.conversation_id is not None

    async def action(turn: Turn, ctx: Context) -> Result | None:
        return await service.set_status(turn, ctx, ticket.id, "resolved", rep_id=rep_id)

    assert await bot.dispatcher.system_turn(ticket.conversation_id, action)
    await bot.deliver()


async def test_a_closed_conversation_is_rated_by_button_with_a_comment(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    olga_id = await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await with_olga_and_closed(bot, ann, "/human")
    assert ann.channel.texts_to("1001")[-1] == ASK_HANDOFF
    assert ann.last_options() == ["csat:1", "csat:2", "csat:3", "csat:4", "csat:5"]

    assert await ann.press("csat:5") == [
        "Thank you for your rating! If you'd like to tell us more, just write it in your next "
        "message."
    ]
    assert await ann.say("Olga was quick and friendly") == ["Thank you for your rating!"]
    [rating] = await rated(bot)
    assert rating == {"about": "handoff", "number": 1, "rep_id": olga_id, "rating": 5}
    assert "csat_commented" in await bot.kinds()
    # Asked once: the next message is read as usual.
    assert (await ann.say("thanks"))[0] == "You're welcome! Write any time."


async def test_a_russian_ticket_rated_low_by_mail_opens_a_follow_up_for_the_managers(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    olga_id = await add_rep(bot, "Ольга", telegram=OLGA_TELEGRAM, languages=("ru",))
    await add_rep(bot, "Мария", telegram=MANAGER_TELEGRAM, languages=("ru",), role="manager")
    ivan = bot.customer("ivan@romashka.example", channel="email", name="Иван")
    await ivan.say(
        "Кофемашина пришла сломанной, бак для воды треснул",
        header_id="<i1@romashka.example>", subject="Кофемашина",
    )  # fmt: skip
    await resolve(bot, 1001, olga_id)
    mail = ivan.channel.texts_to("ivan@romashka.example")[-1]  # one mail: the news, the question
    assert mail.startswith("Хорошие новости: ваша заявка #1001 решена.")
    assert mail.endswith(
        "Насколько вы довольны тем, как мы решили заявку #1001? Оцените, пожалуйста, от 1 "
        "(плохо) до 5 (отлично)."
    )

    # By mail there are no buttons: the number written back answers it, with words after it.
    answer = await ivan.say(
        "2 — бак заменили, но ждали две недели",
        header_id="<i2@romashka.example>", subject="Re: Кофемашина",
        in_reply_to=bot.channels["email"].sent[-1].header_id,
    )  # fmt: skip
    assert answer == ["Спасибо за оценку!"]
    [rating] = await rated(bot)
    assert (rating["rating"], rating["about"], rating["number"]) == (2, "ticket", 1001)
    assert rating["comment"] == "бак заменили, но ждали две недели"
    followup = next(t for t in await bot.tickets() if t.category == "feedback")
    assert rating["followup_ticket"] == followup.number
    assert followup.summary == "Rated 2/5: #1001 (Ольга): бак заменили, но ждали две недели"
    told = bot.channels["telegram"].texts_to(MANAGER_TELEGRAM)[-1]
    assert told == (
        f"Низкая оценка 2/5 за #1001 (сотрудник: Ольга). Заявка на разбор #{followup.number}. "
        "Комментарий: бак заменили, но ждали две недели"
    )


async def test_an_unanswered_question_is_not_asked_again(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await with_olga_and_closed(bot, ann, "/human")
    replies = await ann.say("My order 5531 arrived damaged, the armrest is broken")
    assert replies[0].startswith("Your request #1001 is open.")  # read as usual
    assert await ann.say("4") != ["Thank you for your rating!"]  # the question is gone
    assert await rated(bot) == []
    assert (await bot.kinds()).count("csat_asked") == 1


async def test_a_rating_by_typed_words_and_a_returned_conversation(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("ann")  # the terminal: options are numbered, "4/5" answers
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram", name="Olga")
    await ann.say("/human")
    await olga.press("claim:1")
    await olga.say("/return 1 answered the delivery question")
    assert ann.channel.texts_to("ann")[-1] == ASK_HANDOFF
    assert await ann.say("4/5 good") == ["Thank you for your rating!"]
    [rating] = await rated(bot)
    assert (rating["rating"], rating["comment"]) == (4, "good")


async def test_an_english_mail_rating_and_a_russian_button_rating(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    olga_id = await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    kim = bot.customer("kim@initech.example", channel="email", name="Kim")
    await kim.say(
        "My order 5531 arrived damaged, the armrest is broken",
        header_id="<k1@initech.example>", subject="Chairs",
    )  # fmt: skip
    await resolve(bot, 1001, olga_id)
    assert (
        bot.channels["email"]
        .sent[-1]
        .text.endswith(
            "How satisfied are you with how we handled request #1001? Please rate it from 1 (poor) "
            "to 5 (excellent)."
        )
    )
    answer = await kim.say(
        "5\n\nThanks, the new armrest fits.\n\nKim",
        header_id="<k2@initech.example>", subject="Re: Chairs",
        in_reply_to=bot.channels["email"].sent[-1].header_id,
    )  # fmt: skip
    assert answer == ["Thank you for your rating!"]

    ivan = bot.customer("2002", channel="telegram", name="Иван")
    await with_olga_and_closed(bot, ivan, "Позовите оператора, пожалуйста")
    assert ivan.channel.texts_to("2002")[-1] == (
        "Насколько вы довольны помощью нашей команды? Оцените, пожалуйста, от 1 (плохо) до 5 "
        "(отлично)."
    )
    assert await ivan.press("csat:4") == [
        "Спасибо за оценку! Если хотите что-то добавить, просто напишите это следующим сообщением."
    ]
    kim_rating, ivan_rating = await rated(bot)
    assert (kim_rating["rating"], kim_rating["about"], kim_rating["rep_id"]) == (
        5,
        "ticket",
        olga_id,
    )
    assert kim_rating["comment"].startswith("Thanks, the new armrest fits.")
    assert (ivan_rating["rating"], ivan_rating["about"]) == (4, "handoff")
    assert not [t for t in await bot.tickets() if t.category == "feedback"]  # none was low
