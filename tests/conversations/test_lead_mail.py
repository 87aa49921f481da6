"""Leads by email, as transcripts: answers in prose, between the quoted questions, in the thread
after the lead was saved; the contact address the mail asks for."""

from __future__ import annotations

from tests.harness import BotHarness, Customer


async def mail(customer: Customer, text: str, number: int, **fields: object) -> list[str]:
    fields.setdefault("subject", "Dental chairs")
    return await customer.say(text, header_id=f"<g{number}@holm.example>", **fields)


def our_last_mail(bot: BotHarness) -> str | None:
    return bot.channels["email"].sent[-1].header_id


async def test_answers_in_prose_complete_the_lead_in_two_mails(bot: BotHarness) -> None:
    greta = bot.customer("greta@holm.example", channel="email")
    [form] = await mail(greta, "We would like a quote for 3 dental chairs.\n", 1)
    assert "1. Your name\n2. Your company (if any)" in form

    answer = (
        "Hello, my name is Greta Holm and I work for Holm Dental Clinic. We can spend around "
        "14,000 euros, and we would need them by the end of May.\n\nBest wishes,\nGreta"
    )
    [saved] = await mail(greta, answer, 2, in_reply_to=our_last_mail(bot))

    assert saved.startswith("Thank you, Greta Holm!")
    [lead] = await bot.leads()
    assert (lead.name, lead.company, lead.email) == (
        "Greta Holm",
        "Holm Dental Clinic",
        "greta@holm.example",
    )
    assert (lead.budget, lead.timeline) == ("around 14,000 euros", "by the end of May")
    assert lead.need == "We would like a quote for 3 dental chairs."


async def test_answers_in_russian_prose(bot: BotHarness) -> None:
    pavel = bot.customer("pavel@sever.example", channel="email")
    await mail(pavel, "Добрый день!\n\nХотим купить 4 стоматологических кресла.\n", 1)

    answer = (
        "Меня зовут Павел Зимин, я из компании ООО «Север-Дент». Бюджет примерно 900 тысяч "
        "рублей, нужно к началу сентября."
    )
    [saved] = await mail(pavel, answer, 2, in_reply_to=our_last_mail(bot))

    assert saved.startswith("Спасибо, Павел Зимин!")
    [lead] = await bot.leads()
    assert (lead.company, lead.budget, lead.timeline) == (
        "ООО «Север-Дент»",
        "примерно 900 тысяч рублей",
        "к началу сентября",
    )


async def test_answers_written_between_the_quoted_questions(bot: BotHarness) -> None:
    lars = bot.customer("lars@fjord.example", channel="email")
    [form] = await mail(lars, "Hi,\n\nplease send a price for 12 bar stools.\n", 1)
    questions = [line for line in form.splitlines() if line[:2] in ("1.", "2.", "3.", "4.")]
    assert len(questions) == 4

    # The first question's quote went with the attribution line, as mail clients strip it.
    answer = (
        f"Lars Berg\n\n> {questions[1]}\n\nFjord Bistro AS\n\n> {questions[2]}\n\n"
        f"up to 2,500 euros\n\n> {questions[3]}\n\nbefore the summer season\n"
    )
    await mail(lars, answer, 2, in_reply_to=our_last_mail(bot))

    [lead] = await bot.leads()
    assert (lead.name, lead.company, lead.budget, lead.timeline) == (
        "Lars Berg",
        "Fjord Bistro AS",
        "up to 2,500 euros",
        "before the summer season",
    )


async def test_an_answer_in_the_thread_completes_the_saved_lead(bot: BotHarness) -> None:
    mona = bot.customer("mona@kraft.example", channel="email")
    first = (
        "Hello,\n\nwe need a quote for 25 lockers.\n\nKind regards,\nMona Kraft\nKraft Gym GmbH\n"
    )
    [saved] = await mail(mona, first, 1, subject="Lockers")
    assert saved.startswith("Thank you, Mona Kraft!")

    [updated] = await mail(
        mona,
        "No set budget yet, ideally delivered by mid-April.",
        2,
        subject="Re: Lockers",
        in_reply_to=our_last_mail(bot),
    )

    assert updated.startswith("Thank you, Mona Kraft! We have updated your request")
    assert "Budget: No set budget yet\nTimeline: by mid-April" in updated
    [lead] = await bot.leads()  # the same lead, not a second one
    assert (lead.budget, lead.timeline) == ("No set budget yet", "by mid-April")
    assert await bot.tickets() == []


