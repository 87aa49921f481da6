"""Settings: defaults that run with nothing configured, one-line errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, known_zone, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the developer's folder
    for name in ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "IMAP_HOST", "SMTP_HOST", "IMAP_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_nothing_configured_means_sqlite_and_no_accounts() -> None:
    settings = load_settings()
    assert settings.database_url.get_secret_value() == "sqlite+aiosqlite:///touchpoint.db"
    assert not settings.telegram_configured
    assert not settings.email_configured


def test_empty_values_in_dot_env_mean_not_configured(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=\nIMAP_HOST=\nCOMPANY_NAME=Acme\n")
    settings = load_settings()
    assert not settings.telegram_configured
    assert settings.company_name == "Acme"


def test_a_secret_is_not_printed_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:very-secret")
    settings = load_settings()
    assert "very-secret" not in repr(settings)
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "123:very-secret"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "mysql://x", "setting DATABASE_URL is invalid: use sqlite+aiosqlite"),
        ("IMAP_PORT", "imap", "setting IMAP_PORT is invalid: Input should be a valid integer"),
        ("IMAP_PORT", "70000", "setting IMAP_PORT is invalid: Input should be less than or equal"),
        (
            "IMAP_SECURITY",
            "ssl",
            "setting IMAP_SECURITY is invalid: Input should be 'tls', 'starttls'",
        ),
        ("WEB_LISTEN", "8088", "setting WEB_LISTEN is invalid: use HOST:PORT"),
        ("WEB_BASE_URL", "console.example", "setting WEB_BASE_URL is invalid: use an http(s)://"),
        (
            "DEFAULT_LANGUAGE",
            "de",
            "setting DEFAULT_LANGUAGE is invalid: Input should be 'en' or 'ru'",
        ),
    ],
)
def test_a_wrong_value_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_the_console_listens_on_loopback_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WEB_LISTEN", raising=False)
    settings = load_settings()
    assert settings.web_address == ("127.0.0.1", 8088)
    assert settings.web_url == "http://127.0.0.1:8088"
    monkeypatch.setenv("WEB_LISTEN", "off")
    assert load_settings().web_address is None
    monkeypatch.setenv("WEB_LISTEN", "[::1]:9000")
    monkeypatch.setenv("WEB_BASE_URL", "https://sales.example.com/")
    settings = load_settings()
    assert settings.web_address == ("::1", 9000)
    assert settings.web_url == "https://sales.example.com"  # links are built from it


def test_env_example_lists_every_setting_and_loads() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    names = {
        line.split("=", 1)[0].strip()
        for line in example.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert names == {name.upper() for name in Settings.model_fields}
    Settings(_env_file=example)  # every placeholder is a valid value


def test_the_time_zone_is_the_machines_when_nothing_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    monkeypatch.delenv("TIMEZONE", raising=False)
    monkeypatch.delenv("REP_TIMEZONE", raising=False)
    assert load_settings().zone.key == "Asia/Tokyo"
    monkeypatch.setenv("TZ", "not a zone")
    assert known_zone(load_settings().zone_name)  # a zone all the same, never an error


def test_timezone_names_the_one_zone_and_rep_timezone_is_its_old_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REP_TIMEZONE", "Europe/Moscow")
    old_name_only = load_settings()
    assert old_name_only.zone.key == "Europe/Moscow"
    assert old_name_only.deprecated == [
        "REP_TIMEZONE is deprecated: set TIMEZONE (it also applies to shown times)"
    ]
    monkeypatch.setenv("TIMEZONE", "Europe/Berlin")
    assert load_settings().zone.key == "Europe/Berlin"  # the new name wins
    monkeypatch.delenv("REP_TIMEZONE")
    assert load_settings().deprecated == []


@pytest.mark.parametrize("name", ["TIMEZONE", "REP_TIMEZONE"])
def test_an_unknown_time_zone_is_one_line(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "Mars/Olympus")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value) == (
        f"setting {name} is invalid: unknown time zone 'Mars/Olympus': use an IANA name, "
        "e.g. Europe/Berlin"
    )
