"""Where channels keep their progress in the database (bot/cursors.py): an IMAP mailbox's
watermark, and which mails its catch-up finds stored already — on SQLite and PostgreSQL.
"""

from __future__ import annotations

from bot.cursors import DatabaseWatermarks, StoredInbound
from bot.model import utc_now
from bot.storing import storable_key
from storage.uow import Database
from tests.integration.helpers import new_conversation


async def test_stored_mail_is_known_by_its_message_id_and_its_sender(database: Database) -> None:
    long_id = f"<{'x' * 300}@initech.example>"  # stored as a hash of itself (bot/storing.py)
    now = utc_now()
    async with database.transaction() as uow:
        kim = await new_conversation(uow, now, "kim@initech.example", channel="email")
        stored = {"<a@initech.example>": "in", storable_key(long_id): "in"}
        for key, direction in {**stored, "<ours@tp.example.com>": "out"}.items():
            await uow.messages.insert(
                channel="email",
                external_id=key,
                conversation_id=kim.id,
                direction=direction,
                text="",
                now=now,
            )
        await uow.commit()

    found = await StoredInbound(database).stored(
        [
            ("<a@initech.example>", "kim@initech.example"),
            (long_id, "kim@initech.example"),
            ("<a@initech.example>", "mallory@evil.example"),  # the same id, another sender
            ("<ours@tp.example.com>", "kim@initech.example"),  # ours, not an inbound mail
            ("<b@initech.example>", "kim@initech.example"),
        ]
    )

    assert found == {
        ("<a@initech.example>", "kim@initech.example"),
        (long_id, "kim@initech.example"),
    }


async def test_a_watermark_keeps_its_catch_up_and_an_older_one_still_loads(
    database: Database,
) -> None:
    watermarks = DatabaseWatermarks(database, "bot@example.com@127.0.0.1/INBOX")
    assert await watermarks.load() is None

    await watermarks.save(7, 2, 40)
    assert await watermarks.load() == (7, 2, 40)
    await watermarks.save(7, 40)
    assert await watermarks.load() == (7, 40, 0)

    async with database.transaction() as uow:  # as versions before catch-ups wrote it
        await uow.cursors.put("email", "old@example.com@host/INBOX", "9:15", utc_now())
        await uow.commit()
    assert await DatabaseWatermarks(database, "old@example.com@host/INBOX").load() == (9, 15, 0)
