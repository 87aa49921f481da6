"""The floor of any bot that loses no message: each inbound message stored idempotently, in a
transaction of its own, on the engine and connection the dispatcher uses. The dispatcher's and
the email benchmarks measure against it."""

from __future__ import annotations

from bot.model import InboundMessage, utc_now
from storage.uow import Database, UnitOfWork


async def bare_insert(database: Database, message: InboundMessage) -> None:
    """The floor: store the inbound message idempotently in a transaction of its own."""

    async def work(uow: UnitOfWork) -> None:
        await uow.messages.insert(
            channel=message.channel,
            external_id=message.external_id,
            conversation_id=None,
            direction="in",
            text=message.text,
            now=utc_now(),
            raw=message.raw,  # a mail's bytes, kept as the dispatcher keeps them
        )
        await uow.commit()

    await database.run(work)
