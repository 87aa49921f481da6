"""The composition root: the one place that builds settings, database, catalog, business,
channels, relay and scheduler, for `run`, `shell` and every CLI command.

Nothing is built at import time; `open_app`, `open_database` and `build_*` do it when a
command runs. This module and the CLI are the only modules of `bot/` that import `handlers` or
`channels` (a test checks it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from functools import partial
from typing import Any

from aiohttp import web

from bot import words
from bot.cursors import DatabaseOffsets, DatabaseWatermarks, StoredInbound, terminal_customer
from bot.dispatch import Dispatcher
from bot.leadership import Leadership
from bot.metrics import Metrics
from bot.metrics_server import metrics_app, serve_metrics
from bot.model import ChannelAdapter, Leader, PacedPerAccount, SendGate, utc_now
from bot.relay import Relay, RelayPolicy
from bot.rep_hours import QuietHours, RepHours
from bot.retention import DailyPrune, Retention
from bot.scheduler import Scheduler
from bot.send_gates import LeaseGate
from bot.settings import Settings, SettingsError
from bot.turn import FlowConfig, Services
from bot.webhooks import WebhookPolicy, WebhookSender
from channels.console import ConsoleChannel
from channels.email.adapter import EmailChannel, EmailConfig
from channels.email.imap import ImapConfig
from channels.email.inbound import Ours
from channels.email.reader import ReadingConfig
from channels.email.smtp import SmtpConfig
from channels.email.worker import Limits
from channels.telegram.adapter import TelegramChannel, TelegramConfig
from handlers.business import SalesDesk
from handlers.catalog import Catalog
from storage.uow import Database

log = logging.getLogger(__name__)

DRAIN_SECONDS = 30.0
MESSAGE_ID_LABEL = "tp"
# What each channel can do, known whether or not it is configured in this process (the CLI
# acts on conversations of every channel).
CAPABILITIES = {
    adapter.name: adapter.capabilities
    for adapter in (TelegramChannel, EmailChannel, ConsoleChannel)
}


def build_services(settings: Settings) -> Services:
    """The business and what it needs: the catalog, the flow settings, the rules."""
    catalog = Catalog.load(settings.catalog_dir)
    return Services(
        texts=catalog.texts,
        matcher=catalog.matcher,
        config=flow_config(settings),
        anger=catalog.anger,
        business=SalesDesk(),
        channels=CAPABILITIES,
    )


def flow_config(settings: Settings) -> FlowConfig:
    return FlowConfig(
        company_name=settings.company_name,
        default_language=settings.default_language,
        followup_after=timedelta(hours=settings.followup_after_hours),
        misses_before_handoff=settings.misses_before_handoff,
        hot_lead_score=settings.hot_lead_score,
        message_id_domain=message_id_domain(settings),
        replies_per_conversation=settings.email_max_replies_per_conversation,
        replies_per_address=settings.email_max_replies_per_address,
        flood_limit=settings.flood_limit,
        flood_window=timedelta(seconds=settings.flood_window_seconds),
        claim_within=timedelta(seconds=settings.handoff_claim_seconds),
        handoff_idle=timedelta(minutes=settings.handoff_idle_minutes),
        same_rep_within=timedelta(hours=settings.handoff_same_rep_hours),
        lead_accept_within=timedelta(minutes=settings.lead_accept_minutes),
        lead_sla=timedelta(minutes=settings.lead_sla_minutes),
        zone=settings.zone,
        rep_hours=(
            RepHours.parse(settings.rep_hours, settings.rep_days, settings.zone_name)
            if settings.rep_hours
            else None
        ),
        queue_within=(
            timedelta(minutes=settings.handoff_queue_minutes)
            if settings.handoff_queue_minutes
            else None
        ),
        quiet_hours=(
            QuietHours.parse(settings.quiet_hours, settings.zone_name)
            if settings.quiet_hours
            else None
        ),
        console_url=settings.web_url,
        console_link_for=timedelta(minutes=settings.web_login_minutes),
    )


def message_id_domain(settings: Settings) -> str:
    """Where our Message-IDs live: a label of our own under the company's domain. Staff mail
    clients mint theirs under the company's domain itself (Thunderbird, Apple Mail,
    Exchange), and a rep's mail must not be taken for ours coming back."""
    domain = parseaddr(settings.email_from or "")[1].rpartition("@")[2].lower()
    return f"{MESSAGE_ID_LABEL}.{domain}" if domain else "touchpoint.invalid"


