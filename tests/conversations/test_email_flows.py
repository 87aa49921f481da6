"""Lead capture, service and threading as they happen by email (the core, without IMAP/SMTP)."""

from __future__ import annotations

from bot.model import InboundKind, PermanentSendError
from tests.harness import BotHarness, Customer

DESKS_WITH_SIGNATURE = """Hello,

we would like a quote for 40 standing desks for our new office in Berlin.

Best regards,
Anna Petrova
Northwind GmbH
+49 30 901820
"""


async def mail(customer: Customer, text: str, number: int, **fields: object) -> list[str]:
    fields.setdefault("subject", "Standing desks")
    return await customer.say(text, header_id=f"<m{number}@mail.example>", **fields)


async def test_a_lead_in_one_mail_when_the_signature_says_who_writes(bot: BotHarness) -> None:
    anna = bot.customer("anna@northwind.example", channel="email", name="Anna Petrova")

    [reply] = await mail(anna, DESKS_WITH_SIGNATURE, 1)

    assert reply.startswith("Thank you, Anna Petrova! Your request is saved. Nobody from our")
    assert "Company: Northwind GmbH" in reply and "Phone: +4930901820" in reply
    [lead] = await bot.leads()
    assert (lead.name, lead.company, lead.phone) == (
        "Anna Petrova",
        "Northwind GmbH",
        "+4930901820",
    )
    assert lead.email == "anna@northwind.example"
    assert lead.need == "we would like a quote for 40 standing desks for our new office in Berlin."


async def test_missing_answers_are_asked_together_and_read_from_one_reply(bot: BotHarness) -> None:
    ivan = bot.customer("ivan@bean.example", channel="email")

    [form] = await mail(ivan, "Please send me a price for 10 coffee machines for our offices.", 1)
    assert form.startswith("Thank you for your interest! To prepare an offer")
    assert (
        "1. Your name\n2. Your company (if any)\n3. Budget (optional)\n4. When you need it (optional)"
        in form
    )

    ours = bot.channels["email"].sent[-1].header_id
    [saved] = await mail(ivan, "1. Ivan Petrov\n2. Bean Co\n4. next month", 2, in_reply_to=ours)
    assert saved.startswith("Thank you, Ivan Petrov!")
    [lead] = await bot.leads()
    assert (lead.name, lead.company, lead.timeline, lead.budget) == (
        "Ivan Petrov",
        "Bean Co",
        "next month",
        None,
    )


async def test_labelled_answers_in_russian(bot: BotHarness) -> None:
    olga = bot.customer("olga@pekarnya.example", channel="email")
    [form] = await mail(
        olga, "Здравствуйте! Хотим купить 5 кофемашин для офиса, пришлите цену.", 1, subject="Цена"
    )
    assert form.startswith("Спасибо за интерес!")

    answer = "Имя: Ольга Смирнова\nКомпания: ООО «Пекарня»\nБюджет: 300 тысяч"
    ours = bot.channels["email"].sent[-1].header_id
    [saved] = await mail(olga, answer, 2, subject="Re: Цена", in_reply_to=ours)
    assert saved.startswith("Спасибо, Ольга Смирнова!")
    [lead] = await bot.leads()
    assert (lead.company, lead.budget) == ("ООО «Пекарня»", "300 тысяч")
    assert lead.need == "Хотим купить 5 кофемашин для офиса"


async def test_a_reply_without_threading_headers_joins_by_sender_and_subject(
    bot: BotHarness,
) -> None:
    olga = bot.customer("olga@pekarnya.example", channel="email")
    await mail(
        olga, "Здравствуйте! Хотим купить 5 кофемашин для офиса, пришлите цену.", 1, subject="Цена"
    )
    answer = "Имя: Ольга Смирнова\nКомпания: ООО «Пекарня»"
    [saved] = await mail(olga, answer, 2, subject="Ответ: Цена")
    assert saved.startswith("Спасибо, Ольга Смирнова!")
    [lead] = await bot.leads()
    assert lead.need.startswith("Хотим купить")


async def test_a_service_mail_opens_a_ticket_and_a_reply_in_the_thread_adds_to_it(
    bot: BotHarness,
) -> None:
    kim = bot.customer("kim@initech.example", channel="email")
    [opened] = await mail(
        kim, "My order 5531 arrived broken: the screen is cracked and it does not turn on.", 1,
        subject="Broken monitor",
    )  # fmt: skip
    assert opened.startswith("Your request #1001 is open.")
    our_reply = bot.channels["email"].sent[-1]
    assert our_reply.ticket == 1001 and our_reply.header_id

    [added] = await mail(
        kim, "Thanks. Also, the box was wet when it arrived.", 2,
        subject="Re: [#1001] Broken monitor", in_reply_to=our_reply.header_id,
        references=(our_reply.header_id,),
    )  # fmt: skip
    assert added == "Added to your request #1001."
    assert len(await bot.tickets()) == 1


