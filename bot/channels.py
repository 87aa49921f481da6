"""Which channels `touchpoint run` serves, decided from the settings."""

from __future__ import annotations

import hashlib
import secrets
from email.utils import parseaddr

from bot.model import ChannelAdapter, utc_now
from bot.settings import Settings, SettingsError
from channels.console import ConsoleChannel
from channels.email.adapter import EmailChannel, EmailConfig
from channels.email.ids import domain_of
from channels.email.imap import ImapConfig
from channels.email.inbound import Ours
from channels.email.smtp import SmtpConfig
from channels.telegram.adapter import TelegramChannel, TelegramConfig
from storage.uow import Database, UnitOfWork


def build_channels(settings: Settings, database: Database) -> list[ChannelAdapter]:
    """The configured channels; the terminal when no account is configured at all."""
    adapters: list[ChannelAdapter] = []
    if settings.telegram_configured:
        adapters.append(telegram_channel(settings, database))
    if settings.email_configured:
        adapters.append(email_channel(settings, database))
    return adapters or [ConsoleChannel(f"guest-{secrets.token_hex(3)}")]


def telegram_channel(settings: Settings, database: Database) -> TelegramChannel:
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
    # The bot's id (the token's first part) keys the offset: a new token starts afresh.
    return TelegramChannel(config, DatabaseOffsets(database, f"offset:{token.split(':')[0]}"))


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


def email_channel(settings: Settings, database: Database) -> EmailChannel:
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
        ours=_ours(settings),
        message_id_domain=domain_of(parseaddr(settings.email_from)[1]),
        backfill_days=settings.email_backfill_days,
    )
    key = f"{settings.imap_user}@{settings.imap_host}/{settings.imap_mailbox}"
    return EmailChannel(config, DatabaseWatermarks(database, key))


def _ours(settings: Settings) -> Ours:
    """Our own addresses, Message-ID domain and loop token: mail carrying them is ours."""
    addresses = {parseaddr(settings.email_from or "")[1].lower()}
    addresses |= {a.strip().lower() for a in settings.email_aliases.split(",") if "@" in a}
    addresses |= {u.lower() for u in (settings.imap_user, settings.smtp_user) if u and "@" in u}
    domain = domain_of(parseaddr(settings.email_from or "")[1])
    # Stable for an installation, different between two (two bots must not take each other's
    # mail for their own), and no secret.
    token = hashlib.sha256(f"{settings.email_from}|{settings.imap_user}".encode()).hexdigest()[:16]
    return Ours(
        addresses=frozenset(addresses - {""}), loop_token=token, domains=frozenset({domain})
    )


class DatabaseWatermarks:
    """The IMAP (UIDVALIDITY, last UID) of one mailbox, kept in `channel_cursors`."""

    def __init__(self, database: Database, key: str) -> None:
        self._database = database
        self._key = key

    async def load(self) -> tuple[int, int] | None:
        value = await self._database.run(lambda uow: uow.cursors.get("email", self._key))
        if not value:
            return None
        uidvalidity, _, last_uid = value.partition(":")
        return int(uidvalidity), int(last_uid)

    async def save(self, uidvalidity: int, last_uid: int) -> None:
        async def work(uow: UnitOfWork) -> None:
            await uow.cursors.put("email", self._key, f"{uidvalidity}:{last_uid}", utc_now())
            await uow.commit()

        await self._database.run(work)