@dataclass(slots=True)
class App:
    database: Database
    dispatcher: Dispatcher
    relay: Relay
    scheduler: Scheduler
    adapters: tuple[ChannelAdapter, ...]
    webhooks: WebhookSender | None = None  # `run` posts webhooks; a `shell` does not
    monitor: web.Application | None = None  # `run` serves /metrics and /healthz
    monitor_address: tuple[str, int] | None = None
    # Several instances on one database: held while this process runs under its name; until
    # it holds it, it sends nothing and takes no lease as its own (see `_hold`).
    presence: Leader | None = None

    async def serve(self, *, faces: Sequence[Coroutine[Any, Any, None]] = ()) -> None:
        """Run the channels, the relay, the webhook sender, the scheduler and `faces` (the
        console) until a channel ends or a signal comes.

        A channel that ends (the terminal at end of input) ends the app. SIGTERM and SIGINT stop
        it gracefully: channels stop receiving (they acknowledge only committed turns, so
        cancelling them loses nothing; the terminal finishes the turn in hand), the relay
        settles the reply in hand and delivers what is due, the webhook sender settles the
        delivery in hand, then the process exits. A signal during that drain cuts it short: a
        reply or delivery being sent stays leased, and this instance sends it again when it
        starts next.
        """
        signals = _Signals()
        _on_signals(signals.received)
        # With a presence, the relay and the webhook sender start once it is held.
        ready = asyncio.Event() if self.presence is not None else None
        relay = asyncio.create_task(self.relay.run(ready=ready), name="relay")
        # Let go of the send gates last, after the drain: this instance sends until it stops.
        gates = asyncio.create_task(self.relay.keep_gates(), name="send gates")
        webhooks = (
            [asyncio.create_task(self.webhooks.run(ready=ready), name="webhooks")]
            if self.webhooks
            else []
        )
        scheduler = asyncio.create_task(self.scheduler.run(), name="scheduler")
        if self.presence is not None and ready is not None:
            faces = [*faces, self.presence.run_while_leader(partial(_hold, ready))]
        if self.monitor is not None and self.monitor_address is not None:
            faces = [*faces, serve_metrics(self.monitor, *self.monitor_address)]
        served = [asyncio.create_task(face, name="face") for face in faces]
        background = [relay, *webhooks, scheduler, *served, gates]
        channels = [
            asyncio.create_task(a.run(self.dispatcher.accept), name=a.name) for a in self.adapters
        ]
        stopper = asyncio.create_task(_wait_for(signals.stop), name="signals")
        try:
            await _first_to_finish([*channels, stopper], background)
        finally:
            signals.stopping = True
            await _cancel([*channels, stopper])
            await _unless(signals.now, self._drain(relay, webhooks))
            await _cancel(background)
            for adapter in self.adapters:
                await adapter.close()

    async def _drain(self, relay: asyncio.Task[None], webhooks: list[asyncio.Task[None]]) -> None:
        self.relay.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
        for task in (relay, *webhooks):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, DRAIN_SECONDS)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.relay.drain(), DRAIN_SECONDS)


async def _hold(ready: asyncio.Event) -> None:
    """This process's presence under its name, held until it stops. The relay and the webhook
    sender take back what this instance was sending before a restart, and send, only once it
    is held, and no lease is taken as "its own" before (`Leadership.presence`): a restart
    after a crash waits for the dead process's presence to run out (LEADER_TAKEOVER_SECONDS);
    a second running process of the same name never gets it, so it never takes the other's
    replies in flight, nor its polling or sending, as its own."""
    ready.set()
    await asyncio.Event().wait()


ChannelsFactory = Callable[[Database, Leadership], Awaitable[Sequence[ChannelAdapter]]]


async def build_channels(
    settings: Settings, database: Database, leadership: Leadership | None = None
) -> list[ChannelAdapter]:
    """The configured channels; the terminal when no account is configured at all, as the
    database's own terminal customer (the conversation continues at the next start).

    With `leadership`, Telegram polling and each mailbox are served by one instance at a time
    among those sharing the database; without it, by this one alone."""
    adapters: list[ChannelAdapter] = []
    if settings.telegram_configured:
        adapters.append(telegram_channel(settings, database, leadership))
    if settings.email_configured:
        adapters.append(email_channel(settings, database, leadership))
    return adapters or [ConsoleChannel(await terminal_customer(database))]


def build_leadership(settings: Settings, database: Database, metrics: Metrics) -> Leadership:
    length = timedelta(seconds=settings.leader_takeover_seconds)
    return Leadership(database, settings.instance_name, length, on_change=metrics.lease)


