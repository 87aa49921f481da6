"""A message's files are stored with it, once, and given back with the stored message: a mail
is parsed when it arrives and never again to show its files to a rep (on both engines)."""

from __future__ import annotations

from sqlalchemy import select

from bot.model import Address, FileCopy, OutboundMessage
from bot.originals import Originals
from channels.email.adapter import EmailChannel, EmailConfig
from channels.email.imap import ImapConfig
from channels.email.inbound import Ours
from channels.email.smtp import SmtpConfig
from storage.tables import message_files
from storage.uow import Database
from tests.harness import BotHarness

KIM = "kim@initech.example"
OFFER = FileCopy("offer.pdf", "application/pdf", b"%PDF-1.4 \x00\xff the signed offer")
PHOTO = FileCopy("armrest\x00.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 a broken armrest")


class Watermarks:
    async def load(self) -> tuple[int, int, int] | None:
        return None

    async def save(self, uidvalidity: int, last_uid: int, catch_up_to: int = 0) -> None:
        return None


def email_channel() -> EmailChannel:
    """The real adapter, never started: nothing here connects anywhere."""
    config = EmailConfig(
        imap=ImapConfig(host="127.0.0.1", port=1, user="bot", password="-", security="none"),
        smtp=SmtpConfig(host="127.0.0.1", port=1, user=None, password=None, security="none"),
        email_from="Shop <shop@example.com>",
        ours=Ours(frozenset({"shop@example.com"}), "loop", frozenset({"example.com"})),
        message_id_domain="example.com",
    )
    return EmailChannel(config, Watermarks())


async def stored_files(database: Database) -> list[tuple[int, str, str, bytes]]:
    query = select(
        message_files.c.message_id,
        message_files.c.name,
        message_files.c.mime_type,
        message_files.c.data,
    ).order_by(message_files.c.id)
    async with database.transaction() as uow:
        rows = await uow.connection.execute(query)
        return [(row.message_id, row.name, row.mime_type, row.data) for row in rows]


async def test_files_are_stored_with_their_message_once(bot: BotHarness) -> None:
    kim = bot.customer(KIM, channel="email")
    mail = kim.message("Here is the offer and a photo.", files=(OFFER, PHOTO), raw=b"...")
    await kim.send(mail)
    await kim.send(mail)  # a redelivery: already stored, nothing added

    [(first, *offer), (second, *photo)] = await stored_files(bot.database)
    assert first == second
    assert offer == ["offer.pdf", "application/pdf", OFFER.data]
    assert photo == ["armrest\u2400.jpg", "image/jpeg", PHOTO.data]  # NUL made storable


async def test_a_mails_files_reach_a_rep_from_storage_without_parsing_it_again(
    bot: BotHarness,
) -> None:
    kim = bot.customer(KIM, channel="email")
    # bytes that are no mail at all: were they parsed again, no file could come out of them
    await kim.send(kim.message("The offer.", files=(OFFER,), raw=b"\x00 not a mail \xff"))
    [(message_id, *_)] = await stored_files(bot.database)
    originals = Originals(bot.database, {"email": email_channel()})

    to_rep = OutboundMessage(Address("telegram", "7001"), "#1 Kim Lee: The offer.")
    shown = await originals.shown(to_rep, message_id)
    assert shown.files == (OFFER,)
    assert shown.text == to_rep.text


async def test_a_message_without_files_stores_none(bot: BotHarness) -> None:
    kim = bot.customer(KIM, channel="email")
    await kim.send(kim.message("No files here."))
    assert await stored_files(bot.database) == []
