"""Settings from the environment and `.env`, validated once at start-up.

A wrong value becomes `SettingsError` with one line naming the setting; the CLI prints it and
exits instead of showing a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Security = Literal["tls", "starttls", "none"]
Language = Literal["en", "ru"]


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

    database_url: str = "sqlite+aiosqlite:///touchpoint.db"
    company_name: str = "Touchpoint"
    default_language: Language = "en"
    catalog_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_listen: str = "127.0.0.1:8080"

    imap_host: str | None = None
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_security: Security = "tls"
    imap_mailbox: str = "INBOX"
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Security = "starttls"
    email_from: str | None = None

    followup_after_hours: float = Field(default=24.0, gt=0)
    relay_max_attempts: int = Field(default=8, ge=1)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    misses_before_handoff: int = Field(default=3, ge=1)

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASS@HOST/DB"
            )
        return value

    @property
    def telegram_configured(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def email_configured(self) -> bool:
        return bool(self.imap_host and self.smtp_host)


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise `SettingsError` with one line per the first bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "settings"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"setting {name} is invalid: {message}"