def send_gates(
    database: Database, adapters: Sequence[ChannelAdapter], leadership: Leadership
) -> dict[str, SendGate]:
    """A sender lease for each channel paced per account (Telegram: `telegram-sender/<bot
    id>`), so that one instance at a time sends for the account and its pacing holds. On SQLite
    there is none: one `run` serves the file, and a shell beside it sends to its terminal only."""
    if database.is_sqlite:
        return {}
    return {
        adapter.name: LeaseGate(
            leadership.lease(f"{adapter.name}-sender/{adapter.account}"),
            settle=adapter.pace_window,
        )
        for adapter in adapters
        if adapter.capabilities.paced_per_account and isinstance(adapter, PacedPerAccount)
    }


def telegram_channel(
    settings: Settings, database: Database, leadership: Leadership | None = None
) -> TelegramChannel:
    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    secret = settings.telegram_webhook_secret
    config = TelegramConfig(
        token=token,
        api_url=settings.telegram_api_url,
        webhook_url=settings.telegram_webhook_url,
        webhook_secret=secret.get_secret_value() if secret else None,
        webhook_listen=settings.telegram_webhook_listen,
        poll_timeout=settings.telegram_poll_timeout,
        max_per_chat=settings.telegram_max_per_chat,
        max_per_second=settings.telegram_max_per_second,
    )
    # The bot's id (the token's first part) keys the offset and the poller's lease: a new token
    # starts afresh, and several bots may be polled by different instances.
    bot_id = token.split(":")[0]
    lease = None
    if leadership is not None and not config.webhook_url:  # any instance takes a webhook's update
        lease = leadership.lease(f"telegram-poller/{bot_id}")
    return TelegramChannel(config, DatabaseOffsets(database, f"offset:{bot_id}"), lease)


def email_channel(
    settings: Settings, database: Database, leadership: Leadership | None = None
) -> EmailChannel:
    assert settings.imap_host and settings.imap_user and settings.imap_password
    assert settings.smtp_host and settings.email_from
    ca_file = str(settings.email_ca_file) if settings.email_ca_file else None
    try:
        imap = ImapConfig(
            host=settings.imap_host,
            port=settings.imap_port,
            user=settings.imap_user,
            password=settings.imap_password.get_secret_value(),
            security=settings.imap_security,
            mailbox=settings.imap_mailbox,
            ca_file=ca_file,
            window=settings.imap_window,
        )
        smtp = SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            security=settings.smtp_security,
            ca_file=ca_file,
        )
    except ValueError as error:
        raise SettingsError(f"the email settings cannot be used: {error}") from None
    config = EmailConfig(
        imap=imap,
        smtp=smtp,
        email_from=settings.email_from,
        ours=email_channel_ours(settings),
        message_id_domain=message_id_domain(settings),
        backfill_days=settings.email_backfill_days,
        reading=ReadingConfig(
            workers=settings.email_parse_workers,
            limits=Limits(
                seconds=settings.email_parse_seconds, memory_mb=settings.email_parse_memory_mb
            ),
        ),
    )
    key = f"{settings.imap_user}@{settings.imap_host}/{settings.imap_mailbox}"
    lease = leadership.lease(f"imap/{key}") if leadership else None
    return EmailChannel(config, DatabaseWatermarks(database, key), StoredInbound(database), lease)


def email_channel_ours(settings: Settings) -> Ours:
    """Our own addresses, Message-ID domain and loop token: mail carrying them is ours."""
    addresses = {parseaddr(settings.email_from or "")[1].lower()}
    addresses |= {a.strip().lower() for a in settings.email_aliases.split(",") if "@" in a}
    addresses |= {u.lower() for u in (settings.imap_user, settings.smtp_user) if u and "@" in u}
    # Stable for an installation, different between two (two bots must not take each other's
    # mail for their own), and no secret.
    token = hashlib.sha256(f"{settings.email_from}|{settings.imap_user}".encode()).hexdigest()[:16]
    return Ours(
        addresses=frozenset(addresses - {""}),
        loop_token=token,
        domains=frozenset({message_id_domain(settings)}),
        reply_base=parseaddr(settings.email_from or "")[1].lower(),
        authserv_id=settings.email_authserv_id,
    )


class SchemaBehind(Exception):
    """A read-only command found the schema older than this version of the program."""


