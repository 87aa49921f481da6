"""Hand-offs over the real channels: a customer and a rep on Telegram, on email, or one on each.

One bot runs in the test's process with both channels, the dispatcher, the relay and the
scheduler, as `touchpoint run` wires them: Telegram through python-telegram-bot against the
fake Bot API on 127.0.0.1, email through a real Dovecot (IMAP IDLE) and a real SMTP server
(aiosmtpd). People are played by the test: they write Telegram updates, append mail to the
bot's INBOX, press buttons and read what the fake API and the SMTP server received.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest

from bot.model import Address, utc_now
from bot.recorder import queue_notices
from handlers.team import welcome
from storage.uow import Database
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_records import SentMessage
from tests.integration.test_email_channel import BOT, MailCustomer, plain_text, quoting
from tests.omni_harness import OmniBot, TelegramPerson, buttons, settled
from tests.services import smtp as smtp_service
from tests.services.dovecot import Dovecot
from tests.services.smtp import SmtpServer
from tests.waiting import eventually

smtp_server = smtp_service.smtp_server  # the fixture, made visible to this module

ANN = 1001  # a customer on Telegram
OLGA = 4242  # a rep on Telegram
BORIS_TELEGRAM = 4343  # another
KIM = "kim@initech.example"  # a customer by email
BORIS = "boris@shop.example"  # a rep by email
# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
async def inbox(dovecot: Dovecot) -> Dovecot:
    await dovecot.reset_mailbox(BOT)
    return dovecot


@pytest.fixture
async def bot(
    database: Database, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> AsyncIterator[OmniBot]:
    async with OmniBot(database, fake, inbox, smtp_server) as running:
        yield running


async def add_rep(
    bot: OmniBot, name: str, *, telegram: int | None = None, email: str | None = None
) -> None:
    """A rep registered as `touchpoint reps add` does it: a rep by email gets the welcome mail
    with their secret reply address."""
    async with bot.database.transaction() as uow:
        given = (("telegram", str(telegram) if telegram else None), ("email", email))
        rep_id = await uow.reps.add(
            name=name, languages=("en", "ru"),
            identities=[Address(channel, value) for channel, value in given if value],
            role="rep", capacity=3, now=utc_now(),
        )  # fmt: skip
        rep = await uow.reps.get(rep_id)
        assert rep is not None
        services = bot.dispatcher.services
        await queue_notices(uow, welcome(services.context(uow), rep), services, utc_now())
        await uow.commit()
    bot.relay.wake()


# --- customer on Telegram, rep on Telegram ---------------------------------------------------


async def test_customer_and_rep_on_telegram_from_request_to_close(
    bot: OmniBot, fake: FakeTelegram
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA)
    ann = TelegramPerson(fake, ANN, "Ann", "Lee")
    olga = TelegramPerson(fake, OLGA, "Olga")
    olga.says("/online")
    assert await olga.texts(1) == ["You are online. Waiting conversations offered to you: 0."]

    ann.says("I'd like a quote for 40 standing desks for our Berlin office")
    await ann.receives(1)
    await ann.catches_up(bot)
    ann.says("I want to talk to a human")
    assert await ann.texts(1) == [
        "I'm passing your conversation to a person from our team. They will answer right "
        "here; anything you write meanwhile is kept for them. /cancel brings you back to me."
    ]

    [card] = await olga.receives(1)
    assert card.text.startswith(
        "New conversation #1 for you\nAnn Lee · telegram · en\nWhy: the customer asked for a person"
    )
    assert "customer: I'd like a quote for 40 standing desks" in card.text
    assert buttons(card) == ["claim:1"]
    olga.presses("claim:1", on=card)
    assert (await olga.texts(1))[0].startswith("Conversation #1 is yours.")
    assert await ann.texts(1) == ["Olga from our team has joined and will answer you here."]

    ann.says("Can you deliver by Friday?")
    [relayed] = await olga.receives(1)
    assert relayed.text == "#1 Ann Lee: Can you deliver by Friday?"
    olga.says("Yes, Friday works. I'll send the offer today.", replying_to=relayed)
    assert await ann.texts(1) == ["Yes, Friday works. I'll send the offer today."]
    ann.says("Great, and 4 more chairs please")
    assert await olga.texts(1) == ["#1 Ann Lee: Great, and 4 more chairs please"]
    olga.says("/r 1 Added the chairs.")
    assert await ann.texts(1) == ["Added the chairs."]

    olga.says("/close 1")
    assert await olga.texts(1) == ["Conversation #1 is closed; the customer was told."]
    closed, asked = await ann.texts(2)
    assert closed.startswith("Our team has closed this conversation.")
    assert asked.startswith("How satisfied are you with the help you got from our team?")
    ann.says("thanks")  # no rating: read as usual, and not asked again
    assert (await ann.texts(1))[0] == "You're welcome! Write any time."  # the bot is back
    await olga.hears_nothing_more(bot)

    assert await bot.handoff_kinds() == [
        "handoff_requested", "rep_notified", "rep_claimed", "customer_replied", "rep_replied",
        "customer_replied", "rep_replied", "closed",
    ]  # fmt: skip
    # Every step after the request says how long after it came (time to claim, to answer...).
    latencies = [latency for _, latency in (await bot.handoff_steps())[1:]]
    seconds = [float(s) for s in latencies if isinstance(s, float | int)]
    assert len(seconds) == len(latencies) and seconds == sorted(seconds), latencies


async def test_while_with_a_rep_photos_stickers_edits_and_buttons_get_no_bot_reply(
    bot: OmniBot, fake: FakeTelegram
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA)
    ann = TelegramPerson(fake, ANN, "Ann")
    olga = TelegramPerson(fake, OLGA, "Olga")
    olga.says("/online")
    await olga.receives(1)
    ann.says("/human")
    await ann.receives(1)
    [card] = await olga.receives(1)
    olga.presses("claim:1", on=card)
    await olga.receives(1)
    await ann.receives(1)  # "Olga from our team has joined ..."

    first = ann.says("the box")
    fake.inject(media_message(ANN, 900, "photo", [PHOTO]))
    fake.inject(media_message(ANN, 901, "sticker", STICKER))
    fake.user_edit(ANN, first, "the box was wet")
    fake.user_callback(ANN, "menu:lead", message_id=card.message_id)

    shown = await olga.receives(6)
    assert [(m.method, m.text) for m in shown] == [
        ("sendMessage", "#1 Ann: the box"),
        ("copyMessage", ""),  # the photo itself
        ("sendMessage", "#1 Ann: [photo]"),
        ("copyMessage", ""),  # the sticker itself
        ("sendMessage", "#1 Ann: [sticker]"),
        ("sendMessage", "#1 Ann: [button: menu:lead]"),
    ]
    assert [m.reply_to for m in shown[2:5:2]] == [shown[1].message_id, shown[3].message_id]
    copied = [
        (c.params["from_chat_id"], c.params["message_id"])
        for c in fake.calls
        if c.method == "copyMessage"
    ]
    assert copied == [(ANN, 900), (ANN, 901)]
    await ann.hears_nothing_more(bot)
    olga.says("Thanks, I see the damage.", replying_to=shown[2])  # answering the photo's label
    assert await ann.texts(1) == ["Thanks, I see the damage."]
    async with bot.database.transaction() as uow:
        stored = [t.kind for t in await uow.touchpoints.search(kind="customer_replied")]
    assert len(stored) == 4


async def test_two_reps_press_claim_at_the_same_moment_one_wins_the_other_is_told(
    bot: OmniBot, fake: FakeTelegram
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA)
    await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM)
    olga = TelegramPerson(fake, OLGA, "Olga")
    boris = TelegramPerson(fake, BORIS_TELEGRAM, "Boris")
    olga.says("/online")
    boris.says("/online")
    [olga_online], [boris_online] = await olga.receives(1), await boris.receives(1)
    ann = TelegramPerson(fake, ANN, "Ann")
    ann.says("/human")
    await ann.receives(1)
    await eventually(lambda: len(olga.received()) + len(boris.received()) == 3, what="the card")

    # Both presses reach the bot in one getUpdates batch; whoever was not offered the card
    # presses Claim on a message of their own (the number is all they know). Only the rep it
    # was offered to can take it; the other is told, whichever press came first.
    offered = "Olga" if len(olga.received()) > 1 else "Boris"
    olga.presses("claim:1", on=olga.received()[-1] if len(olga.received()) > 1 else olga_online)
    boris.presses("claim:1", on=boris.received()[-1] if len(boris.received()) > 1 else boris_online)

    def answers() -> list[str]:
        return [m.text for m in [*olga.received(), *boris.received()]]

    def claim_answers() -> list[str]:
        told = r"Conversation #1 (is yours|was taken by|is not assigned to you)"
        return [t for t in answers() if re.match(told, t)]

    await eventually(lambda: len(claim_answers()) >= 2, what="both reps answered")
    await settled(bot)
    won = [text for text in answers() if text.startswith("Conversation #1 is yours.")]
    assert len(won) == 1, answers()
    assert len(claim_answers()) == 2, answers()  # the other told once
    assert await ann.catches_up(bot) == [
        f"{offered} from our team has joined and will answer you here."
    ]
    assert (await bot.handoff_kinds()).count("rep_claimed") == 1


PHOTO = {"file_id": "ph-1", "file_unique_id": "u1", "width": 800, "height": 600}
STICKER = {
    "file_id": "st-1", "file_unique_id": "u2", "type": "regular", "width": 512, "height": 512,
    "is_animated": False, "is_video": False, "emoji": "👍",
}  # fmt: skip


def media_message(
    chat_id: int,
    message_id: int,
    kind: str,
    media: object,
    *,
    caption: str = "",
    replying_to: SentMessage | None = None,
) -> dict[str, object]:
    """A message with a photo, a sticker... as Telegram sends it (the fake has no builder)."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Ann", "language_code": "en"}
    chat = {"id": chat_id, "type": "private", "first_name": "Ann"}
    date = int(utc_now().timestamp())
    message = {"message_id": message_id, "date": date, "chat": chat, "from": user, kind: media}
    if caption:
        message["caption"] = caption
    if replying_to is not None:
        message["reply_to_message"] = {
            "message_id": replying_to.message_id, "date": date, "chat": chat,
        }  # fmt: skip
    return {"message": message}