async def test_a_forged_ticket_tag_from_a_stranger_does_not_join_the_conversation(
    bot: BotHarness,
) -> None:
    kim = bot.customer("kim@initech.example", channel="email")
    await mail(
        kim, "My order 5531 arrived broken: the screen is cracked and it does not turn on.", 1
    )
    mallory = bot.customer("mallory@evil.example", channel="email")

    replies = await mail(
        mallory, "What is the status of this?", 2, subject="Re: [#1001] Broken monitor"
    )

    assert "1001" not in " ".join(replies)  # no data of another customer's ticket
    async with bot.database.transaction() as uow:
        kims = await uow.conversations.recent_subjects(
            "email", "kim@initech.example", bot.clock.now.replace(year=2000)
        )
        mallorys = await uow.conversations.recent_subjects(
            "email", "mallory@evil.example", bot.clock.now.replace(year=2000)
        )
    assert len(kims) == 1 and len(mallorys) == 1 and kims[0][0] != mallorys[0][0]


async def test_an_unmarked_autoresponder_meets_the_reply_cap_and_a_person_is_asked_in(
    bot: BotHarness,
) -> None:
    robot = bot.customer("noreply-robot@vendor.example", channel="email")
    answered = 0
    for number in range(1, 31):
        bot.clock.advance(minutes=1)  # it answers each of our replies, as they come
        answered += len(
            await mail(
                robot,
                "Thank you for your message, we will get back to you.",
                number,
                subject="Hello",
            )
        )
    # Same sender, same subject: one conversation, so its cap (20 a day) stops the ping-pong.
    assert answered == 20
    kinds = await bot.kinds()
    assert "reply_cap_reached" in kinds
    async with bot.database.transaction() as uow:
        [handoff] = await uow.handoffs.search()
    assert handoff.reason == "reply_cap"


async def test_one_mail_per_turn_even_when_the_bot_says_two_things(bot: BotHarness) -> None:
    zoe = bot.customer("zoe@example.org", channel="email")
    [reply] = await mail(zoe, "Hello!", 1, subject="Hi")
    assert reply.startswith("Hello! I'm the Touchpoint assistant.")
    assert reply.endswith("What would you like to do?")
    assert [o.data for o in bot.channels["email"].sent[-1].options] == [
        "menu:lead", "menu:service", "menu:status", "menu:human",
    ]  # fmt: skip


async def test_an_out_of_office_answering_our_mail_is_recorded_on_that_conversation(
    bot: BotHarness,
) -> None:
    kim = bot.customer("kim@initech.example", channel="email")
    await mail(
        kim, "My order 5531 arrived broken: the screen is cracked and it does not turn on.", 1
    )
    ours = bot.channels["email"].sent[-1]
    away = kim.message(
        "Auto-Submitted: auto-replied", kind=InboundKind.EVENT, event="auto_reply",
        in_reply_to=ours.header_id, subject="Automatic reply: Broken monitor",
    )  # fmt: skip
    assert await kim.send(away) == []
    async with bot.database.transaction() as uow:
        [ignored] = await uow.touchpoints.search(kind="auto_reply_ignored")
        [ticket] = await uow.tickets.search()
    assert ignored.conversation_id == ticket.conversation_id
    assert ignored.details["reason"] == "Auto-Submitted: auto-replied"


async def test_a_bounced_address_is_reachable_again_only_once_a_send_to_it_succeeds(
    bot: BotHarness,
) -> None:
    # A From header proves nothing, so a mail from a bounced address does not by itself turn
    # sending back on: the reply to it is tried, and only its delivery makes the address
    # reachable again (a forged mail costs at most that one reply to the dead address).
    gone = bot.customer("gone@example.org", channel="email")
    await mail(gone, "Hello!", 1)
    async with bot.database.transaction() as uow:
        await uow.contacts.set_reachable("email", "gone@example.org", "bounced: 5.1.1 no such user")
        await uow.commit()
    bot.channels["email"].failures.append(
        PermanentSendError("550 5.1.1 no such user", unreachable=True)
    )
    assert await mail(gone, "Is anybody there?", 2) == []  # tried, refused: still bounced
    async with bot.database.transaction() as uow:
        assert not await uow.contacts.is_reachable("email", "gone@example.org")
    assert "reachable_again" not in await bot.kinds()

    assert len(await mail(gone, "Hello again, my mailbox works now", 3)) == 1
    async with bot.database.transaction() as uow:
        assert await uow.contacts.is_reachable("email", "gone@example.org")
        assert await uow.contacts.unreachable_reason("email", "gone@example.org") is None
        [again] = await uow.touchpoints.search(kind="reachable_again")
    assert again.details == {"address": "gone@example.org", "after": "bounce"}
