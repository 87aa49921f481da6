"""Settings from the environment and `.env`, validated once at start-up.

A wrong value becomes `SettingsError` with one line naming the setting; the CLI prints it and
exits instead of showing a traceback.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from rapidfuzz import fuzz, process

from bot.rep_hours import QuietHours, RepHours

Security = Literal["tls", "starttls", "none"]
Language = Literal["en", "ru"]


EMAIL_REQUIRED = ("IMAP_HOST", "IMAP_USER", "IMAP_PASSWORD", "SMTP_HOST", "EMAIL_FROM")
TOKEN_SHAPE = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{1,100}")
CATALOG_FILES = ("intents.toml", "replies.toml", "mood.toml")
# Variables with these prefixes are meant for us: an unknown one is most likely a typo.
SETTING_PREFIXES = (
    "TELEGRAM_", "IMAP_", "SMTP_", "EMAIL_", "HANDOFF_", "REP_", "RELAY_", "FLOOD_", "RETAIN_",
    "DATABASE_", "CATALOG_", "COMPANY_", "FOLLOWUP_", "MISSES_", "HOT_LEAD", "INSTANCE_",
    "QUIET_", "LEADER_",
    "WEB_",
    "METRICS_",
)  # fmt: skip
ZONE_FILES = Path("/etc/localtime"), Path("/etc/timezone")


def known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def local_zone_name() -> str:
    """This machine's IANA time zone: $TZ, the zone /etc/localtime links to, or the one
    /etc/timezone names; UTC when none of them names a zone Python knows."""
    link, named = ZONE_FILES
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    if link.is_symlink():
        candidates.append(str(link.resolve()).rpartition("zoneinfo/")[2])
    if named.is_file():
        candidates.append(named.read_text(encoding="utf-8", errors="replace").strip())
    return next((name for name in candidates if name and known_zone(name)), "UTC")


def _address(listen: str) -> tuple[str, int] | None:
    if listen == "off":
        return None
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class SettingsError(Exception):
    """A setting has a value we cannot use; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `TELEGRAM_BOT_TOKEN=` in .env means "not configured"
        extra="ignore",
        case_sensitive=False,
    )

    # This instance's name in the relay's and the leader leases: a restarted instance takes
    # back its own at once. Give each of several instances on one host a name of its own.
    instance_name: str = Field(default_factory=socket.gethostname, min_length=1, max_length=40)
    database_url: SecretStr = SecretStr("sqlite+aiosqlite:///touchpoint.db")  # may hold a password
    company_name: str = "Touchpoint"
    default_language: Language = "en"
    catalog_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "json": one JSON object per line, with the conversation and message a line is about.
    log_format: Literal["text", "json"] = "text"
    # The operator's listener: /metrics (Prometheus) and /healthz ("off": none).
    metrics_listen: str = "127.0.0.1:9108"

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_listen: str = "127.0.0.1:8080"
    telegram_max_per_chat: float = Field(default=1.0, ge=0)
    telegram_max_per_second: float = Field(default=30.0, ge=0)
    telegram_poll_timeout: int = Field(default=25, ge=0, le=50)

    imap_host: str | None = None
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_security: Security = "tls"
    imap_mailbox: str = "INBOX"
    imap_window: int = Field(default=8, ge=1, le=64)  # mails handled side by side
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Security = "starttls"
    email_from: str | None = None
    email_ca_file: Path | None = None
    email_aliases: str = ""
    # The authserv-id of the company's own mail server: when set, only mail whose topmost
    # Authentication-Results (from that server) says dmarc=pass is answered or taken from a rep.
    email_authserv_id: str | None = None
    email_backfill_days: float = Field(default=3.0, ge=0)
    email_max_replies_per_conversation: int = Field(default=20, ge=1)
    email_max_replies_per_address: int = Field(default=40, ge=1)
    # mail is read in worker processes: how many, and each mail's limits there
    email_parse_workers: int = Field(default=1, ge=1, le=2)
    email_parse_seconds: float = Field(default=10.0, gt=0, le=600)
    email_parse_memory_mb: int = Field(default=512, ge=128)

    # The sales console (web/): where it listens ("off": not served), the address people open
    # it at (links are built from it, never from a request's Host), how long a sign-in lasts
    # and how long a one-time sign-in link stays good.
    web_listen: str = "127.0.0.1:8088"
    web_base_url: str | None = None
    web_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    web_login_minutes: float = Field(default=10.0, gt=0, le=60)

    followup_after_hours: float = Field(default=24.0, gt=0)
    relay_max_attempts: int = Field(default=8, ge=1)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    # Rows settled together, and sends in flight at once, by each channel's loop. One
    # and one: a crash repeats at most the one reply in flight of each channel; larger trades
    # that promise for throughput.
    relay_batch: int = Field(default=1, ge=1, le=1000)
    relay_concurrency: int = Field(default=1, ge=1, le=64)
    # With batches of one: rows leased at once, then sent and settled one by one.
    relay_ahead: int = Field(default=16, ge=1, le=1000)
    relay_lease_seconds: float = Field(default=60.0, gt=0)
    # Instances sharing a database poll Telegram and read each mailbox one at a time: a standby
    # takes over within this many seconds of the one doing it crashing (at once after a clean
    # stop). Its lease is renewed every third of it.
    leader_takeover_seconds: float = Field(default=15.0, ge=1, le=600)
    # Outgoing webhooks (`touchpoint webhooks add`): seconds one POST may take, and attempts
    # before a delivery is given up (a dead letter, sent again with `webhooks redeliver`).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_max_attempts: int = Field(default=8, ge=1)
    misses_before_handoff: int = Field(default=3, ge=1)
    hot_lead_score: int = Field(default=80, ge=1, le=101)
    handoff_claim_seconds: float = Field(default=120.0, gt=0)
    handoff_idle_minutes: float = Field(default=60.0, gt=0)
    handoff_same_rep_hours: float = Field(default=72.0, ge=0)
    lead_accept_minutes: float = Field(default=10.0, gt=0)
    lead_sla_minutes: float = Field(default=60.0, gt=0)
    # A hand-off no rep claimed ends after this many minutes and the customer may leave a
    # message for the team instead (0: it waits for good).
    handoff_queue_minutes: float = Field(default=30.0, ge=0)
    # When the bot sends no customer a message of its own accord (follow-ups, announcements),
    # in TIMEZONE, e.g. 21:00-08:00; empty: never quiet.
    quiet_hours: str = ""
    # A sender past this many messages in FLOOD_WINDOW_SECONDS is told to slow down once, and
    # the rest are read together with their next message (0: no limit).
    flood_limit: int = Field(default=20, ge=0)
    flood_window_seconds: float = Field(default=60.0, gt=0)
    # How long what was received and sent is kept (days); touchpoints are kept for good.
    retain_raw_mail_days: float = Field(default=90.0, gt=0)
    retain_texts_days: float = Field(default=730.0, gt=0)
    retain_dead_letters_days: float = Field(default=30.0, gt=0)
    rep_hours: str = ""
    rep_days: str = "mon-fri"
    # The company's time zone: reps' hours are in it, and every time the bot shows is.
    timezone: str = Field(default_factory=local_zone_name)
    rep_timezone: str | None = None  # the old name of TIMEZONE, read when TIMEZONE is not set

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise ValueError(
                "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASS@HOST/DB"
            )
        return value

    @field_validator("telegram_webhook_listen", "web_listen", "metrics_listen")
    @classmethod
    def _host_and_port(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name in ("web_listen", "metrics_listen") and value == "off":
            return value
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("use HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # "123456789:AAH..." from @BotFather: checked before any request is made with it.
        if value is not None and not TOKEN_SHAPE.fullmatch(value.get_secret_value()):
            raise ValueError("a bot token looks like 123456789:AAH... (digits, a colon, letters)")
        return value

    @field_validator("catalog_dir")
    @classmethod
    def _catalog_complete(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if not value.is_dir():
            raise ValueError(f"{value} is not a folder (copy handlers/catalog to start one)")
        missing = [name for name in CATALOG_FILES if not (value / name).is_file()]
        if missing:
            raise ValueError(
                f"{value} lacks {', '.join(missing)} (it needs {', '.join(CATALOG_FILES)})"
            )
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and - as a secret token.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("use 1 to 256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("telegram_webhook_url", "telegram_api_url", "web_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("use an http(s):// URL")
        return value

    @field_validator("timezone", "rep_timezone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        if value is not None and not known_zone(value):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name, e.g. Europe/Berlin")
        return value

    @model_validator(mode="after")
    def _rep_hours_readable(self) -> Settings:
        if self.rep_hours:
            try:
                RepHours.parse(self.rep_hours, self.rep_days, self.zone_name)
            except (ValueError, KeyError) as error:
                raise ValueError(f"REP_HOURS/REP_DAYS: {error}") from None
        return self

    @model_validator(mode="after")
    def _quiet_hours_readable(self) -> Settings:
        if self.quiet_hours:
            try:
                QuietHours.parse(self.quiet_hours, self.zone_name)
            except ValueError as error:
                raise ValueError(f"QUIET_HOURS: {error}") from None
        return self

    @model_validator(mode="after")
    def _email_complete(self) -> Settings:
        given = {name: getattr(self, name.lower()) for name in EMAIL_REQUIRED}
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(name for name, value in given.items() if not value)
            raise ValueError(f"the email channel also needs {missing}")
        return self

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.telegram_webhook_url and self.telegram_webhook_secret is None:
            raise ValueError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET")
        return self

    @property
    def web_address(self) -> tuple[str, int] | None:
        """Where the console listens; None when WEB_LISTEN is off."""
        return _address(self.web_listen)

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """Where /metrics and /healthz are served; None when METRICS_LISTEN is off."""
        return _address(self.metrics_listen)

    @property
    def web_url(self) -> str:
        """The console's address as people open it: WEB_BASE_URL, or where it listens."""
        return (self.web_base_url or f"http://{self.web_listen}").rstrip("/")

    @property
    def zone_name(self) -> str:
        """TIMEZONE; the deprecated REP_TIMEZONE when only that one is set."""
        if self.rep_timezone and "timezone" not in self.model_fields_set:
            return self.rep_timezone
        return self.timezone

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name)

    @property
    def deprecated(self) -> list[str]:
        """What start-up should warn about: settings that still work under an old name."""
        if self.rep_timezone is None:
            return []
        return ["REP_TIMEZONE is deprecated: set TIMEZONE (it also applies to shown times)"]

    @property
    def telegram_configured(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def email_configured(self) -> bool:
        return bool(self.imap_host)

    @field_validator("email_from")
    @classmethod
    def _mailbox(cls, value: str | None) -> str | None:
        if value is not None and "@" not in parseaddr(value)[1]:
            raise ValueError('use an address, e.g. "Example Sales <sales@example.com>"')
        return value


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise `SettingsError` with one line per the first bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


def unknown_settings(environment: Mapping[str, str], dotenv: Path = Path(".env")) -> list[str]:
    """A warning for every variable that looks like a setting of ours but is none (a typo such
    as TELEGRAM_TOKEN would otherwise silently leave the bot on the terminal), with the
    nearest known name."""
    known = [name.upper() for name in Settings.model_fields]
    given = set(environment) | set(_dotenv_names(dotenv))
    ours = sorted(name for name in given if name.startswith(SETTING_PREFIXES))
    return [_unknown(name, known) for name in ours if name.upper() not in known]


def _unknown(name: str, known: list[str]) -> str:
    nearest = process.extractOne(name.upper(), known, scorer=fuzz.ratio)
    hint = f" (did you mean {nearest[0]}?)" if nearest and nearest[1] >= 60 else ""
    return f"unknown setting {name}{hint}: it is ignored"


def _dotenv_names(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    names = [line.split("=", 1)[0].strip() for line in lines if "=" in line]
    return [name.removeprefix("export ").strip() for name in names if not name.startswith("#")]


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"]:  # a rule about several settings: the message names them
        return f"settings do not fit together: {message}"
    return f"setting {str(first['loc'][0]).upper()} is invalid: {message}"
