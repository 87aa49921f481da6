"""Lead capture, as transcripts in English and Russian."""

from __future__ import annotations

from tests.harness import BotHarness, Customer


async def test_english_lead_from_first_message_to_saved_lead(bot: BotHarness) -> None:
    anna = bot.customer("anna", name="Anna")

    replies = await anna.say("Hi, I'd like a quote for 40 standing desks for our new office")
    assert replies[0].startswith("Great, I'll prepare this")
    assert replies[1] == "What is your name?"
    assert anna.last_options() == ["lead:use_name"]

    assert await anna.say("Anna Petrova") == [
        "How can our sales rep reach you? Please send an email address or a phone number."
    ]
    assert await anna.say("you can write to Anna.Petrova@Northwind.example") == [
        "Which company are you with? (Skip if you are buying as a private person.)"
    ]
    assert await anna.say("Northwind Ltd") == [
        'Do you have a budget and a date in mind? For example "about 5,000 euros, by May". (Optional.)'
    ]
    summary = await anna.say("no budget yet, ASAP")
    assert "Email: anna.petrova@northwind.example" in summary[0]
    assert "Company: Northwind Ltd" in summary[0]
    assert "Budget: no budget yet\nTimeline: ASAP" in summary[0]

    saved = await anna.press("lead:confirm")
    assert saved == [  # no rep is registered: nobody is promised
        "Thank you, Anna Petrova! Your request is saved. Nobody from our sales team is available "
        "right now, so it may take a while, but they will get back to you."
    ]

    [lead] = await bot.leads()
    assert (lead.status, lead.name, lead.company) == ("waiting", "Anna Petrova", "Northwind Ltd")
    assert lead.need == "I'd like a quote for 40 standing desks for our new office"
    assert lead.email == "anna.petrova@northwind.example"
    assert (lead.budget, lead.timeline) == ("no budget yet", "ASAP")
    assert lead.score == 30 + 15 + 15 + 15
    assert await bot.state_of(anna) == ("idle", None)
    assert "lead_captured" in await bot.kinds()


