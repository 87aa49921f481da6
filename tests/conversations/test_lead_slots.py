"""Lead slots filled from whatever the prospect writes, in English and Russian transcripts:
nothing known is asked again, answers are checked against their question, corrections and
questions of the customer's own are taken anywhere."""

from __future__ import annotations

from tests.harness import BotHarness, Customer

NAME_AND_CONTACT_EN = (
    "Who should our sales rep contact? Please write your name and an email address or a phone "
    "number."
)
NAME_AND_CONTACT_RU = (
    "Как вас зовут и как с вами связаться? Напишите имя и email или номер телефона."
)
COMPANY_EN = "Which company are you with? (Skip if you are buying as a private person.)"
COMPANY_RU = "Какую компанию вы представляете? (Пропустите, если вы частное лицо.)"
BUDGET_AND_DATE_EN = (
    'Do you have a budget and a date in mind? For example "about 5,000 euros, by May". (Optional.)'
)
BUDGET_AND_DATE_RU = (
    "Есть ли ориентир по бюджету и срокам? Например, «около 300 тысяч рублей, к маю». "
    "(Необязательно.)"
)
NOTED_EN = "Good question — I've noted it for our sales rep, who will answer it with your offer."
NOTED_RU = "Хороший вопрос — я передам его менеджеру, он ответит вместе с предложением."
REMARK_NOTED_EN = "I've noted that for our team: it goes to them with your request."
REMARK_NOTED_RU = "Записал это для команды: передам вместе с вашей заявкой."


async def test_an_english_opener_that_says_everything_goes_straight_to_the_summary(
    bot: BotHarness,
) -> None:
    nora = bot.customer("nora")

    [summary] = await nora.say(
        "I'd like a quote: I'm Nora Quist from Quist Florists Ltd. We want 200 glass vases for "
        "our shops, the budget is around 3,000 euros, and we need them by the end of March. "
        "Please reply to nora@quist.example"
    )

    assert summary == (
        "Please check:\n"
        "Need: We want 200 glass vases for our shops\n"
        "Name: Nora Quist\n"
        "Company: Quist Florists Ltd\n"
        "Email: nora@quist.example\n"
        "Budget: around 3,000 euros\n"
        "Timeline: by the end of March\n"
        "Shall I send this to our sales team?"
    )
    await nora.say("yes")
    [lead] = await bot.leads()
    assert (lead.name, lead.company, lead.email) == (
        "Nora Quist",
        "Quist Florists Ltd",
        "nora@quist.example",
    )
    assert (lead.budget, lead.timeline) == ("around 3,000 euros", "by the end of March")


async def test_a_russian_opener_that_says_everything_goes_straight_to_the_summary(
    bot: BotHarness,
) -> None:
    oleg = bot.customer("oleg")

    [summary] = await oleg.say(
        "Хочу купить 12 тепловых пушек для склада. Меня зовут Олег Панов, компания "
        "ООО «Тепловик», бюджет около 250 тысяч рублей, срок — до конца ноября. "
        "Телефон +7 912 700-10-20"
    )

    assert summary == (
        "Проверьте, пожалуйста:\n"
        "Запрос: Хочу купить 12 тепловых пушек для склада.\n"
        "Имя: Олег Панов\n"
        "Компания: ООО «Тепловик»\n"
        "Телефон: +79127001020\n"
        "Бюджет: около 250 тысяч рублей\n"
        "Сроки: до конца ноября\n"
        "Отправить это в отдел продаж?"
    )
    assert (await oleg.say("👍"))[0].startswith("Спасибо, Олег Панов!")
    [lead] = await bot.leads()
    assert (lead.phone, lead.budget) == ("+79127001020", "около 250 тысяч рублей")


async def test_a_russian_opener_introducing_the_writer_with_ya_and_a_brand_stays_russian(
    bot: BotHarness,
) -> None:
    vera = bot.customer("vera")

    [summary] = await vera.say(
        "Добрый день, нужны 6 ноутбуков Lenovo ThinkPad, я Вера Соколова из ООО «Маяк», "
        "vera@mayak.example, бюджет до 900 тысяч, к концу месяца"
    )

    assert summary == (
        "Проверьте, пожалуйста:\n"
        "Запрос: нужны 6 ноутбуков Lenovo ThinkPad\n"
        "Имя: Вера Соколова\n"
        "Компания: ООО «Маяк»\n"
        "Email: vera@mayak.example\n"
        "Бюджет: до 900 тысяч\n"
        "Сроки: к концу месяца\n"
        "Отправить это в отдел продаж?"
    )


