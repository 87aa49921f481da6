"""With EMAIL_AUTHSERV_ID set, only mail our own server says passed DMARC is answered: a forged
From then cannot turn the bot into a source of backscatter from the company's domain, nor act
as a rep. And a rep's secret reply address is read from the recipients."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.model import InboundKind
from channels.email.inbound import Ours, to_inbound
from channels.email.mail import FetchedMail

OURS = Ours(
    addresses=frozenset({"sales@shop.example"}),
    loop_token="t",
    domains=frozenset({"tp.shop.example"}),
    reply_base="sales@shop.example",
    authserv_id="mx.shop.example",
)
PASS = "mx.shop.example; spf=pass smtp.mailfrom=ann@example.org; dmarc=pass header.from=example.org"
FAIL = "mx.shop.example; spf=fail smtp.mailfrom=ann@example.org; dmarc=fail header.from=example.org"


def mail(*results: str, to: str = "sales@shop.example", cc: str = "") -> FetchedMail:
    lines = [f"Authentication-Results: {value}" for value in results]
    lines += [
        "From: Ann <ann@example.org>",
        f"To: {to}",
        *([f"Cc: {cc}"] if cc else []),
        "Subject: A quote",
        "Message-ID: <q1@example.org>",
        "",
        "I need 20 chairs.",
    ]
    raw = "\r\n".join(lines).encode() + b"\r\n"
    return FetchedMail(uidvalidity=1, uid=1, raw=raw, internal_date=datetime.now(UTC))


@pytest.mark.parametrize(
    ("results", "answered"),
    [
        ((PASS,), True),
        ((FAIL,), False),
        ((), False),  # our server said nothing: not proven
        (("mx.evil.example; dmarc=pass",), False),  # somebody else's verdict
        ((FAIL, PASS.replace("mx.shop.example", "mx.shop.example 1")), False),  # below ours
        (("MX.Shop.Example 1; DMARC=pass (p=reject)",), True),
    ],
)
def test_only_a_dmarc_pass_from_our_own_server_gets_an_answer(
    results: tuple[str, ...], answered: bool
) -> None:
    message = to_inbound(mail(*results), OURS)
    assert (message.kind is InboundKind.MESSAGE) is answered
    if not answered:
        assert message.kind is InboundKind.IGNORED
        assert message.reason == (
            "the sender failed authentication (no dmarc=pass from mx.shop.example)"
        )


def test_without_the_setting_nothing_is_required() -> None:
    ours = Ours(OURS.addresses, "t", OURS.domains, reply_base=OURS.reply_base)
    assert to_inbound(mail(FAIL), ours).kind is InboundKind.MESSAGE


@pytest.mark.parametrize(
    ("to", "cc", "token"),
    [
        ("sales+r0123456789abcdef@shop.example", "", "0123456789abcdef"),
        ("Sales <SALES+R0123456789ABCDEF@Shop.Example>", "", "0123456789abcdef"),
        ("sales@shop.example", "sales+r0123456789abcdef@shop.example", "0123456789abcdef"),
        ("sales+r0123456789abcdef@evil.example", "", None),  # another domain
        ("sales+rnot-hex@shop.example", "", None),
        ("other+r0123456789abcdef@shop.example", "", None),
        ("sales@shop.example", "", None),
    ],
)
def test_the_reply_token_is_read_from_the_recipients(to: str, cc: str, token: str | None) -> None:
    assert to_inbound(mail(PASS, to=to, cc=cc), OURS).reply_token == token
