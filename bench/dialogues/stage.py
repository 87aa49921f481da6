"""Prospects played through the real bot: the dispatcher, router, handlers and relay on a
migrated SQLite database in a temporary folder; the terminal is an in-memory channel, and mail
goes in as raw bytes through the email channel's own reading (`to_inbound`) and comes back as
the email channel composes it.

Prospects play one after the other on one database, each from an address of its own, so the
leads a prospect's dialogue saved are the ones created while it played.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.dialogues.mailer import (
    BOT_ADDRESS,
    BOT_FROM,
    MailClient,
    bot_mail,
    parse_raw,
    readable,
)
from bench.dialogues.phrases import Phrases
from bench.dialogues.policy import Prospect
from bench.dialogues.profiles import Profile, Utterance
from bench.dialogues.questions import Heard, Recogniser
from bot.bootstrap import build_services, email_channel_ours
from bot.model import InboundKind, OutboundMessage
from bot.records import Lead
from bot.settings import Settings
from channels.email.inbound import Ours, to_inbound
from channels.email.mail import FetchedMail
from storage.uow import Database
from tests.harness import BotHarness, FakeClock

TERMINAL_PAUSE = 40.0  # seconds between a prospect's chat messages
MAIL_PAUSE = 50.0  # minutes between a bot's mail and the prospect's answer


@dataclass(frozen=True, slots=True)
class Line:
    who: str  # "prospect" or "bot"
    text: str


@dataclass(frozen=True, slots=True)
class Played:
    """One prospect's dialogue and what it left: the lead saved, if any (the last, should it
    have saved more), every lead saved, and how many tickets it opened."""

    prospect: Prospect
    lead: Lead | None
    transcript: tuple[Line, ...]
    problem: str = ""  # a mail the channel did not take as a person's, with why
    leads: tuple[Lead, ...] = ()
    tickets: int = 0

    @property
    def profile(self) -> Profile:
        return self.prospect.profile


class Stage:
    def __init__(self, bot: BotHarness, ours: Ours, recogniser: Recogniser, phrases: Phrases):
        self.bot = bot
        self.ours = ours
        self.recogniser = recogniser
        self.phrases = phrases

    @classmethod
    @asynccontextmanager
    async def open(cls, phrases: Phrases) -> AsyncIterator[Stage]:
        # The mailbox settings make the email channel configured (our Message-ID domain, what
        # marks our own mail); nothing connects to these servers.
        settings = Settings(
            _env_file=None,
            email_from=BOT_FROM,
            imap_host="imap.touchpoint.example",
            imap_user=BOT_ADDRESS,
            imap_password="unused",
            smtp_host="smtp.touchpoint.example",
        )
        services = build_services(settings)
        with tempfile.TemporaryDirectory() as folder:
            database = Database.from_url(f"sqlite+aiosqlite:///{Path(folder) / 'dialogues.db'}")
            try:
                await database.upgrade()
                bot = BotHarness(database, FakeClock(), services)
                recogniser = Recogniser(services.texts)
                yield cls(bot, email_channel_ours(settings), recogniser, phrases)
            finally:
                await database.dispose()

    async def play(self, profile: Profile) -> Played:
        prospect = Prospect(profile, self.phrases, self.recogniser)
        before = {lead.id for lead in await self.bot.leads()}
        tickets = len(await self.bot.tickets())
        transcript: list[Line] = []
        if profile.channel == "email":
            problem = await self._by_mail(prospect, transcript)
        else:
            problem = await self._in_terminal(prospect, transcript)
        new = [lead for lead in await self.bot.leads() if lead.id not in before]
        opened = len(await self.bot.tickets()) - tickets
        last = new[0] if new else None
        return Played(prospect, last, tuple(transcript), problem, tuple(new), opened)

    async def _in_terminal(self, prospect: Prospect, transcript: list[Line]) -> str:
        customer = self.bot.customer(f"{prospect.profile.key}@terminal")
        utterance: Utterance | None = prospect.opener()
        while utterance is not None:
            transcript.append(Line("prospect", utterance.text))
            sent = len(customer.channel.sent)
            await customer.say(utterance.text)
            replies = self._new_replies(customer.channel.sent[sent:], customer.address.value)
            transcript += [Line("bot", reply.text) for reply in replies]
            utterance = prospect.reply_to(self._heard(replies, prospect))
            self.bot.clock.advance(seconds=TERMINAL_PAUSE)
        return ""

    async def _by_mail(self, prospect: Prospect, transcript: list[Line]) -> str:
        assert prospect.profile.mail is not None
        client = MailClient(prospect.profile, prospect.profile.mail)
        raw = client.first(prospect.opener(), self.bot.clock.now)
        while True:
            transcript.append(Line("prospect", readable(parse_raw(raw))))
            replies, problem = await self.mail_in(raw, client.sent)
            if problem:
                return problem
            mails = [bot_mail(reply, self.ours.loop_token, self.bot.clock.now) for reply in replies]
            transcript += [Line("bot", readable(mail)) for mail in mails]
            answer = prospect.reply_to(self._heard(replies, prospect))
            if answer is None or not mails:
                return ""
            self.bot.clock.advance(minutes=MAIL_PAUSE)
            raw = client.reply(answer, mails[-1], self.bot.clock.now)

    async def mail_in(self, raw: bytes, uid: int) -> tuple[list[OutboundMessage], str]:
        """The mail read as the email channel reads a fetched one, the bot's turn on it, and
        its replies; or, when the channel does not take it as a person's mail, why."""
        message = to_inbound(FetchedMail(1, uid, raw, internal_date=self.bot.clock.now), self.ours)
        if message.kind is not InboundKind.MESSAGE:
            return [], f"mail {uid} read as {message.kind.value}: {message.reason}"
        channel = self.bot.channels["email"]
        sent = len(channel.sent)
        await self.bot.dispatcher.accept(message)
        await self.bot.deliver()
        return self._new_replies(channel.sent[sent:], message.address.value), ""

    def _heard(self, replies: Sequence[OutboundMessage], prospect: Prospect) -> Heard:
        options = next((reply.options for reply in reversed(replies) if reply.options), ())
        return self.recogniser.hear(
            [reply.text for reply in replies],
            [option.label for option in options],
            prospect.profile.lang,
        )

    @staticmethod
    def _new_replies(sent: Sequence[OutboundMessage], address: str) -> list[OutboundMessage]:
        return [message for message in sent if message.address.value == address]
