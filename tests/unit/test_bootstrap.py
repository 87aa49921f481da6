"""What the composition root derives from the settings for the email channel."""

from __future__ import annotations

from pydantic import SecretStr

from bot.bootstrap import email_channel_ours, message_id_domain
from bot.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(
        _env_file=None,
        imap_host="127.0.0.1",
        imap_user="sales@shop.example",
        imap_password=SecretStr("secret"),
        smtp_host="127.0.0.1",
        email_from="Shop Sales <Sales@Shop.Example>",
        **values,  # type: ignore[arg-type]
    )


def test_our_message_ids_live_under_a_label_of_their_own() -> None:
    # Staff mail clients mint IDs under the company's domain itself: those are not ours.
    assert message_id_domain(settings()) == "tp.shop.example"
    assert message_id_domain(Settings(_env_file=None)) == "touchpoint.invalid"


def test_what_is_ours_by_mail() -> None:
    ours = email_channel_ours(settings(email_authserv_id="mx.shop.example"))
    assert ours.domains == frozenset({"tp.shop.example"})
    assert ours.reply_base == "sales@shop.example"
    assert ours.addresses == frozenset({"sales@shop.example"})
    assert ours.authserv_id == "mx.shop.example"