@asynccontextmanager
async def open_database(settings: Settings, *, migrate: bool) -> AsyncIterator[Database]:
    """The configured database. Commands that change things bring its schema up to date
    first; read-only ones change nothing and raise `SchemaBehind` when it is out of date."""
    database = Database.from_url(settings.database_url.get_secret_value())
    try:
        if migrate:
            await database.upgrade()
        elif not await database.is_current():
            raise SchemaBehind(
                "the database schema is not up to date: run `touchpoint db upgrade` "
                "(or `touchpoint run`, which upgrades it)"
            )
        yield database
    finally:
        await database.dispose()


def retention(settings: Settings) -> Retention:
    return Retention(
        raw_mail=timedelta(days=settings.retain_raw_mail_days),
        texts=timedelta(days=settings.retain_texts_days),
        dead_letters=timedelta(days=settings.retain_dead_letters_days),
    )


def build_dispatcher(settings: Settings, database: Database) -> Dispatcher:
    """A dispatcher for turns started outside `run` (a manager's action from the CLI)."""
    return Dispatcher(database, build_services(settings))


@asynccontextmanager
async def open_app(
    settings: Settings, make_channels: ChannelsFactory, *, send_webhooks: bool = False
) -> AsyncIterator[App]:
    async with open_database(settings, migrate=True) as database:
        metrics = Metrics()
        leadership = build_leadership(settings, database, metrics)
        adapters = await make_channels(database, leadership)
        relay = Relay(
            database,
            {adapter.name: adapter for adapter in adapters},
            policy=RelayPolicy(
                lease=timedelta(seconds=settings.relay_lease_seconds),
                max_attempts=settings.relay_max_attempts,
                poll_seconds=settings.relay_poll_seconds,
                batch=settings.relay_batch,
                concurrency=settings.relay_concurrency,
                ahead=settings.relay_ahead,
                holder=settings.instance_name,
            ),
            on_sent=metrics.sent,
            gates=send_gates(database, adapters, leadership),
        )
        # The word lists and the Russian dictionary load before the first customer's turn, not
        # in it; CLI commands, which read no customer text, never load them.
        words.warm_up()
        dispatcher = Dispatcher(
            database, build_services(settings), on_commit=relay.wake, on_turn=metrics.turn
        )
        daily = DailyPrune(database, retention(settings), utc_now)
        scheduler = Scheduler(database, dispatcher, daily=daily)
        # Only `run` posts webhooks: a shell beside it (same instance name) must not take back
        # the run's leases when it starts. The sender polls; a turn does not wake it (a CRM
        # can wait a second, and most turns queue no event).
        webhooks = webhook_sender(settings, database) if send_webhooks else None
        # Only `run` serves the operator's listener, like the webhooks: a shell beside it would
        # find the port taken.
        monitor = (
            metrics_app(metrics, database, utc_now, leadership.held) if send_webhooks else None
        )
        # Only `run` on a database that several instances may share: SQLite's `run` is alone
        # (its file lock), and a shell takes back only its terminal's replies.
        presence = (
            leadership.presence(f"instance/{settings.instance_name}")
            if send_webhooks and not database.is_sqlite
            else None
        )
        yield App(
            database, dispatcher, relay, scheduler, tuple(adapters), webhooks,
            monitor, settings.metrics_address, presence,
        )  # fmt: skip


def webhook_sender(settings: Settings, database: Database) -> WebhookSender:
    policy = WebhookPolicy(
        timeout=settings.webhook_timeout_seconds,
        max_attempts=settings.webhook_max_attempts,
        holder=settings.instance_name,
    )
    return WebhookSender(database, policy=policy)


async def _first_to_finish(
    watched: list[asyncio.Task[None]], background: list[asyncio.Task[None]]
) -> None:
    done, _ = await asyncio.wait([*watched, *background], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        task.result()  # a crashed loop surfaces here instead of dying silently


async def _wait_for(event: asyncio.Event) -> None:
    await event.wait()


@dataclass(slots=True)
class _Signals:
    """SIGTERM/SIGINT: asks to stop; one that comes while stopping asks to stop now."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    now: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False

    def received(self) -> None:
        if self.stopping:
            self.now.set()
        self.stop.set()
        self.stopping = True


async def _unless(event: asyncio.Event, work: Coroutine[Any, Any, None]) -> None:
    """Run `work`, cancelled should `event` be set before it ends."""
    task = asyncio.ensure_future(work)
    interrupt = asyncio.create_task(_wait_for(event))
    await asyncio.wait([task, interrupt], return_when=asyncio.FIRST_COMPLETED)
    await _cancel([task, interrupt])


def _on_signals(callback: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, callback)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
