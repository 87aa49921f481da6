"""Where channels keep their progress in the database (bot/cursors.py): which mails a
mailbox's catch-up finds stored already — on SQLite and PostgreSQL.
"""

from __future__ import annotations

from bot.cursors import StoredInbound
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