async def test_russian_lead_with_phone_and_typed_option_numbers(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")

    replies = await ivan.say("Здравствуйте, хочу купить")
    assert replies == [
        "Отлично, передам это нашему отделу продаж. Несколько коротких вопросов (в любой момент можно /cancel).",
        "Что вас интересует? Товар, услуга, количество — достаточно пары предложений.",
    ]
    assert await ivan.say("Нужны 5 кофемашин для офиса") == [
        "Как вас зовут и как с вами связаться? Напишите имя и email или номер телефона."
    ]
    # Name and phone in one answer.
    assert await ivan.say("Меня зовут Иван Смирнов, 8 (912) 345-67-89") == [
        "Какую компанию вы представляете? (Пропустите, если вы частное лицо.)"
    ]
    assert await ivan.say("1") == [  # the number of the "Skip" option
        "Есть ли ориентир по бюджету и срокам? Например, «около 300 тысяч рублей, к маю». (Необязательно.)"
    ]
    summary = await ivan.say("около 300 тысяч рублей, в течение месяца")
    assert "Телефон: +79123456789" in summary[0]
    assert "Бюджет: около 300 тысяч рублей" in summary[0]
    assert "Сроки: в течение месяца" in summary[0]
    assert await ivan.say("да") == [
        "Спасибо, Иван Смирнов! Ваша заявка сохранена. Сейчас никого из отдела продаж нет на "
        "связи, поэтому ответ может занять время, но с вами обязательно свяжутся."
    ]
    [lead] = await bot.leads()
    assert (lead.name, lead.company, lead.phone) == ("Иван Смирнов", None, "+79123456789")
    assert lead.need == "Нужны 5 кофемашин для офиса"


async def test_bad_contact_is_asked_again_and_nothing_is_lost(bot: BotHarness) -> None:
    bob = bot.customer("bob")
    await bob.say("I want to buy 3 licences of your software for my team")
    await bob.say("Bob")
    assert await bob.say("call me maybe") == [
        "That doesn't look like an email address or a phone number. Please send one, e.g. name@example.com or +44 20 7946 0000.",
        "How can our sales rep reach you? Please send an email address or a phone number.",
    ]
    assert await bot.state_of(bob) == ("lead", "contact")
    await bob.say("+44 20 7946 0958")
    assert await bot.state_of(bob) == ("lead", "company")


async def test_corrections_at_the_summary(bot: BotHarness) -> None:
    eve = bot.customer("eve")
    await eve.say("We need a price for 100 branded t-shirts")
    for answer in ("Eve Adams", "eve@globex.example", "Globex"):
        await eve.say(answer)
    await eve.press("lead:skip")

    assert await eve.press("lead:edit") == ["What would you like to change?"]
    assert await eve.press("lead:edit:company") == [
        "Which company are you with? (Skip if you are buying as a private person.)"
    ]
    summary = await eve.say("Globex Corporation")
    assert "Company: Globex Corporation" in summary[0]
    # A typed correction of the contact details is understood at the summary too.
    summary = await eve.say("actually use eve.adams@globex.example")
    assert "Email: eve.adams@globex.example" in summary[0]
    await eve.press("lead:confirm")
    [lead] = await bot.leads()
    assert (lead.company, lead.email) == ("Globex Corporation", "eve.adams@globex.example")


async def test_cancel_leaves_no_lead(bot: BotHarness) -> None:
    max_ = bot.customer("max")
    await max_.say("How much does your premium plan cost for 20 users?")
    assert await bot.state_of(max_) == ("lead", "name_contact")
    replies = await max_.say("/cancel")
    assert replies == ["Cancelled, nothing was saved."]
    assert await bot.leads() == []
    assert await bot.state_of(max_) == ("idle", None)
    assert await max_.say("отмена") == ["Отменять нечего."]


async def test_known_contact_skips_what_is_already_known(bot: BotHarness) -> None:
    kim = bot.customer("kim")
    await kim.say("I'd like to order 10 monitors for the office")
    for answer in ("Kim Lee", "kim@initech.example", "Initech"):
        await kim.say(answer)
    await kim.press("lead:skip")
    await kim.press("lead:confirm")

    replies = await kim.say("I also want a quote for 10 keyboards and mice")
    # Name, company and email are known: straight to the optional question.
    assert replies[1].startswith("Do you have a budget and a date in mind?")
    await kim.press("lead:skip")
    [added] = await kim.press("lead:confirm")
    # Her first lead is still open: the new request joins it instead of making a second one.
    assert added.startswith("Thank you, Kim Lee! I've added this to your request No. 1,")
    [lead] = await bot.leads()
    assert (lead.name, lead.company, lead.email) == ("Kim Lee", "Initech", "kim@initech.example")
    notes = await bot.lead_notes(lead.id)
    assert [n.text for n in notes] == ["I also want a quote for 10 keyboards and mice"]


async def test_deep_link_source_is_stored_on_the_lead(bot: BotHarness) -> None:
    lea = bot.customer("lea", channel="telegram", name="Lea")
    greeting = await lea.say("/start spring_sale_2026")
    assert greeting[0].startswith("Hello!")
    await lea.press("menu:lead")
    await lea.say("A demo of your CRM for a team of 12")
    await lea.press("lead:use_name")
    await lea.say("lea@umbrella.example")
    await lea.say("Umbrella")
    await lea.press("lead:skip")
    await lea.press("lead:confirm")
    [lead] = await bot.leads()
    assert (lead.source, lead.name) == ("spring_sale_2026", "Lea")
    assert "campaign_source" in await bot.kinds()


async def typed_lead(customer: Customer, email: str) -> None:
    """A lead whose contact answer is `email`, typed (nothing proves it is theirs)."""
    await customer.say("Please send me a quote for 500 kg of coffee beans")
    for answer in ("Zoe", email, "Beanery"):
        await customer.say(answer)
    await customer.press("lead:skip")
    await customer.press("lead:confirm")


async def test_an_email_typed_in_a_lead_is_a_claim_that_proves_nothing(bot: BotHarness) -> None:
    zoe = bot.customer("zoe")
    await typed_lead(zoe, "zoe@beanery.example")
    async with bot.database.transaction() as uow:
        [claim] = [i for i in await uow.contacts.identities(1) if i.channel == "email"]
    assert (claim.address, claim.verified) == ("zoe@beanery.example", False)

    # Mail from that address is its own writer's, whoever typed it: the claim moves to them.
    by_email = bot.customer("zoe@beanery.example", channel="email")
    await by_email.say("Hello, following up on my quote request")
    async with bot.database.transaction() as uow:
        email_owner = await uow.contacts.owner_of("email", "zoe@beanery.example")
        typed = await uow.contacts.identities(1)
        [moved] = await uow.touchpoints.search(kind="claim_moved")
    assert email_owner == 2
    assert [i.channel for i in typed] == ["console"]
    assert moved.details == {
        "channel": "email",
        "address": "zoe@beanery.example",
        "from_contact_id": 1,
    }


async def test_typing_someone_elses_email_gets_none_of_their_mail_or_tickets(
    bot: BotHarness,
) -> None:
    # Mallory types Ann's address in a lead; it became Mallory's identity, so Ann's mail opened
    # a ticket on Mallory's contact and Mallory's /status showed it.
    mallory = bot.customer("mallory")
    await typed_lead(mallory, "ann@initech.example")
    ann = bot.customer("ann@initech.example", channel="email")
    await ann.say("My order 5531 arrived damaged, the screen is cracked", header_id="<a1@x>")

    async with bot.database.transaction() as uow:
        [ticket] = await uow.tickets.search()
    assert ticket.contact_id != 1  # Ann's own contact, not Mallory's
    status = " ".join(await mallory.say("/status"))
    assert "1001" not in status


async def test_an_address_of_another_contact_is_recorded_not_taken(bot: BotHarness) -> None:
    owner = bot.customer("owner@shop.example", channel="email")
    await owner.say("Hello there")
    other = bot.customer("mallory")
    await other.say("I want to buy your enterprise plan for my company")
    for answer in ("Mallory", "owner@shop.example", "Evil Corp"):
        await other.say(answer)
    await other.press("lead:skip")
    await other.press("lead:confirm")

    async with bot.database.transaction() as uow:
        assert await uow.contacts.owner_of("email", "owner@shop.example") == 1
    assert "identity_conflict" in await bot.kinds()


async def test_a_typed_phone_is_never_a_merge_target_a_verified_share_takes_it_over(
    bot: BotHarness,
) -> None:
    # Mallory typed Ann's number in a lead; when Ann shared it verified on Telegram, Ann's
    # contact was merged into Mallory's and each saw the other's tickets.
    mallory = bot.customer("mallory")
    await mallory.say("Please send me a quote for 500 kg of coffee beans")
    for answer in ("Mallory", "+44 7911 123456", "Evil Corp"):
        await mallory.say(answer)
    await mallory.press("lead:skip")
    await mallory.press("lead:confirm")
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("My order 5531 arrived damaged, the screen is cracked")

    await ann.say("", shared_phone="+447911123456")

    async with bot.database.transaction() as uow:
        assert await uow.merges.get(1) is None  # nobody merged
        phone_owner = await uow.contacts.owner_of("phone", "+447911123456")
        [ticket] = await uow.tickets.search()
    assert phone_owner == ticket.contact_id != 1  # the number is Ann's, proven
    assert "claim_moved" in await bot.kinds()
    assert "1001" not in " ".join(await mallory.say("/status"))


async def test_control_characters_are_left_out_of_lead_fields(bot: BotHarness) -> None:
    eve = bot.customer("eve")
    await eve.say("Please send me a quote for 500 kg of coffee beans")
    for answer in ("Eve \x1b[2J\x07Smith", "eve@beanery.example", "Beanery\x1b]0;owned\x07"):
        await eve.say(answer)
    await eve.press("lead:skip")
    await eve.press("lead:confirm")
    [lead] = await bot.leads()
    assert lead.name is not None and "\x1b" not in lead.name and "\x07" not in lead.name
    assert lead.company is not None and "\x1b" not in lead.company