async def test_no_fixed_budget_and_a_date_answer_the_form_and_complete_the_lead(
    bot: BotHarness,
) -> None:
    mona = bot.customer("mona@kraft.example", channel="email")
    await mail(mona, "Hello,\n\nwe need a quote for 25 lockers.\n", 1, subject="Lockers")

    answer = "Mona Kraft, Kraft Gym GmbH. No fixed budget yet, ideally delivered by mid-April."
    [saved] = await mail(mona, answer, 2, subject="Re: Lockers", in_reply_to=our_last_mail(bot))

    assert saved.startswith("Thank you, Mona Kraft! Your request is saved.")
    [lead] = await bot.leads()
    assert (lead.budget, lead.timeline) == ("No fixed budget yet", "by mid-April")
    assert await bot.tickets() == []  # "fixed" is no repair

    [updated] = await mail(
        mona,
        "No fixed budget yet, ideally delivered by mid-April.",
        3,
        subject="Re: Lockers",
        in_reply_to=our_last_mail(bot),
    )
    assert updated.startswith("Thank you, Mona Kraft! We have updated your request")
    assert len(await bot.leads()) == 1 and await bot.tickets() == []


async def test_no_fixed_budget_in_russian_completes_the_saved_lead(bot: BotHarness) -> None:
    nina = bot.customer("nina@sklad.example", channel="email")
    first = "Здравствуйте!\n\nНужны 30 металлических шкафчиков.\n\nС уважением,\nНина Громова\n"
    await mail(nina, first, 1, subject="Шкафчики")

    [updated] = await mail(
        nina,
        "Фиксированного бюджета пока нет, в идеале доставить к середине апреля.",
        2,
        subject="Re: Шкафчики",
        in_reply_to=our_last_mail(bot),
    )

    assert updated.startswith("Спасибо, Нина Громова! Мы обновили вашу заявку")
    [lead] = await bot.leads()
    assert lead.timeline == "к середине апреля"
    assert await bot.tickets() == []


async def test_a_greeting_and_a_sign_off_do_not_hide_the_request(bot: BotHarness) -> None:
    mike = bot.customer("mike@ironworks.example", channel="email")
    first = (
        "Hi there,\n\nCould you send me a price for 12 commercial treadmills? We run a chain "
        "of three gyms.\n\nRegards"
    )
    [form] = await mail(mike, first, 1, subject="Treadmill pricing")
    assert form.startswith("Thank you for your interest! To prepare an offer")

    answer = "1. Mike Donovan\n2. Ironworks Gyms\n3. 40,000 dollars\n4. in the autumn"
    [saved] = await mail(mike, answer, 2, in_reply_to=our_last_mail(bot))

    assert saved.startswith("Thank you, Mike Donovan!")
    [lead] = await bot.leads()
    assert "12 commercial treadmills" in lead.need
    assert await bot.tickets() == []


async def test_a_russian_greeting_and_sign_off_do_not_hide_the_request(bot: BotHarness) -> None:
    vera = bot.customer("boyko@barista.example", channel="email")
    first = (
        "Добрый день,\n\nищем двухгруппную кофемашину La Marzocco для кофейни. Можете сделать "
        "предложение?\n\nВсего хорошего"
    )
    [form] = await mail(vera, first, 1, subject="Кофемашина")
    assert form.startswith("Спасибо за интерес!")

    answer = "Имя: Вера Бойко\nКомпания: Кофейня «Бариста»\nБюджет: 900 тысяч"
    [saved] = await mail(vera, answer, 2, subject="Re: Кофемашина", in_reply_to=our_last_mail(bot))

    assert saved.startswith("Спасибо, Вера Бойко!")
    [lead] = await bot.leads()
    assert "кофемашину" in lead.need
    assert await bot.tickets() == []


async def test_noise_cancelling_headsets_are_wanted_not_a_cancellation(bot: BotHarness) -> None:
    julia = bot.customer("julia@novak.example", channel="email")
    first = (
        "Hi,\n\nwe're interested in 40 noise-cancelling headsets for our call centre. Can you "
        "send an offer?\n\nThanks"
    )
    [form] = await mail(julia, first, 1, subject="Headsets")

    assert form.startswith("Thank you for your interest! To prepare an offer")
    assert await bot.tickets() == []