async def test_a_short_russian_opener_that_names_the_product_is_not_asked_what_is_wanted(
    bot: BotHarness,
) -> None:
    vera = bot.customer("vera")
    replies = await vera.say("Хочу купить стеллажи")
    assert replies[1] == NAME_AND_CONTACT_RU


async def test_a_question_at_the_name_prompt_is_noted_and_the_name_asked_again(
    bot: BotHarness,
) -> None:
    tim = bot.customer("tim")
    await tim.say("We want a quote for 30 conference chairs")

    assert await tim.say("Hang on — is assembly included in the price?") == [
        NOTED_EN,
        NAME_AND_CONTACT_EN,
    ]
    assert await bot.state_of(tim) == ("lead", "name_contact")
    assert await tim.say("Tim Ward, tim@ward.example") == [COMPANY_EN]
    await tim.say("Ward Events")
    [summary] = await tim.press("lead:skip")
    assert "Name: Tim Ward\n" in summary
    assert "Your questions and notes: Hang on — is assembly included in the price?" in summary
    await tim.press("lead:confirm")
    [lead] = await bot.leads()
    assert lead.name == "Tim Ward"
    assert lead.need.endswith(
        "Your questions and notes: Hang on — is assembly included in the price?"
    )


async def test_a_question_at_the_company_prompt_in_russian(bot: BotHarness) -> None:
    lida = bot.customer("lida")
    await lida.say("Хотим заказать 8 школьных парт")
    await lida.say("Лидия Орлова, lida@school.example")

    assert await lida.say("А вы работаете по безналу?") == [NOTED_RU, COMPANY_RU]
    assert await lida.say("Гимназия № 5") == [BUDGET_AND_DATE_RU]


async def test_an_order_that_has_not_arrived_is_no_company_name(bot: BotHarness) -> None:
    ella = bot.customer("ella")
    await ella.say("We need 12 filing cabinets")
    await ella.say("Ella Stone, ella@stone.example")

    assert await ella.say("my order 5531 has not arrived") == [REMARK_NOTED_EN, COMPANY_EN]
    assert await bot.state_of(ella) == ("lead", "company")
    assert await ella.say("Stone & Partners") == [BUDGET_AND_DATE_EN]
    [summary] = await ella.press("lead:skip")
    assert "Company: Stone & Partners\n" in summary
    assert "Your questions and notes: my order 5531 has not arrived" in summary


async def test_an_order_that_has_not_arrived_is_no_company_name_in_russian(
    bot: BotHarness,
) -> None:
    gleb = bot.customer("gleb")
    await gleb.say("Нужно 12 офисных шкафов")
    await gleb.say("Глеб Зуев, gleb@zuev.example")

    assert await gleb.say("заказ 5531 не пришёл") == [REMARK_NOTED_RU, COMPANY_RU]
    assert await gleb.say("ООО «Зуев и партнёры»") == [BUDGET_AND_DATE_RU]
    [summary] = await gleb.press("lead:skip")
    assert "Компания: ООО «Зуев и партнёры»\n" in summary
    assert "заказ 5531 не пришёл" in summary
    assert await bot.tickets() == []


async def test_names_and_companies_said_in_a_sentence_are_stored_alone(bot: BotHarness) -> None:
    sam = bot.customer("sam")
    await sam.say("I want to buy 4 outdoor benches for a park")
    assert await sam.say("Oh hello, it's Sam Okoro here, thanks for asking") == [
        "How can our sales rep reach you? Please send an email address or a phone number."
    ]
    await sam.say("sam@okoro.example")
    assert await sam.say("I work for Okoro Landscaping, we do gardens") == [BUDGET_AND_DATE_EN]
    [summary] = await sam.press("lead:skip")
    assert "Name: Sam Okoro\nCompany: Okoro Landscaping\n" in summary


async def test_a_name_in_a_russian_sentence_is_stored_alone(bot: BotHarness) -> None:
    zoya = bot.customer("zoya")
    await zoya.say("Хочу заказать 6 кулеров для воды")
    assert await zoya.say("Зоя Белова, рада знакомству! Мой телефон 8 903 111-22-33") == [
        COMPANY_RU
    ]
    assert await zoya.say("Покупаю для себя") == [BUDGET_AND_DATE_RU]
    [summary] = await zoya.press("lead:skip")
    assert "Имя: Зоя Белова\n" in summary and "Компания" not in summary


