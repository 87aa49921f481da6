"""Composing an email reply: the headers exactly, the numbered options in both parts, and every
way hostile text could add a header line or a recipient, read back with `BytesParser`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from bot.model import FileCopy, PermanentSendError, QuickReply
from channels.email.compose import (
    LOOP_HEADER,
    compose_reply,
    header_text,
    reference_chain,
)

NOW = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
HEADERS = [
    "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Auto-Submitted", "X-Auto-Response-Suppress", LOOP_HEADER, "MIME-Version", "Content-Type",
    "Content-Language",
]  # fmt: skip
OPTIONS = [QuickReply("Basic plan", "plan:basic"), QuickReply("Pro plan", "plan:pro")]


def compose(**overrides: Any) -> EmailMessage:
    fields: dict[str, Any] = {
        "text": "Thanks for writing!\n\nWhich plan do you need?",
        "options": OPTIONS,
        "sender": "Touchpoint Shop <bot@shop.example>",
        "recipient": "eve@example.com",
        "recipient_name": "Eve Adams",
        "subject": "Re: Prices [#17]",
        "message_id": "<reply-1@shop.example>",
        "in_reply_to": "<question-2@example.com>",
        "references": ["<question-1@example.com>", "<question-2@example.com>"],
        "auto_submitted": True,
        "loop_token": "touchpoint-prod",
        "language": "en",
        "now": NOW,
    }
    return compose_reply(**(fields | overrides))


def round_trip(message: EmailMessage, smtp_policy: Any = policy.SMTP) -> EmailMessage:
    """What a receiver reads: the bytes as sent over SMTP, parsed with `policy.default`."""
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes(policy=smtp_policy))
    assert isinstance(parsed, EmailMessage)
    return parsed


def plain_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_text(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def header_block(message: EmailMessage, smtp_policy: Any = policy.SMTP) -> bytes:
    return message.as_bytes(policy=smtp_policy).split(b"\r\n\r\n", 1)[0]


# --- headers ---------------------------------------------------------------------------------


def test_a_bot_reply_has_exactly_the_threading_and_automation_headers() -> None:
    received = round_trip(compose())

    assert received.keys() == HEADERS
    assert received["From"] == "Touchpoint Shop <bot@shop.example>"
    assert received["To"] == "Eve Adams <eve@example.com>"
    assert received["Subject"] == "Re: Prices [#17]"
    assert received["Date"].datetime == NOW
    assert received["Message-ID"] == "<reply-1@shop.example>"
    assert received["In-Reply-To"] == "<question-2@example.com>"
    assert received["References"] == "<question-1@example.com> <question-2@example.com>"
    assert received["Auto-Submitted"] == "auto-replied"
    assert received["X-Auto-Response-Suppress"] == "All"
    assert received[LOOP_HEADER] == "touchpoint-prod"
    assert received["Content-Language"] == "en"
    assert received.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in received.iter_parts()] == [
        "text/plain", "text/html",
    ]  # fmt: skip
    assert all(part.get_content_charset() == "utf-8" for part in received.iter_parts())


def test_a_reply_written_by_a_person_has_no_auto_submitted() -> None:
    received = round_trip(compose(auto_submitted=False))

    assert "Auto-Submitted" not in received
    assert received["X-Auto-Response-Suppress"] == "All"


def test_the_given_re_subject_is_used_as_is() -> None:
    assert round_trip(compose(subject="Re: Re: Цены [#17]"))["Subject"] == "Re: Re: Цены [#17]"


def test_a_first_message_has_no_in_reply_to_or_references() -> None:
    received = round_trip(compose(in_reply_to=None, references=[]))

    assert "In-Reply-To" not in received and "References" not in received


def test_the_parent_ends_the_references_and_junk_ids_are_dropped() -> None:
    received = round_trip(
        compose(in_reply_to="parent@example.com", references=["<a@x>", "junk", "", "<a@x>"])
    )

    assert received["In-Reply-To"] == "<parent@example.com>"
    assert received["References"] == "<a@x> <parent@example.com>"


def test_a_long_chain_keeps_the_root_and_the_last_ten() -> None:
    ids = [f"<m{number}@example.com>" for number in range(30)]

    assert reference_chain(ids, ids[-1]) == [ids[0], *ids[-10:]]


def test_long_ids_are_folded_between_ids_and_never_encoded() -> None:
    ids = [f"<{'x' * 60}.{number}@mail.example.com>" for number in range(4)]
    message = compose(in_reply_to=ids[-1], references=ids)

    block = header_block(message).decode()
    assert "=?" not in block
    references = re.search(r"^References:.*?(?=\r\n\S)", block, re.M | re.S)
    assert references is not None
    lines = references.group(0).split("\r\n")
    assert lines == [f"References: {ids[0]}", *(f" {msg_id}" for msg_id in ids[1:])]
    assert round_trip(message)["References"] == " ".join(ids)


def test_a_malformed_own_message_id_is_a_bug_not_a_header() -> None:
    with pytest.raises(ValueError, match="message_id"):
        compose(message_id="reply-1@shop.example\r\nBcc: evil@example.com")
    with pytest.raises(ValueError, match="message_id"):
        compose(message_id="no-brackets@shop.example")


def test_the_date_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        compose(now=datetime(2024, 3, 5, 10, 30))
    moscow = datetime(2024, 3, 5, 13, 30, tzinfo=timezone(timedelta(hours=3)))
    assert round_trip(compose(now=moscow))["Date"].datetime == moscow


@pytest.mark.parametrize(
    ("language", "content_language"), [("ru", "ru"), ("ru-RU", "ru"), ("en", "en")]
)
def test_content_language_names_the_reply_language(language: str, content_language: str) -> None:
    assert round_trip(compose(language=language))["Content-Language"] == content_language


@pytest.mark.parametrize("language", [None, "de"])
def test_no_content_language_when_unknown(language: str | None) -> None:
    received = round_trip(compose(language=language))

    assert "Content-Language" not in received
    assert "Reply with the number or the words." in plain_text(received)


# --- bodies ----------------------------------------------------------------------------------


def test_options_are_a_numbered_list_in_both_parts() -> None:
    received = round_trip(compose())

    assert plain_text(received) == (
        "Thanks for writing!\n\nWhich plan do you need?\n\n"
        "1. Basic plan\n2. Pro plan\n\nReply with the number or the words.\n"
    )
    html = html_text(received)
    assert "<p>Thanks for writing!</p>\n<p>Which plan do you need?</p>" in html
    assert "<ol><li>Basic plan</li><li>Pro plan</li></ol>" in html
    assert '<html lang="en">' in html


def test_the_hint_is_russian_for_a_russian_customer() -> None:
    received = round_trip(compose(text="Какой тариф вам нужен?", language="ru"))

    assert plain_text(received).endswith("2. Pro plan\n\nОтветьте номером или словами.\n")
    assert "<p>Ответьте номером или словами.</p>" in html_text(received)


def test_without_options_there_is_no_list_and_no_hint() -> None:
    received = round_trip(compose(options=[]))

    assert plain_text(received) == "Thanks for writing!\n\nWhich plan do you need?\n"
    assert "<ol>" not in html_text(received)


def test_html_from_the_text_or_labels_is_escaped_never_rendered() -> None:
    received = round_trip(
        compose(
            text='<script>alert("x")</script>\nline two',
            options=[QuickReply("<b>Bold</b> & co", "x")],
        )
    )

    html = html_text(received)
    assert "<script>" not in html and "<b>" not in html
    assert "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>line two</p>" in html
    assert "<li>&lt;b&gt;Bold&lt;/b&gt; &amp; co</li>" in html
    assert "1. <b>Bold</b> & co" in plain_text(received)  # plain text stays as written


def test_dots_from_lines_and_control_characters_survive_or_go_safely() -> None:
    text = "Sure.\r\n.\r\nFrom here on\r..\n\x00\x1b[31mred\x7f"

    received = round_trip(compose(text=text, options=[]))

    assert plain_text(received) == "Sure.\n.\nFrom here on\n..\n[31mred\n"


# --- injection -------------------------------------------------------------------------------

INJECTIONS: dict[str, dict[str, Any]] = {
    "display name": {"recipient_name": "Eve\r\nBcc: evil@example.com"},
    "display name LF": {"recipient_name": "Eve\nBcc: evil@example.com"},
    "subject": {"subject": "Re: Prices\r\nBcc: evil@example.com"},
    "subject trailing LF": {"subject": "Re: Prices\n"},
    "encoded-word subject": {"subject": "=?utf-8?q?Prices=0ABcc:_evil@example.com?="},
    "koi8-r encoded-word": {"subject": "=?koi8-r?b?4czGwdfJ1AoK?= Bcc: evil@example.com"},
    "nested encoded-word": {"subject": "=?utf-8?q?=3D=3Futf-8=3Fq=3FA=3D0ABcc:_x@y=3F=3D?="},
    "encoded-word name": {"recipient_name": "=?utf-8?q?Eve=0ABcc:_evil@example.com?="},
    "sender display name": {"sender": '"Shop\r\nBcc: evil@example.com" <bot@shop.example>'},
    "sender encoded-word": {"sender": '"=?utf-8?q?Shop=0ABcc:_x@y?=" <bot@shop.example>'},
    "reference": {"references": ["<a@x>\r\nBcc: evil@example.com"]},
    "in-reply-to": {"in_reply_to": "<a@x>\nBcc: evil@example.com"},
    "loop token": {"loop_token": "bot\r\nBcc: evil@example.com"},
    "option label": {"options": [QuickReply("Yes\r\nBcc: evil@example.com", "y")]},
    "text": {"text": "Hi\r\n\r\nBcc: evil@example.com\r\n.\r\nFrom here"},
    "unicode separators": {"subject": "a\u2028Bcc: x@y\u0085b\u2029c"},
}  # fmt: skip


@pytest.mark.parametrize("overrides", INJECTIONS.values(), ids=INJECTIONS.keys())
@pytest.mark.parametrize("smtp_policy", [policy.SMTP, policy.SMTPUTF8], ids=["ascii", "utf8"])
def test_line_breaks_in_input_never_add_a_header_or_a_recipient(
    overrides: dict[str, Any], smtp_policy: Any
) -> None:
    message = compose(**overrides)

    received = round_trip(message, smtp_policy)
    expected = [name for name in HEADERS if name in received]
    assert received.keys() == expected
    assert "Bcc" not in received
    assert [address.addr_spec for address in received["To"].addresses] == ["eve@example.com"]
    assert [address.addr_spec for address in received["From"].addresses] == ["bot@shop.example"]
    lines = header_block(message, smtp_policy).split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert not any(line.lower().startswith(b"bcc") for line in lines)


def test_a_hidden_line_break_becomes_a_space_in_the_subject() -> None:
    received = round_trip(compose(subject="=?utf-8?q?Prices=0ABcc:_evil@example.com?="))

    assert received["Subject"] == "Prices Bcc: evil@example.com"


def test_a_display_name_with_a_line_break_stays_in_one_quoted_name() -> None:
    received = round_trip(compose(recipient_name="Eve\r\nBcc: evil@example.com"))

    [address] = received["To"].addresses
    assert (address.display_name, address.addr_spec) == (
        "Eve Bcc: evil@example.com", "eve@example.com",
    )  # fmt: skip


@pytest.mark.parametrize(
    "value",
    ["Re:\u202e gnp.exe", "a\x00b\x1bc\x7fd", "tab\there", " spaced   out "],
    ids=["bidi override", "controls", "tab", "spaces"],
)
def test_header_text_removes_controls_and_bidi(value: str) -> None:
    cleaned = header_text(value, 100)

    assert not re.search("[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]", cleaned)
    assert cleaned == cleaned.strip() and "  " not in cleaned


def test_header_values_are_capped() -> None:
    received = round_trip(compose(subject="Re: " + "long " * 200, recipient_name="N" * 500))

    assert len(received["Subject"]) <= 250
    assert len(received["To"].addresses[0].display_name) <= 100


@pytest.mark.parametrize(
    "recipient",
    [
        "", "eve", "eve@", "@example.com", "eve@@example.com", "eve@example..com",
        "eve@example.com, mallory@example.com", "eve@example.com mallory@example.com",
        "Eve <eve@example.com>", "eve@example.com\r\nBcc: evil@example.com",
        "eve@example.com>", "eve(comment)@example.com", '"eve smith"@example.com',
    ],
)  # fmt: skip
def test_a_recipient_that_is_not_one_plain_address_is_permanently_invalid(
    recipient: str,
) -> None:
    with pytest.raises(PermanentSendError, match="invalid recipient") as invalid:
        compose(recipient=recipient)

    assert not invalid.value.unreachable


def test_an_international_domain_is_sent_in_idna() -> None:
    received = round_trip(compose(recipient="ivan@пример.рф"))

    assert received["To"].addresses[0].addr_spec == "ivan@xn--e1afmkfd.xn--p1ai"


@pytest.mark.parametrize(
    "sender", ["bot@shop.example, other@shop.example", "undisclosed:;", "not an address", ""]
)
def test_email_from_must_be_one_address(sender: str) -> None:
    with pytest.raises(ValueError, match="EMAIL_FROM"):
        compose(sender=sender)


def test_email_from_without_a_name_is_just_the_address() -> None:
    assert round_trip(compose(sender="bot@shop.example"))["From"] == "bot@shop.example"


def test_files_are_attached_with_safe_names_and_types_and_the_bodies_stay() -> None:
    files = [
        FileCopy("договор.pdf", "application/pdf", b"%PDF-1.4"),
        FileCopy("evil\r\nBcc: x@y.example.txt", "text/plain\r\nX: y", b"hello"),
        FileCopy("", "message/rfc822", b"From: a@b.example\r\n\r\nhi"),
    ]
    message = round_trip(compose(language="ru", files=files))

    assert message.get_content_type() == "multipart/mixed"
    assert message["Content-Language"] == "ru"  # kept on the whole mail, not moved inward
    assert plain_text(message).startswith("Thanks for writing!")
    attached = [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    ]
    assert attached == [
        ("договор.pdf", "application/pdf", b"%PDF-1.4"),
        ("evil Bcc: x@y.example.txt", "application/octet-stream", b"hello"),
        ("attachment", "application/octet-stream", b"From: a@b.example\r\n\r\nhi"),
    ]
    assert message["Bcc"] is None