# --- customer by email, rep on Telegram ------------------------------------------------------


async def test_customer_by_email_with_a_rep_on_telegram(
    bot: OmniBot, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA)
    olga = TelegramPerson(fake, OLGA, "Olga")
    olga.says("/online")
    await olga.receives(1)
    kim = MailCustomer(inbox, smtp_server, KIM, "Kim Lee")

    asked = await kim.writes("Contract", "Please, I need to speak to a real person.")
    [passing] = await kim.receives(1)
    assert plain_text(passing).startswith("I'm passing your conversation to a person")
    assert passing["In-Reply-To"] == asked.message_id
    assert passing["Auto-Submitted"] == "auto-replied"  # the bot wrote it

    [card] = await olga.receives(1)
    assert card.text.startswith("New conversation #1 for you\nKim Lee · email · en\n")
    assert "customer: Please, I need to speak to a real person." in card.text
    olga.presses("claim:1", on=card)
    await olga.receives(1)
    [joined] = await kim.receives(1)
    assert plain_text(joined) == "Olga from our team has joined and will answer you here."

    await kim.writes(
        "Re: Contract",
        quoting(joined, "Hello Olga, can we extend it to 24 months?"),
        replying_to=joined,
    )
    [relayed] = await olga.receives(1)
    assert relayed.text == "#1 Kim Lee: Hello Olga, can we extend it to 24 months?"  # no quote

    olga.says("Yes, 24 months is possible. I'll send the papers.", replying_to=relayed)
    [answer] = await kim.receives(1)
    assert plain_text(answer) == "Yes, 24 months is possible. I'll send the papers."
    assert answer["Subject"] == "Re: Contract"
    assert answer["To"] == KIM
    assert answer["Auto-Submitted"] is None  # a person wrote it
    assert asked.message_id in str(answer["References"]).split()  # the customer's own thread

    await kim.writes("Re: Contract", quoting(answer, "Perfect, thank you."), replying_to=answer)
    assert await olga.texts(1) == ["#1 Kim Lee: Perfect, thank you."]
    olga.says("/close 1")
    await olga.receives(1)
    [closed] = await kim.receives(1)  # one mail: closed, and how did we do?
    assert plain_text(closed).startswith("Our team has closed this conversation.")
    assert "How satisfied are you with the help you got from our team?" in plain_text(closed)
    await settled(bot)
    assert len(kim.envelopes()) == 4  # passing, joined, the answer, closed: the bot added nothing

    assert await bot.handoff_kinds() == [
        "handoff_requested", "rep_notified", "rep_claimed", "customer_replied", "rep_replied",
        "customer_replied", "closed",
    ]  # fmt: skip