async def test_a_correction_at_another_prompt_changes_that_field_only(bot: BotHarness) -> None:
    kai = bot.customer("kai")
    await kai.say("Please quote 15 desk lamps")
    await kai.say("Kai Lund, kai@old.example")
    await kai.say("Lund Design")

    assert await kai.say("oh wait, actually my email is kai@lund.example") == [
        "Updated — Email: kai@lund.example.",
        BUDGET_AND_DATE_EN,
    ]
    [summary] = await kai.say("about 600 euros, in two weeks")
    assert "Email: kai@lund.example\nBudget: about 600 euros\nTimeline: in two weeks" in summary
    await kai.say("ok")
    [lead] = await bot.leads()
    assert (lead.email, lead.budget) == ("kai@lund.example", "about 600 euros")


async def test_a_russian_correction_at_another_prompt(bot: BotHarness) -> None:
    ira = bot.customer("ira")
    await ira.say("Хочу купить 3 проектора для школы")
    await ira.say("Ирина Котова, ira@old.example")

    assert await ira.say("ой, почта у меня другая, пишите на kotova@school.example") == [
        "Исправлено — Email: kotova@school.example.",
        COMPANY_RU,
    ]


async def test_budget_and_date_are_one_question_and_one_answer(bot: BotHarness) -> None:
    ada = bot.customer("ada")
    await ada.say("I'd like a quote for 50 branded notebooks")
    await ada.say("Ada Shaw, ada@shaw.example")
    assert await ada.say("Shaw & Co") == [BUDGET_AND_DATE_EN]
    assert ada.last_options() == ["lead:skip"]

    [summary] = await ada.say("no fixed budget, but before the trade fair in June")
    assert "Budget: no fixed budget\nTimeline: before the trade fair in June" in summary


async def test_a_date_alone_answers_the_question_without_asking_the_budget(
    bot: BotHarness,
) -> None:
    egor = bot.customer("egor")
    await egor.say("Хотим заказать 20 комплектов спецодежды")
    await egor.say("Егор Лисин, +7 921 333-44-55")
    await egor.say("ООО «Север»")

    [summary] = await egor.say("к 1 декабря")
    assert summary.startswith("Проверьте, пожалуйста:")
    assert "Сроки: к 1 декабря" in summary and "Бюджет" not in summary


async def test_a_summary_takes_a_free_text_correction_and_an_emoji(bot: BotHarness) -> None:
    lena = bot.customer("lena")
    await lena.say("Quote for 2 espresso machines please")
    await lena.say("Lena Fox, lena@fox.example")
    await lena.say("Fox Cafe")
    await lena.press("lead:skip")

    [summary] = await lena.say("my name is actually Helena Fox")
    assert summary.startswith("Please check:") and "Name: Helena Fox\n" in summary
    assert (await lena.say("👍"))[0].startswith("Thank you, Helena Fox!")
    [lead] = await bot.leads()
    assert lead.name == "Helena Fox"


async def test_agreeing_in_words_at_the_summary_saves(bot: BotHarness) -> None:
    for customer, words in (
        (bot.customer("a1"), "Looks fine to me, go ahead"),
        (bot.customer("a2"), "Да, всё правильно, отправляйте"),
    ):
        await _to_the_summary(customer)
        assert (await customer.say(words))[0].startswith(("Thank you", "Спасибо"))
    assert len(await bot.leads()) == 2


async def test_changing_ones_mind_mid_way_saves_nothing(bot: BotHarness) -> None:
    rob = bot.customer("rob")
    await rob.say("How much would 10 office plants cost?")
    assert await rob.say("Actually we changed our minds, sorry") == [
        "Cancelled, nothing was saved."
    ]
    assert await bot.leads() == []
    assert await bot.state_of(rob) == ("idle", None)


async def _to_the_summary(customer: Customer) -> None:
    await customer.say("I'd like a quote for 5 whiteboards")
    await customer.say("Alex Kim, alex@kim.example")
    await customer.press("lead:skip")
    await customer.press("lead:skip")


async def test_naming_the_field_to_change_at_the_summary_asks_it_again(bot: BotHarness) -> None:
    ugo = bot.customer("ugo")
    await _to_the_summary(ugo)
    assert await ugo.say("please fix the name") == ["What is your name?"]
    [summary] = await ugo.say("Ugo Conti")
    assert "Name: Ugo Conti\n" in summary


async def test_a_title_and_a_word_such_as_here_are_not_taken_for_the_name(bot: BotHarness) -> None:
    bob = bot.customer("bob")
    await bob.say("I want to buy 3 forklifts")
    assert await bob.say("Dr. Bob Lane here, bob@lane.example") == [COMPANY_EN]
    assert await bob.say("great, thanks") == [
        "Please write just the company's name (or Skip if you are buying as a private person).",
        COMPANY_EN,
    ]
    await bob.say("Lane Lifting")
    [summary] = await bob.press("lead:skip")
    assert "Name: Dr. Bob Lane\nCompany: Lane Lifting\n" in summary
