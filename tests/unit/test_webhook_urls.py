"""Webhook URLs: HTTPS, or HTTP to this machine only; shown without their secrets. And the
signature a receiver checks."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.webhook_urls import BadWebhookUrl, check_url, secrets_of, shown_url
from bot.webhooks import signature


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example/hooks/touchpoint",
        "https://user:secret@crm.example:8443/hook?token=abc",
        "http://127.0.0.1:8080/hook",
        "http://127.8.9.10/hook",
        "http://[::1]:9000/hook",
        "http://localhost/hook",
        "  https://crm.example/hook  ",
    ],
)
def test_https_anywhere_and_http_to_this_machine_are_accepted(url: str) -> None:
    assert check_url(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example/hook",
        "http://10.0.0.5/hook",
        "http://127.0.0.1.nip.io/hook",
        "ftp://crm.example/hook",
        "crm.example/hook",
        "https:///hook",
        "https://crm.example:99999/hook",
        "https://crm example/hook",
    ],
)
def test_anything_else_is_refused_with_one_line(url: str) -> None:
    with pytest.raises(BadWebhookUrl) as refused:
        check_url(url)
    message = str(refused.value)
    assert message.startswith("a webhook URL must be https://")
    assert "\n" not in message


def test_a_refusal_does_not_repeat_the_urls_password() -> None:
    with pytest.raises(BadWebhookUrl) as refused:
        check_url("http://crm:hunter22@crm.example/hook?key=0123456789")
    assert "hunter22" not in str(refused.value)
    assert "0123456789" not in str(refused.value)
    assert "http://crm:***@crm.example/hook?key=***" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://crm.example/hook", "https://crm.example/hook"),
        ("https://u:p4ss@crm.example:8443/h", "https://u:***@crm.example:8443/h"),
        ("https://t0ken@crm.example/h", "https://***@crm.example/h"),
        ("https://crm.example/h?token=abc&x", "https://crm.example/h?token=***&***"),
        ("https://crm.example/h#frag", "https://crm.example/h"),
    ],
)
def test_a_url_is_shown_without_its_secrets(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_the_secret_parts_of_a_url() -> None:
    url = "https://crm:p4ssword@crm.example/h?token=0123456789&page=2"
    assert secrets_of(url) == ["p4ssword", "0123456789"]
    assert secrets_of("https://crm.example/h") == []


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_body() -> None:
    body = b'{"id":"e1","type":"lead.created"}'
    expected = hmac.new(b"whsec_k", b"1767225600." + body, hashlib.sha256).hexdigest()
    assert signature("whsec_k", 1767225600, body) == f"t=1767225600,v1={expected}"
