"""Where channels keep their progress: cursors in `channel_cursors`, beside the turns they
acknowledge (the Telegram offset, an IMAP mailbox's watermark), what a mailbox's catch-up
finds stored already, and the terminal's customer."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from bot.model import utc_now
from bot.storing import storable_key
from storage.uow import Database, UnitOfWork

TERMINAL_CUSTOMER = ("console", "customer")


async def terminal_customer(database: Database) -> str:
    """Who types at `touchpoint run`'s terminal (and `shell` without `--as`): a guest named on
    first use and kept in the database, so each start continues the same conversation."""

    async def work(uow: UnitOfWork) -> str:
        made_up = f"guest-{secrets.token_hex(3)}"
        name = await uow.cursors.setdefault(*TERMINAL_CUSTOMER, made_up, utc_now())
        await uow.commit()
        return name

    return await database.run(work)


class DatabaseOffsets:
    """The Telegram offset kept in `channel_cursors`, next to the turns it acknowledges."""

    def __init__(self, database: Database, key: str) -> None:
        self._database = database
        self._key = key

    async def load(self) -> int:
        value = await self._database.run(lambda uow: uow.cursors.get("telegram", self._key))
        return int(value) if value else 0

    async def save(self, offset: int) -> None:
        async def work(uow: UnitOfWork) -> None:
            await uow.cursors.put("telegram", self._key, str(offset), utc_now())
            await uow.commit()

        await self._database.run(work)


class DatabaseWatermarks:
    """The IMAP watermark of one mailbox, kept in `channel_cursors`: `uidvalidity:last_uid`,
    and `:catch_up_to` while a catch-up goes on (channels/email/catch_up.py)."""

    def __init__(self, database: Database, key: str) -> None:
        self._database = database
        self._key = key

    async def load(self) -> tuple[int, int, int] | None:
        value = await self._database.run(lambda uow: uow.cursors.get("email", self._key))
        if not value:
            return None
        uidvalidity, last_uid, *catch_up = (int(part) for part in value.split(":"))
        return uidvalidity, last_uid, catch_up[0] if catch_up else 0

    async def save(self, uidvalidity: int, last_uid: int, catch_up_to: int = 0) -> None:
        value = f"{uidvalidity}:{last_uid}" + (f":{catch_up_to}" if catch_up_to else "")

        async def work(uow: UnitOfWork) -> None:
            await uow.cursors.put("email", self._key, value, utc_now())
            await uow.commit()

        await self._database.run(work)


class StoredInbound:
    """Which mails are stored already as inbound messages of `channel`, by their Message-ID
    (the key) and sender (their conversation's address): what a mailbox's catch-up passes over
    rather than reading it again."""

    def __init__(self, database: Database, channel: str = "email") -> None:
        self._database = database
        self._channel = channel

    async def stored(self, mails: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        stored_as = {pair: (storable_key(pair[0]), storable_key(pair[1])) for pair in mails}
        keys = sorted({key for key, _ in stored_as.values()})
        found = await self._database.run(
            lambda uow: uow.messages.inbound_addresses(self._channel, keys)
        )
        return {pair for pair, stored in stored_as.items() if stored in found}
