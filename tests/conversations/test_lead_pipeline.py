"""The lead pipeline as transcripts: every lead reaches a rep, is accepted, worked and watched.

A lead's card goes to a rep on duty; Accept makes it theirs and tells the customer who has it;
the rep notes, sets a next step (reminded when due), moves it through the stages and writes to
the customer through the bot; the first contact is recorded with its speed-to-lead. Unaccepted
cards go to the next rep, then the managers; a lead nobody contacts goes to the managers once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.bootstrap import build_services
from bot.settings import Settings
from storage.tables import timers, touchpoint_figures
from storage.uow import Database
from tests.conversations.test_rep_handoff import BORIS_TELEGRAM, OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness, Customer, FakeClock

MANAGER_TELEGRAM = "4444"
ANN_OPENER = (
    "I'm Ann Lee from Northwind, ann@northwind.example, we need 40 standing desks, "
    "budget about 20000 EUR, by May"
)
IVAN_OPENER = (
    "Здравствуйте, я Иван Петров из компании Ромашка, ivan@romashka.example, нужны 5 "
    "кофемашин для офиса, бюджет около 300 тысяч рублей, к маю"
)


def sales_bot(database: Database, clock: FakeClock, **settings: Any) -> BotHarness:
    """A bot whose leads stay with the bot (no hot-lead hand-off), so the pipeline alone acts."""
    settings.setdefault("timezone", "UTC")
    services = build_services(Settings(_env_file=None, hot_lead_score=101, **settings))
    return BotHarness(database, clock, services)


async def leave_lead(customer: Customer, opener: str) -> list[str]:
    await customer.say(opener)
    return await customer.press("lead:confirm")


async def touchpoints(bot: BotHarness, kind: str) -> list[dict[str, Any]]:
    async with bot.database.transaction() as uow:
        return [dict(t.details) for t in await uow.touchpoints.search(kind=kind, limit=1000)]


def texts_to(bot: BotHarness, address: str) -> list[str]:
    return bot.channels["telegram"].texts_to(address)


async def test_a_lead_card_is_accepted_worked_and_won(database: Database, clock: FakeClock) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram", name="Olga")
    ann = bot.customer("1001", channel="telegram", name="Ann")

    assert await leave_lead(ann, ANN_OPENER) == [
        "Thank you, Ann Lee! Your request No. 1 is with our sales team. A sales rep will "
        "contact you within 1 hour."
    ]
    [card] = texts_to(bot, OLGA_TELEGRAM)
    assert card.startswith("New lead #1 for you\nAnn Lee · Northwind · telegram · en\n")
    assert "Wants: we need 40 standing desks\nContact: ann@northwind.example" in card
    assert olga.last_options() == ["accept:1"]

    clock.advance(minutes=4)
    assert await olga.press("accept:1") == [
        "Lead #1 is yours. /msg 1 text writes to the customer; /note, /next and /stage keep "
        "it moving (/help)."
    ]
    assert texts_to(bot, "1001")[-1] == (
        "Olga from our sales team now has your request No. 1 and will contact you within 1 hour."
    )
    [accepted] = await touchpoints(bot, "lead_accepted")
    assert accepted["latency"] == 240.0

    assert await olga.say("/note 1 Wants delivery to Berlin, ask about assembly") == [
        "Note added to lead #1."
    ]
    assert await olga.say("/next 1 +2h send the offer") == [
        "Lead #1: next step at 2026-03-02 11:04 UTC: send the offer. I'll remind you."
    ]
    assert await olga.say("/stage 1 qualified") == ["Lead #1 is qualified."]
    assert await olga.say("/stage 1 lost") == ["Say why it was lost: /stage 1 lost the reason"]

    clock.advance(hours=2)
    assert await bot.scheduler.fire_due() >= 1
    await bot.deliver()
    assert texts_to(bot, OLGA_TELEGRAM)[-1] == "Reminder, lead #1: send the offer"

    assert await olga.say("/stage 1 won") == ["Lead #1 is won."]
    [lead] = await bot.leads()
    assert (lead.status, lead.owner_rep_id is not None) == ("won", True)
    assert lead.closed_at is not None and lead.contacted_at is not None
    [note] = await bot.lead_notes(lead.id)
    assert note.text == "Wants delivery to Berlin, ask about assembly"
    # A stage past `new` means the rep reached the customer: the first contact, timed.
    [contacted] = await touchpoints(bot, "lead_contacted")
    assert (contacted["via"], contacted["latency"]) == ("stage", 240.0)
    stages = [(t["from"], t["to"]) for t in await touchpoints(bot, "lead_status_changed")]
    assert stages == [("new", "qualified"), ("qualified", "won")]
    # Everything happened on the customer's timeline.
    kinds = await bot.kinds(lead.contact_id)
    for kind in ("lead_offered", "lead_accepted", "lead_noted", "lead_next_step_set"):
        assert kind in kinds


async def test_a_russian_rep_writes_to_the_customer_and_hears_the_answer(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Ольга", telegram=OLGA_TELEGRAM, languages=("ru",))
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram", name="Ольга")
    ivan = bot.customer("2002", channel="telegram", name="Иван")

    assert await leave_lead(ivan, IVAN_OPENER) == [
        "Спасибо, Иван Петров! Ваша заявка № 1 передана в отдел продаж. Менеджер свяжется с "
        "вами в течение 1 ч."
    ]
    assert texts_to(bot, OLGA_TELEGRAM)[-1].startswith("Новая заявка #1 для вас\nИван Петров")
    assert await olga.say("/accept 1") == [
        "Заявка #1 ваша. /msg 1 текст — написать клиенту; /note, /next и /stage — вести её "
        "дальше (/help)."
    ]
    assert texts_to(bot, "2002")[-1] == (
        "Вашей заявкой № 1 занимается Ольга из отдела продаж и свяжется с вами в течение 1 ч."
    )

    clock.advance(minutes=7)
    told = await olga.say("/msg 1 Добрый день! Подойдут ли вам кофемашины Jura E8?")
    assert told == [
        "Отправлено клиенту заявки #1. Его ответы придут вам сюда (разговор #1): отвечайте на "
        "них, /r 1 текст, /close 1 — завершить."
    ]
    assert texts_to(bot, "2002")[-2:] == [
        "Ольга из отдела продаж, по вашей заявке № 1:",
        "Добрый день! Подойдут ли вам кофемашины Jura E8?",
    ]
    [contacted] = await touchpoints(bot, "lead_contacted")
    assert (contacted["via"], contacted["latency"]) == ("message", 420.0)

    # The customer's answer comes back to the rep, and the bot says nothing of its own.
    assert await ivan.say("Да, подойдут, нужна доставка в Казань") == []
    assert "Да, подойдут, нужна доставка в Казань" in texts_to(bot, OLGA_TELEGRAM)[-1]
    [lead] = await bot.leads()
    assert lead.status == "contacted"


async def test_an_unaccepted_card_goes_to_the_next_rep_then_the_managers(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM)
    await add_rep(bot, "Mia", telegram=MANAGER_TELEGRAM, role="manager", on_duty=False)
    await leave_lead(bot.customer("1001", channel="telegram", name="Ann"), ANN_OPENER)
    first, second = (
        (OLGA_TELEGRAM, BORIS_TELEGRAM)
        if texts_to(bot, OLGA_TELEGRAM)
        else (BORIS_TELEGRAM, OLGA_TELEGRAM)
    )

    bot.restart()  # the deadline is a row, not a timer in memory
    clock.advance(minutes=11)
    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()
    assert texts_to(bot, second)[-1].startswith("New lead #1 for you")
    # The first rep's card is no longer theirs to accept.
    assert await bot.customer(first, channel="telegram").press("accept:1") == [
        "Lead #1 is not offered to you."
    ]

    clock.advance(minutes=11)
    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()
    assert texts_to(bot, MANAGER_TELEGRAM)[-1].startswith("Lead #1: nobody accepted it in time")
    mia = bot.customer(MANAGER_TELEGRAM, channel="telegram", name="Mia")
    assert (await mia.press("accept:1"))[0].startswith("Lead #1 is yours.")
    assert texts_to(bot, second)[-1] == "Lead #1 was accepted by Mia."
    kinds = await bot.kinds()
    assert kinds.count("lead_accept_expired") == 2 and kinds.count("lead_escalated") == 1


async def test_a_lead_nobody_contacts_goes_to_the_managers_once(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock, lead_sla_minutes=30)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Mia", telegram=MANAGER_TELEGRAM, role="manager", on_duty=False)
    await leave_lead(bot.customer("1001", channel="telegram", name="Ann"), ANN_OPENER)
    await bot.customer(OLGA_TELEGRAM, channel="telegram").press("accept:1")

    clock.advance(minutes=31)
    bot.restart()
    assert await bot.scheduler.fire_due() == 2  # Olga's acceptance deadline (past) and this
    await bot.deliver()
    alert = texts_to(bot, MANAGER_TELEGRAM)[-1]
    assert alert.startswith("Lead #1: nobody has contacted the customer yet (owner: Olga)")
    assert "Accept" not in alert  # it has an owner: the manager is told, not offered it
    clock.advance(hours=5)
    assert await bot.scheduler.fire_due() == 0
    [escalated] = await touchpoints(bot, "lead_escalated")
    assert escalated["reason"] == "no_first_contact"


async def test_a_lead_contacted_in_time_is_not_escalated(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock, lead_sla_minutes=30)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Mia", telegram=MANAGER_TELEGRAM, role="manager", on_duty=False)
    await leave_lead(bot.customer("1001", channel="telegram", name="Ann"), ANN_OPENER)
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await olga.press("accept:1")
    await olga.say("/stage 1 contacted")  # she phoned
    clock.advance(minutes=31)
    await bot.scheduler.fire_due()
    await bot.deliver()
    assert texts_to(bot, MANAGER_TELEGRAM) == []
    assert await touchpoints(bot, "lead_escalated") == []


async def test_with_nobody_on_duty_the_lead_waits_for_the_first_rep_online(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    assert await leave_lead(ann, ANN_OPENER) == [
        "Thank you, Ann Lee! Your request No. 1 is with our sales team. Nobody from our sales "
        "team is online right now; a sales rep will contact you as soon as one is."
    ]
    assert texts_to(bot, OLGA_TELEGRAM) == []
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await olga.say("/online")
    assert texts_to(bot, OLGA_TELEGRAM)[-1].startswith("New lead #1 for you")


async def test_after_hours_the_customer_is_told_when_the_team_is_back(
    database: Database, clock: FakeClock
) -> None:
    # The clock reads Monday 09:00 UTC, 10:00 in Berlin; the team starts at 11:00 there.
    bot = sales_bot(database, clock, rep_hours="11:00-18:00", timezone="Europe/Berlin")
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    [told] = await leave_lead(ann, ANN_OPENER)
    assert told.endswith(
        "Our team is offline now and back at 2026-03-02 11:00 CET; a sales rep will contact you "
        "then."
    )
    # The first-contact clock starts when the team is back, not at night.
    clock.advance(hours=1, minutes=30)
    await bot.scheduler.fire_due()
    assert await touchpoints(bot, "lead_escalated") == []


async def test_a_returning_contact_extends_the_open_lead_and_its_owner_hears(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await leave_lead(ann, ANN_OPENER)
    await bot.customer(OLGA_TELEGRAM, channel="telegram").press("accept:1")

    await ann.say("We also need 40 monitor arms")
    await ann.press("lead:skip")  # her name, company and email are known; no budget again
    [added] = await ann.press("lead:confirm")
    assert added == (
        "Thank you, Ann Lee! I've added this to your request No. 1, which our sales team is "
        "already working on. Olga has it and will get back to you."
    )
    assert texts_to(bot, OLGA_TELEGRAM)[-1].startswith(
        "Lead #1: the customer wrote again:\nWe also need 40 monitor arms"
    )
    [lead] = await bot.leads()
    assert [n.text for n in await bot.lead_notes(lead.id)] == ["We also need 40 monitor arms"]
    assert "lead_extended" in await bot.kinds()


async def test_a_won_lead_is_closed_so_the_next_request_is_a_new_lead(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await leave_lead(ann, ANN_OPENER)
    await olga.press("accept:1")
    await olga.say("/stage 1 won")
    await ann.say("We also need 40 monitor arms")
    await ann.press("lead:skip")
    [saved] = await ann.press("lead:confirm")
    assert saved.startswith("Thank you, Ann Lee! Your request No. 2 is with our sales team.")
    assert len(await bot.leads()) == 2


async def test_only_the_owner_or_a_manager_works_a_lead(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM, on_duty=False)
    await add_rep(bot, "Mia", telegram=MANAGER_TELEGRAM, role="manager", on_duty=False)
    await leave_lead(bot.customer("1001", channel="telegram", name="Ann"), ANN_OPENER)
    boris = bot.customer(BORIS_TELEGRAM, channel="telegram")
    assert await boris.say("/accept 1") == ["Lead #1 is not offered to you."]
    await bot.customer(OLGA_TELEGRAM, channel="telegram").press("accept:1")
    assert await boris.say("/note 1 mine now") == ["Lead #1 is not yours."]
    assert await boris.say("/stage 7 won") == ["There is no lead #7."]
    mia = bot.customer(MANAGER_TELEGRAM, channel="telegram")
    assert await mia.say("/note 1 checked the budget with finance") == ["Note added to lead #1."]
    assert (await mia.say("/leads")) == ["You have no open leads."]
    [listed] = await bot.customer(OLGA_TELEGRAM, channel="telegram").say("/leads")
    assert listed.startswith("Your open leads:\n#1 [new] Ann Lee · Northwind: we need 40")


async def test_a_rep_who_takes_a_hot_leads_conversation_owns_the_lead(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await leave_lead(ann, ANN_OPENER)
    await ann.say("/human")
    await olga.press("claim:1")
    clock.advance(minutes=2)
    await olga.say("/r 1 Hello Ann, Olga here. Which desk model do you have in mind?")
    [lead] = await bot.leads()
    assert lead.owner_rep_id is not None and lead.status == "contacted"
    [contacted] = await touchpoints(bot, "lead_contacted")
    assert (contacted["via"], contacted["latency"]) == ("conversation", 120.0)


async def test_russian_after_hours_promise_and_an_extended_lead(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock, rep_hours="11:00-18:00", timezone="Europe/Moscow")
    await add_rep(bot, "Ольга", telegram=OLGA_TELEGRAM, languages=("ru",))
    ivan = bot.customer("2002", channel="telegram", name="Иван")
    # Monday 09:00 UTC is 12:00 in Moscow: the team is in, and Olga has the card.
    [saved] = await leave_lead(ivan, IVAN_OPENER)
    assert saved.endswith("Менеджер свяжется с вами в течение 1 ч.")
    clock.advance(hours=7)  # 19:00 in Moscow: the team has gone home
    await ivan.say("Ещё нужны 2 кулера для воды")
    await ivan.press("lead:skip")
    [added] = await ivan.press("lead:confirm")
    assert added == (
        "Спасибо, Иван Петров! Я добавил это к вашей заявке № 1, которой уже занимается отдел "
        "продаж. Сейчас команда не работает и вернётся 2026-03-03 11:00 MSK; тогда менеджер с "
        "вами и свяжется."
    )
    assert texts_to(bot, OLGA_TELEGRAM)[-1] == (
        "Заявка #1: клиент написал снова:\nЕщё нужны 2 кулера для воды"
    )


async def test_a_russian_manager_hears_of_a_lead_nobody_accepted(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await add_rep(bot, "Ольга", telegram=OLGA_TELEGRAM, languages=("ru",))
    await add_rep(
        bot, "Мария", telegram=MANAGER_TELEGRAM, languages=("ru",), role="manager", on_duty=False
    )
    await leave_lead(bot.customer("2002", channel="telegram", name="Иван"), IVAN_OPENER)
    clock.advance(minutes=11)
    await bot.scheduler.fire_due()
    await bot.deliver()
    card = texts_to(bot, MANAGER_TELEGRAM)[-1]
    assert card.startswith("Заявка #1: никто не принял её вовремя\nИван Петров · Ромашка")
    assert card.endswith("Нажмите «Принять» (или напишите /accept 1) в течение 10 мин.")
    maria = bot.customer(MANAGER_TELEGRAM, channel="telegram")
    assert (await maria.say("/accept 1"))[0].startswith("Заявка #1 ваша.")
    assert texts_to(bot, OLGA_TELEGRAM)[-1] == "Заявку #1 принял(а) Мария."
    assert texts_to(bot, "2002")[-1] == (
        "Вашей заявкой № 1 занимается Мария из отдела продаж и свяжется с вами в течение 1 ч."
    )


async def test_forgetting_the_customer_erases_what_reps_wrote_about_them(
    database: Database, clock: FakeClock
) -> None:
    """Notes, the next step and its reminder, the lost reason (in the lead and in the
    report's rollup): a rep's words about a person are theirs to have erased too."""
    bot = sales_bot(database, clock)
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram", name="Olga")
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await leave_lead(ann, ANN_OPENER)
    await olga.press("accept:1")
    await olga.say("/note 1 Ann Lee prefers calls after 6pm on +49 30 1234567")
    await olga.say("/next 1 +2h call Ann Lee about the Berlin flat")
    await olga.say("/stage 1 lost Ann Lee moved to a competitor, her husband works there")
    [lead] = await bot.leads()
    contact_id = lead.contact_id
    stages = await figures_of(bot, lead.id)
    assert ("lost", "Ann Lee moved to a competitor, her husband works there") in stages

    async with bot.database.transaction() as uow:
        assert await uow.retention.forget_contact(contact_id)
        await uow.commit()

    [lead] = await bot.leads()
    assert (lead.lost_reason, lead.next_step, lead.status) == (None, None, "lost")
    assert [note.text for note in await bot.lead_notes(lead.id)] == [""]
    assert await figures_of(bot, lead.id) == [(stage, None) for stage, _ in stages]
    async with bot.database.transaction() as uow:
        payloads = (await uow.connection.execute(select(timers.c.payload))).scalars().all()
    assert payloads and all(payload == {} for payload in payloads)


async def figures_of(bot: BotHarness, lead_id: int) -> list[tuple[str | None, str | None]]:
    query = (
        select(touchpoint_figures.c.stage, touchpoint_figures.c.reason)
        .where(touchpoint_figures.c.lead_id == lead_id)
        .order_by(touchpoint_figures.c.id)
    )
    async with bot.database.transaction() as uow:
        return [(stage, reason) for stage, reason in await uow.connection.execute(query)]
