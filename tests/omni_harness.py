"""Touchpoint with both channels in the test's process, and the people who talk to it.

`OmniBot` wires the Telegram channel (python-telegram-bot against `FakeTelegram`), the email
channel (a real Dovecot and aiosmtpd), the dispatcher, the relay and the scheduler as
`touchpoint run` does; `TelegramPerson` writes updates and reads what the fake received;
`MailCustomer` (tests/integration/test_email_channel.py) does the same by mail.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from bot.bootstrap import build_services
from bot.cursors import DatabaseOffsets, DatabaseWatermarks
from bot.dispatch import Dispatcher
from bot.relay import Relay, RelayPolicy
from bot.scheduler import Scheduler
from channels.email.adapter import EmailChannel
from channels.telegram.adapter import TelegramChannel, TelegramConfig
from storage.uow import Database
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_records import SentMessage
from tests.integration.test_email_channel import (
    WATERMARK_KEY,
    email_config,
    rows_settled,
    settings,
)
from tests.services.dovecot import Dovecot
from tests.services.smtp import SmtpServer
from tests.waiting import eventually

HANDOFF_KINDS = (
    "handoff_requested", "rep_notified", "rep_claimed", "claim_expired", "escalated",
    "customer_replied", "rep_replied", "returned_to_bot", "closed",
)  # fmt: skip


class OmniBot:
    """The bot with its Telegram and email channels, relay and scheduler on `database`."""

    def __init__(
        self,
        database: Database,
        fake: FakeTelegram,
        dovecot: Dovecot,
        smtp: SmtpServer,
        **overrides: object,
    ) -> None:
        self.database = database
        telegram = TelegramChannel(
            TelegramConfig(
                token=fake.token,
                api_url=fake.api_url,
                poll_timeout=1,
                max_per_chat=0.0,
                max_per_second=0.0,
                conflict_wait=0.2,
            ),
            DatabaseOffsets(database, "offset:test"),
        )
        email = EmailChannel(
            email_config(dovecot, smtp), DatabaseWatermarks(database, WATERMARK_KEY)
        )
        self.channels = (telegram, email)
        policy = RelayPolicy(poll_seconds=0.05, base_delay=0.1, max_delay=0.5)
        self.relay = Relay(database, {"telegram": telegram, "email": email}, policy=policy)
        self.dispatcher = Dispatcher(
            database,
            build_services(settings().model_copy(update=overrides)),
            on_commit=self.relay.wake,
        )
        self.scheduler = Scheduler(database, self.dispatcher, poll_seconds=0.05)
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> OmniBot:
        self._tasks = [
            *(asyncio.create_task(c.run(self.dispatcher.accept)) for c in self.channels),
            asyncio.create_task(self.scheduler.run()),
        ]
        self._relay = asyncio.create_task(self.relay.run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        crashed = [t.exception() for t in [*self._tasks, self._relay] if _crashed(t)]
        for task in self._tasks:
            task.cancel()
        self.relay.stop()
        for task in [*self._tasks, self._relay]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for channel in self.channels:
            await channel.close()
        if exc is None:
            assert crashed == []

    async def handoff_kinds(self) -> list[str]:
        """The hand-off touchpoints of the first hand-off's conversation, in order."""
        return [kind for kind, _ in await self.handoff_steps()]

    async def handoff_steps(self) -> list[tuple[str, object]]:
        """(kind, seconds since the request) of the first hand-off's touchpoints, in order."""
        async with self.database.transaction() as uow:
            [handoff, *_] = await uow.handoffs.search()
            found = await uow.touchpoints.search(conversation_id=handoff.conversation_id)
        return [(t.kind, t.details.get("latency")) for t in found if t.kind in HANDOFF_KINDS]

    async def email_taken(self, uid: int) -> None:
        """Until the mail with `uid` is committed (the watermark moves only after that)."""
        watermarks = DatabaseWatermarks(self.database, WATERMARK_KEY)

        async def past() -> bool:
            stored = await watermarks.load()
            return stored is not None and stored[1] >= uid

        await eventually(past, what=f"the watermark passing UID {uid}")

    async def reps_on_duty(self) -> set[str]:
        async with self.database.transaction() as uow:
            return {rep.name for rep in await uow.reps.on_duty()}


def _crashed(task: asyncio.Task[None]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None


class TelegramPerson:
    """Someone in a private chat with the bot: writes, replies, presses, reads."""

    def __init__(self, fake: FakeTelegram, chat_id: int, first: str, last: str = "") -> None:
        self.fake, self.chat_id, self.first, self.last = fake, chat_id, first, last
        self.read = 0

    def says(self, text: str, *, replying_to: SentMessage | None = None) -> int:
        update = self.fake.user_message(
            self.chat_id,
            text,
            first_name=self.first,
            last_name=self.last or None,
            reply_to_message_id=replying_to.message_id if replying_to else None,
        )
        return int(update["message"]["message_id"])

    def presses(self, button: str, on: SentMessage) -> None:
        self.fake.user_callback(self.chat_id, button, message_id=on.message_id)

    def received(self) -> list[SentMessage]:
        return [m for m in self.fake.sent if m.chat_id == self.chat_id]

    async def receives(self, count: int) -> list[SentMessage]:
        """The bot's next `count` messages to this chat (waiting for them)."""
        wanted = self.read + count
        await eventually(
            lambda: len(self.received()) >= wanted, what=f"{wanted} messages to {self.first}"
        )
        new = self.received()[self.read : wanted]
        self.read = wanted
        return new

    async def texts(self, count: int) -> list[str]:
        return [m.text for m in await self.receives(count)]

    async def catches_up(self, bot: OmniBot) -> list[str]:
        """Everything the bot has to say to this chat now, once it is all delivered."""
        await settled(bot)
        new = self.received()[self.read :]
        self.read += len(new)
        return [m.text for m in new]

    async def hears_nothing_more(self, bot: OmniBot) -> None:
        """Nothing new for this chat once everything queued has been delivered."""
        await settled(bot)
        assert [m.text for m in self.received()[self.read :]] == []


def buttons(message: SentMessage) -> list[str]:
    markup = message.reply_markup or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def settled(bot: OmniBot) -> None:
    """Every queued outbound row is sent (or failed): nothing more is on its way."""

    await eventually(lambda: rows_settled(bot.database), what="every queued message delivered")