# --- customer on Telegram, rep by email ------------------------------------------------------


async def test_customer_on_telegram_with_a_rep_by_email(
    bot: OmniBot, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    await add_rep(bot, "Boris", email=BORIS)
    boris = MailCustomer(inbox, smtp_server, BORIS, "Boris Ivanov")
    [welcomed] = await boris.receives(1)
    await boris.writes("on duty", "/online", replying_to=welcomed)
    [online] = await boris.receives(1)
    assert plain_text(online) == "You are online. Waiting conversations offered to you: 0."
    assert await bot.reps_on_duty() == {"Boris"}
    ann = TelegramPerson(fake, ANN, "Ann", "Lee")

    ann.says("I want to talk to a human")
    await ann.receives(1)
    [card] = await boris.receives(1)
    assert card["Subject"] == "[#1] Ann Lee"
    assert plain_text(card).startswith("New conversation #1 for you\nAnn Lee · telegram · en\n")

    await boris.writes(  # replying to the card claims it and answers at once
        "Re: [#1] Ann Lee", quoting(card, "Hi Ann, Boris here. How can I help?"), replying_to=card
    )
    assert await ann.texts(2) == [
        "Boris from our team has joined and will answer you here.",
        "Hi Ann, Boris here. How can I help?",
    ]
    [claimed] = await boris.receives(1)
    assert plain_text(claimed).startswith("Conversation #1 is yours.")

    ann.says("I need 3 more chairs, same model")
    [relayed] = await boris.receives(1)
    assert plain_text(relayed) == "#1 Ann Lee: I need 3 more chairs, same model"
    assert relayed["Subject"] == "Re: [#1] Ann Lee"  # in the thread of the card
    assert relayed["In-Reply-To"] == card["Message-ID"]
    await boris.writes(
        "Re: [#1] Ann Lee", quoting(relayed, "Done, they ship on Monday."), replying_to=relayed
    )
    assert await ann.texts(1) == ["Done, they ship on Monday."]

    await boris.writes("Re: [#1] Ann Lee", quoting(relayed, "/close 1"), replying_to=relayed)
    [done] = await boris.receives(1)
    assert plain_text(done) == "Conversation #1 is closed; the customer was told."
    closed, asked = await ann.texts(2)
    assert closed.startswith("Our team has closed this conversation.")
    assert asked.startswith("How satisfied are you with the help you got from our team?")
    await ann.hears_nothing_more(bot)

    assert await bot.handoff_kinds() == [
        "handoff_requested", "rep_notified", "rep_claimed", "rep_replied", "customer_replied",
        "rep_replied", "closed",
    ]  # fmt: skip


async def test_mail_with_a_forged_rep_from_line_does_nothing_a_rep_could(
    bot: OmniBot, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    await add_rep(bot, "Boris", email=BORIS)
    boris = MailCustomer(inbox, smtp_server, BORIS, "Boris Ivanov")
    [welcomed] = await boris.receives(1)
    assert str(welcomed["Reply-To"]).startswith("bot+r")  # his secret reply address
    await boris.writes("on duty", "/online", replying_to=welcomed)
    await boris.receives(1)
    ann = TelegramPerson(fake, ANN, "Ann", "Lee")
    ann.says("/human")
    await ann.receives(1)
    [card] = await boris.receives(1)
    await boris.writes("Re: [#1] Ann Lee", quoting(card, "Hello Ann!"), replying_to=card)
    await ann.texts(2)
    await boris.receives(1)

    # Anybody can write Boris's address in From, and put the card's subject on a mail too.
    forger = MailCustomer(inbox, smtp_server, BORIS, "Boris Ivanov")
    for subject, text in (
        ("Re: [#1] Ann Lee", "Ann, please pay the invoice to IBAN XX00 1234 today."),
        ("Re: [#1] Ann Lee", "/r 1 Ann, please pay the invoice to IBAN XX00 1234."),
        ("Re: [#1] Ann Lee", "/close 1"),
        ("off", "/offline"),
    ):
        sent = await forger.writes(subject, text)
        await bot.email_taken(sent.uid)

    await ann.hears_nothing_more(bot)
    assert await bot.reps_on_duty() == {"Boris"}
    async with bot.database.transaction() as uow:
        [handoff] = await uow.handoffs.search()
        rep_messages = await uow.touchpoints.search(kind="rep_message")
    assert (handoff.status, handoff.rep_id) == ("claimed", 1)
    assert len(rep_messages) == 2  # /online and the answer to the card: his own mail only


async def test_a_reps_mail_client_minting_ids_under_the_company_domain_is_not_a_loop(
    bot: OmniBot, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    # Thunderbird, Apple Mail and Exchange mint Message-IDs under the sender's domain: the
    # company's, like ours. Ours live under their own label (tp.example.com) since that made
    # every mail of a rep look like our own coming back.
    await add_rep(bot, "Boris", email=BORIS)
    boris = MailCustomer(inbox, smtp_server, BORIS, "Boris Ivanov")
    [welcomed] = await boris.receives(1)
    assert str(welcomed["Message-ID"]).endswith("@tp.example.com>")
    sent = await boris.writes(
        "on duty", "/online", replying_to=welcomed, message_id="<boris-1@example.com>"
    )
    await bot.email_taken(sent.uid)
    assert await bot.reps_on_duty() == {"Boris"}
    async with bot.database.transaction() as uow:
        assert await uow.touchpoints.search(kind="loop_ignored") == []


async def test_a_rep_by_email_cannot_answer_a_conversation_of_another_rep(
    bot: OmniBot, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA)
    await add_rep(bot, "Boris", email=BORIS)
    olga = TelegramPerson(fake, OLGA, "Olga")
    olga.says("/online")
    await olga.receives(1)
    ann = TelegramPerson(fake, ANN, "Ann")
    ann.says("/human")
    await ann.receives(1)
    [card] = await olga.receives(1)
    olga.presses("claim:1", on=card)
    await olga.receives(1)
    await ann.receives(1)

    boris = MailCustomer(inbox, smtp_server, BORIS, "Boris Ivanov")
    [welcomed] = await boris.receives(1)
    await boris.writes("answer", "/r 1 Ann, here is my private offer", replying_to=welcomed)
    [refused] = await boris.receives(1)
    assert (
        plain_text(refused) == "Conversation #1 is not assigned to you. A manager can reassign it."
    )
    await ann.hears_nothing_more(bot)


# --- files across channels -------------------------------------------------------------------


async def test_a_telegram_photo_reaches_a_rep_by_email_as_an_attachment(
    bot: OmniBot, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    await add_rep(bot, "Boris", email=BORIS)
    boris = MailCustomer(inbox, smtp_server, BORIS, "Boris Ivanov")
    [welcomed] = await boris.receives(1)
    await boris.writes("on duty", "/online", replying_to=welcomed)
    await boris.receives(1)
    ann = TelegramPerson(fake, ANN, "Ann", "Lee")
    ann.says("/human")
    await ann.receives(1)
    [card] = await boris.receives(1)
    await boris.writes("Re: [#1] Ann Lee", quoting(card, "Hello Ann!"), replying_to=card)
    await boris.receives(1)
    await ann.texts(2)

    picture = b"\xff\xd8\xff\xe0 a photo of a broken armrest \xff\xd9"
    fake.add_file("ph-armrest", picture)
    photo = PHOTO | {"file_id": "ph-armrest", "file_size": len(picture)}
    fake.inject(media_message(ANN, 910, "photo", [photo]))
    [relayed] = await boris.receives(1)

    assert plain_text(relayed) == "#1 Ann Lee: [photo]"
    [attached] = list(relayed.iter_attachments())
    assert (attached.get_filename(), attached.get_content_type()) == ("photo.jpg", "image/jpeg")
    assert attached.get_content() == picture
    await ann.hears_nothing_more(bot)


async def test_a_file_mailed_by_a_customer_reaches_a_rep_on_telegram_as_a_document(
    bot: OmniBot, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA)
    olga = TelegramPerson(fake, OLGA, "Olga")
    olga.says("/online")
    await olga.receives(1)
    kim = MailCustomer(inbox, smtp_server, KIM, "Kim Lee")
    await kim.writes("Offer", "I need to speak to a real person about our offer.")
    await kim.receives(1)
    [card] = await olga.receives(1)
    olga.presses("claim:1", on=card)
    await olga.receives(1)
    [joined] = await kim.receives(1)

    offer = b"%PDF-1.4 the signed offer %%EOF"
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = f"Kim Lee <{KIM}>", BOT, "Re: Offer"
    mail["Message-ID"], mail["In-Reply-To"] = "<offer-1@initech.example>", joined["Message-ID"]
    mail.set_content("Here is the signed offer.")
    mail.add_attachment(offer, maintype="application", subtype="pdf", filename="offer.pdf")
    await kim.sends(mail.as_bytes(), "<offer-1@initech.example>")

    document, label = await olga.receives(2)
    assert (document.method, label.method) == ("sendDocument", "sendMessage")
    uploads = [c.params["document"] for c in fake.calls if c.method == "sendDocument"]
    assert uploads == ["<file offer.pdf>"]  # the fake keeps the name of what was uploaded
    assert label.text == "#1 Kim Lee: Here is the signed offer.\n[file: offer.pdf]"
    assert label.reply_to == document.message_id
    await settled(bot)
    assert len(kim.envelopes()) == 2  # the bot said nothing of its own


async def test_a_very_long_mail_reaches_a_rep_on_telegram_as_a_file_not_25_messages(
    bot: OmniBot, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA)
    olga = TelegramPerson(fake, OLGA, "Olga")
    olga.says("/online")
    await olga.receives(1)
    kim = MailCustomer(inbox, smtp_server, KIM, "Kim Lee")
    await kim.writes("Specs", "I need to speak to a real person about our specification.")
    await kim.receives(1)
    [card] = await olga.receives(1)
    olga.presses("claim:1", on=card)
    await olga.receives(1)
    [joined] = await kim.receives(1)

    words = " ".join(f"requirement-{n}" for n in range(7000))  # about 100,000 characters
    await kim.writes("Re: Specs", words, replying_to=joined)

    document, label = await olga.receives(2)
    assert (document.method, label.method) == ("sendDocument", "sendMessage")
    uploads = [c.params["document"] for c in fake.calls if c.method == "sendDocument"]
    assert uploads == ["<file message.txt>"]
    assert label.text.startswith("#1 Kim Lee: requirement-0 requirement-1")
    assert label.text.endswith("…\n(a long message: the whole text is attached)")
    assert len(label.text) < 3200
    await settled(bot)
    assert len(olga.received()) == 5  # online, card, claimed, then the file and its label


async def test_a_reps_photo_reaches_the_customer_on_either_channel(
    bot: OmniBot, fake: FakeTelegram, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA)
    olga = TelegramPerson(fake, OLGA, "Olga")
    olga.says("/online")
    await olga.receives(1)
    kim = MailCustomer(inbox, smtp_server, KIM, "Kim Lee")
    await kim.writes("Chairs", "I need to speak to a real person about the chair colours.")
    await kim.receives(1)
    [card] = await olga.receives(1)
    olga.presses("claim:1", on=card)
    await olga.receives(1)
    await kim.receives(1)

    picture = b"\xff\xd8\xff\xe0 a grey chair \xff\xd9"
    fake.add_file("ph-grey", picture)
    photo = PHOTO | {"file_id": "ph-grey", "file_size": len(picture)}
    fake.inject(media_message(OLGA, 930, "photo", [photo], caption="Like this one?",
                              replying_to=card))  # fmt: skip
    [answer] = await kim.receives(1)

    assert plain_text(answer) == "Like this one?"
    [attached] = list(answer.iter_attachments())
    assert (attached.get_filename(), attached.get_content()) == ("photo.jpg", picture)
    assert answer["Auto-Submitted"] is None
    assert (await bot.handoff_kinds())[-1] == "rep_replied"

    ann = TelegramPerson(fake, ANN, "Ann")  # and to a customer on Telegram: the photo itself
    ann.says("/human")
    await ann.receives(1)
    [card_2] = await olga.receives(1)
    olga.presses("claim:2", on=card_2)
    await olga.receives(1)
    await ann.receives(1)
    fake.inject(media_message(OLGA, 931, "photo", [photo], replying_to=card_2))
    [shown] = await ann.receives(1)
    assert (shown.method, shown.text) == ("copyMessage", "")  # no empty label after it
    copied = [(c.params["chat_id"], c.params["from_chat_id"], c.params["message_id"])
              for c in fake.calls if c.method == "copyMessage"]  # fmt: skip
    assert copied == [(ANN, OLGA, 931)]
    await ann.hears_nothing_more(bot)