async def test_a_russian_answer_in_the_thread_completes_the_saved_lead(bot: BotHarness) -> None:
    nina = bot.customer("nina@sklad.example", channel="email")
    first = "Здравствуйте!\n\nНужны 30 металлических шкафчиков.\n\nС уважением,\nНина Громова\n"
    await mail(nina, first, 1, subject="Шкафчики")

    await mail(
        nina,
        "Бюджет пока не определён, нужно до конца квартала.",
        2,
        subject="Re: Шкафчики",
        in_reply_to=our_last_mail(bot),
    )

    [lead] = await bot.leads()
    assert (lead.budget, lead.timeline) == ("Бюджет пока не определён", "до конца квартала")
    assert await bot.tickets() == []


async def test_words_in_the_thread_that_answer_nothing_are_kept_for_the_rep(
    bot: BotHarness,
) -> None:
    mona = bot.customer("mona@kraft.example", channel="email")
    first = (
        "Hello,\n\nwe need a quote for 25 lockers.\n\nKind regards,\nMona Kraft\nKraft Gym GmbH\n"
    )
    await mail(mona, first, 1, subject="Lockers")
    [noted] = await mail(
        mona,
        "They should be in grey, like the ones in the photo on your site.",
        2,
        subject="Re: Lockers",
        in_reply_to=our_last_mail(bot),
    )
    assert noted.startswith("Thank you, Mona Kraft! We have added your message")
    [lead] = await bot.leads()
    assert lead.need.endswith("They should be in grey, like the ones in the photo on your site.")
    assert await bot.tickets() == []


async def test_an_address_typed_in_the_answer_is_the_contact(bot: BotHarness) -> None:
    desk = bot.customer("office@kraft.example", channel="email")
    await mail(desk, "Hello,\n\nwe would like a price for 6 treadmills.\n", 1)

    answer = "Name: Ole Kraft\nCompany: Kraft Gym\n\nPlease write to me at ole@kraft.example."
    await mail(desk, answer, 2, in_reply_to=our_last_mail(bot))

    [lead] = await bot.leads()
    assert lead.email == "ole@kraft.example"


async def test_please_use_my_own_address_takes_the_senders(bot: BotHarness) -> None:
    ole = bot.customer("ole@kraft.example", channel="email")
    await mail(ole, "Hello,\n\nwe would like a price for 6 treadmills.\n", 1)
    await mail(
        ole, "Name: Ole Kraft\nContact: desk@kraft.example", 2, in_reply_to=our_last_mail(bot)
    )
    [lead] = await bot.leads()
    assert lead.email == "desk@kraft.example"

    [updated] = await mail(
        ole, "Sorry, please use my own address instead.", 3, in_reply_to=our_last_mail(bot)
    )

    assert "Email: ole@kraft.example" in updated
    [lead] = await bot.leads()
    assert lead.email == "ole@kraft.example"


async def test_a_mail_that_declines_saves_nothing(bot: BotHarness) -> None:
    ian = bot.customer("ian@ross.example", channel="email")
    await mail(ian, "Hello,\n\nwhat would 10 desk phones cost?\n", 1)
    [reply] = await mail(
        ian, "Thanks, we are only comparing offers for now.", 2, in_reply_to=our_last_mail(bot)
    )
    assert reply.startswith("Cancelled, nothing was saved.")
    assert await bot.leads() == []


async def test_a_thank_you_in_the_thread_changes_nothing(bot: BotHarness) -> None:
    mona = bot.customer("mona@kraft.example", channel="email")
    first = "Hello,\n\nwe need a quote for 25 lockers.\n\nKind regards,\nMona Kraft\n"
    await mail(mona, first, 1, subject="Lockers")
    await mail(
        mona, "Thank you!\n\nBest,\nMona", 2, subject="Re: Lockers", in_reply_to=our_last_mail(bot)
    )
    [lead] = await bot.leads()
    assert lead.need == "we need a quote for 25 lockers."


async def test_changing_ones_mind_after_the_lead_was_saved_is_told_to_the_rep(
    bot: BotHarness,
) -> None:
    mona = bot.customer("mona@kraft.example", channel="email")
    first = "Hello,\n\nwe need a quote for 25 lockers.\n\nKind regards,\nMona Kraft\n"
    await mail(mona, first, 1, subject="Lockers")
    [noted] = await mail(
        mona,
        "Sorry, we changed our minds: the board said no.",
        2,
        subject="Re: Lockers",
        in_reply_to=our_last_mail(bot),
    )
    assert noted.startswith("Thank you, Mona Kraft! We have added your message")
    [lead] = await bot.leads()
    assert lead.need.endswith("Sorry, we changed our minds: the board said no.")
