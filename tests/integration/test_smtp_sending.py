"""Replies sent with the real aiosmtplib client to a real aiosmtpd server on 127.0.0.1: what the
server heard (the command transcript), what it stored (the DATA bytes) and how every refusal is
classified for the relay."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import pytest

from bot.model import PermanentSendError, QuickReply, TransientSendError
from channels.email.compose import LOOP_HEADER, compose_reply
from channels.email.smtp import SmtpConfig, SmtpSender
from tests.services import smtp as smtp_service
from tests.services.smtp import SmtpServer, TlsFiles

# The shared fixtures, made visible to this module.
smtp_server = smtp_service.smtp_server
smtp_tls_files = smtp_service.smtp_tls_files
silent_port = smtp_service.silent_port

CUSTOMER = "eve@example.com"
BOUNCES = "bounces+42@shop.example"
PASSWORD = "s3cret-Pa55"
REPLY_HEADERS = [
    "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Auto-Submitted", "X-Auto-Response-Suppress", LOOP_HEADER, "MIME-Version", "Content-Type",
    "Content-Language",
]  # fmt: skip
ONE_MESSAGE = ["EHLO localhost", f"MAIL FROM:<{BOUNCES}>", f"RCPT TO:<{CUSTOMER}>", "DATA", "QUIT"]


def reply(**overrides: Any) -> EmailMessage:
    fields: dict[str, Any] = {
        "text": "Thanks! Which plan do you need?",
        "options": [QuickReply("Basic", "plan:basic"), QuickReply("Pro", "plan:pro")],
        "sender": "Touchpoint Shop <bot@shop.example>",
        "recipient": CUSTOMER,
        "recipient_name": "Eve",
        "subject": "Re: Prices [#17]",
        "message_id": "<reply-1@shop.example>",
        "in_reply_to": "<question-1@example.com>",
        "references": ["<question-1@example.com>"],
        "auto_submitted": True,
        "loop_token": "touchpoint-test",
        "language": "en",
    }
    return compose_reply(**(fields | overrides))


def plain(server: SmtpServer, **overrides: Any) -> SmtpConfig:
    fields: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "user": None,
        "password": None,
        "security": "none",
        "timeout": 5.0,
        "helo_name": "localhost",
    }
    return SmtpConfig(**(fields | overrides))


async def send(config: SmtpConfig, message: EmailMessage, recipient: str = CUSTOMER) -> None:
    """One reply from a sender of its own, closed at once (its session ends with QUIT)."""
    sender = SmtpSender(config)
    try:
        await sender.send(message, envelope_from=BOUNCES, recipient=recipient)
    finally:
        await sender.close()


def mail_commands(transcript: list[str]) -> list[str]:
    """Without the SIZE/BODY parameters aiosmtplib adds to MAIL FROM."""
    return [line.split(" ", 2)[0] + " " + line.split(" ", 2)[1] if line.startswith("MAIL ")
            else line for line in transcript]  # fmt: skip


# --- delivered -------------------------------------------------------------------------------


async def test_a_reply_reaches_exactly_the_customer(smtp_server: SmtpServer) -> None:
    await send(plain(smtp_server), reply())

    assert mail_commands(smtp_server.transcript) == ONE_MESSAGE
    [envelope] = smtp_server.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == (BOUNCES, (CUSTOMER,))
    received = envelope.parsed()
    assert received.keys() == REPLY_HEADERS
    assert received["To"] == f"Eve <{CUSTOMER}>"
    assert received["From"] == "Touchpoint Shop <bot@shop.example>"
    assert received["Subject"] == "Re: Prices [#17]"
    assert received["Message-ID"] == "<reply-1@shop.example>"
    assert received["In-Reply-To"] == "<question-1@example.com>"
    assert received["References"] == "<question-1@example.com>"
    assert received["Auto-Submitted"] == "auto-replied"
    assert received[LOOP_HEADER] == "touchpoint-test"
    body = received.get_body(("plain",))
    assert body is not None
    assert "1. Basic\n2. Pro" in body.get_content()


async def test_451_on_rcpt_then_accepted_is_delivered_once(smtp_server: SmtpServer) -> None:
    smtp_server.answer("RCPT", 451)
    message = reply()

    with pytest.raises(TransientSendError, match="RCPT 451"):
        await send(plain(smtp_server), message)
    assert smtp_server.envelopes == []
    await send(plain(smtp_server), message)

    [envelope] = smtp_server.envelopes
    assert envelope.parsed()["Message-ID"] == "<reply-1@shop.example>"  # same id on the retry
    assert len(smtp_server.commands("RCPT")) == 2


async def test_replies_due_at_once_share_a_session_that_ends_when_the_sender_closes(
    smtp_server: SmtpServer,
) -> None:
    sender = SmtpSender(plain(smtp_server), sessions=1)
    messages = [reply(message_id=f"<reply-{n}@shop.example>") for n in range(3)]

    await asyncio.gather(
        *(sender.send(message, envelope_from=BOUNCES, recipient=CUSTOMER) for message in messages)
    )
    assert smtp_server.open_sessions == 1  # kept for the next reply
    await sender.close()
    await smtp_server.settle()

    mail = [f"MAIL FROM:<{BOUNCES}>", f"RCPT TO:<{CUSTOMER}>", "DATA"]
    assert mail_commands(smtp_server.transcript) == ["EHLO localhost", *mail * 3, "QUIT"]
    assert [e.parsed()["Message-ID"] for e in smtp_server.envelopes] == [
        f"<reply-{n}@shop.example>" for n in range(3)
    ]
    assert smtp_server.open_sessions == 0


async def test_replies_sent_one_after_another_share_a_session_that_ends_once_idle(
    smtp_server: SmtpServer,
) -> None:
    sender = SmtpSender(plain(smtp_server), keep_open=0.5)
    for n in range(3):
        message = reply(message_id=f"<reply-{n}@shop.example>")
        await sender.send(message, envelope_from=BOUNCES, recipient=CUSTOMER)
        await asyncio.sleep(0.1)  # less than keep_open

    assert smtp_server.open_sessions == 1
    assert len(smtp_server.commands("EHLO")) == 1
    await smtp_server.settle()  # the session ends by itself, keep_open after the last reply

    mail = [f"MAIL FROM:<{BOUNCES}>", f"RCPT TO:<{CUSTOMER}>", "DATA"]
    assert mail_commands(smtp_server.transcript) == ["EHLO localhost", *mail * 3, "QUIT"]
    assert len(smtp_server.envelopes) == 3
    await sender.close()  # nothing left to end


async def test_a_session_the_server_closed_while_kept_is_not_used() -> None:
    with SmtpServer(idle_timeout=0.2) as server:  # the server's timeout, shorter than ours
        sender = SmtpSender(plain(server), keep_open=5.0)
        await sender.send(reply(), envelope_from=BOUNCES, recipient=CUSTOMER)
        await server.settle()  # 421 and closed by the server while the sender kept it

        second = reply(message_id="<reply-2@shop.example>")
        await sender.send(second, envelope_from=BOUNCES, recipient=CUSTOMER)
        await sender.close()
        await server.settle()

        assert len(server.commands("EHLO")) == 2
        assert [e.parsed()["Message-ID"] for e in server.envelopes] == [
            "<reply-1@shop.example>",
            "<reply-2@shop.example>",
        ]


async def test_sessions_whose_quit_goes_unanswered_end_within_the_quit_wait() -> None:
    """A stop is not held up by a server that hangs after accepting the replies: the kept
    sessions are ended together, each given `quit_wait` for its QUIT, not the send timeout."""
    with SmtpServer(quit_unanswered=True) as server:
        sender = SmtpSender(plain(server, timeout=30.0), sessions=3, quit_wait=0.3)
        messages = [reply(message_id=f"<reply-{n}@shop.example>") for n in range(3)]
        # Three replies at once: each opens a session of its own (none is kept yet).
        await asyncio.gather(
            *(
                sender.send(message, envelope_from=BOUNCES, recipient=CUSTOMER)
                for message in messages
            )
        )
        assert server.open_sessions == 3

        async with asyncio.timeout(10):  # one after another, each for the send timeout: 90 s
            await sender.close()
        await server.settle()

        assert len(server.commands("QUIT")) == 3
        assert len(server.envelopes) == 3


async def test_an_error_ends_a_shared_session_and_the_next_reply_opens_its_own(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.answer("RCPT", 451)
    sender = SmtpSender(plain(smtp_server), sessions=1)
    messages = [reply(message_id=f"<reply-{n}@shop.example>") for n in range(2)]

    first, second = await asyncio.gather(
        *(sender.send(message, envelope_from=BOUNCES, recipient=CUSTOMER) for message in messages),
        return_exceptions=True,
    )
    await sender.close()
    await smtp_server.settle()

    assert isinstance(first, TransientSendError) and second is None
    assert smtp_server.commands("EHLO") and len(smtp_server.commands("EHLO")) == 2
    assert [e.parsed()["Message-ID"] for e in smtp_server.envelopes] == ["<reply-1@shop.example>"]
    assert smtp_server.open_sessions == 0


# --- refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "code", "text", "unreachable"),
    [
        ("RCPT", 550, None, True),  # 5.1.1 no such user
        ("RCPT", 553, None, True),  # 5.1.3 bad mailbox name
        ("RCPT", 550, "Mailbox unavailable", True),  # no enhanced code
        ("RCPT", 550, "5.7.1 Relaying denied", False),  # policy, not the mailbox
        ("RCPT", 552, None, False),
        ("MAIL", 550, "5.7.1 Sender rejected", False),
        ("DATA", 554, None, False),  # content rejected
        ("DATA", 552, None, False),  # too big
    ],
)
async def test_5xx_is_permanent_and_only_a_refused_mailbox_is_unreachable(
    smtp_server: SmtpServer, verb: Any, code: int, text: str | None, unreachable: bool
) -> None:
    smtp_server.answer(verb, code, text)

    with pytest.raises(PermanentSendError, match=f"{verb} {code}") as refused:
        await send(plain(smtp_server), reply())

    assert refused.value.unreachable is unreachable
    assert smtp_server.envelopes == []


@pytest.mark.parametrize(("verb", "code"), [("MAIL", 421), ("RCPT", 452), ("DATA", 451)])
async def test_4xx_is_transient(smtp_server: SmtpServer, verb: Any, code: int) -> None:
    smtp_server.answer(verb, code)

    with pytest.raises(TransientSendError, match=f"{verb} {code}"):
        await send(plain(smtp_server), reply())

    assert smtp_server.envelopes == []


@pytest.mark.parametrize("recipient", ["eve@example.com, mallory@example.com",
                                       "eve@example.com mallory@example.com",
                                       "Eve <eve@example.com>", "eve@example.com\r\nRCPT TO:<x@y>"])  # fmt: skip
async def test_more_than_one_recipient_is_refused_before_connecting(
    smtp_server: SmtpServer, recipient: str
) -> None:
    with pytest.raises(PermanentSendError, match="invalid recipient"):
        await send(plain(smtp_server), reply(), recipient=recipient)

    assert smtp_server.transcript == []


@pytest.mark.parametrize(
    ("header", "value"),
    [("Cc", "mallory@example.com"), ("Bcc", "mallory@example.com"),
     ("To", f"{CUSTOMER}, mallory@example.com")],
)  # fmt: skip
async def test_a_message_naming_anyone_else_is_refused(
    smtp_server: SmtpServer, header: str, value: str
) -> None:
    message = reply()
    del message[header]
    message[header] = value

    with pytest.raises(PermanentSendError, match="refused"):
        await send(plain(smtp_server), message)

    assert smtp_server.transcript == []


async def test_a_to_other_than_the_recipient_is_refused(smtp_server: SmtpServer) -> None:
    with pytest.raises(PermanentSendError, match="refused"):
        await send(plain(smtp_server), reply(), recipient="mallory@example.com")

    assert smtp_server.transcript == []


# --- network and configuration ---------------------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening on 127.0.0.1: connecting is refused at once."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


async def test_connection_refused_is_transient(smtp_server: SmtpServer, closed_port: int) -> None:
    with pytest.raises(TransientSendError, match="unreachable"):
        await send(plain(smtp_server, port=closed_port), reply())


async def test_a_server_that_never_greets_times_out_as_transient(
    smtp_server: SmtpServer, silent_port: int
) -> None:
    config = plain(smtp_server, port=silent_port, timeout=0.2)

    with pytest.raises(TransientSendError, match=r"Timeout|Timed out"):
        await send(config, reply())


def test_plain_smtp_is_refused_for_a_host_off_this_machine() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SmtpConfig("smtp.example.com", 25, None, None, "none")
    assert SmtpConfig("::1", 25, None, None, "none").host == "::1"


def test_the_password_is_not_in_the_config_repr() -> None:
    config = SmtpConfig("smtp.example.com", 587, "bot", PASSWORD, "starttls")
    assert PASSWORD not in repr(config)


@pytest.fixture
async def tls_server(smtp_tls_files: TlsFiles) -> AsyncIterator[SmtpServer]:
    with SmtpServer(tls=smtp_tls_files, users={"bot": PASSWORD}) as server:
        yield server
        await server.settle()


def secured(server: SmtpServer, tls: TlsFiles, **overrides: Any) -> SmtpConfig:
    login = {"user": "bot", "password": PASSWORD, "security": "starttls", "ca_file": str(tls.ca)}
    return plain(server, **(login | overrides))


async def test_starttls_with_the_ca_file_and_auth_delivers(
    tls_server: SmtpServer, smtp_tls_files: TlsFiles
) -> None:
    await send(secured(tls_server, smtp_tls_files), reply())

    assert [line.split(" ")[0] for line in tls_server.transcript] == [
        "EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT",
    ]  # fmt: skip
    assert len(tls_server.envelopes) == 1


async def test_a_kept_session_is_reused_over_tls_without_logging_in_again(
    tls_server: SmtpServer, smtp_tls_files: TlsFiles
) -> None:
    sender = SmtpSender(secured(tls_server, smtp_tls_files))
    for n in range(3):
        message = reply(message_id=f"<reply-{n}@shop.example>")
        await sender.send(message, envelope_from=BOUNCES, recipient=CUSTOMER)
    await sender.close()

    assert [line.split(" ")[0] for line in tls_server.transcript] == [
        "EHLO", "STARTTLS", "EHLO", "AUTH", *["MAIL", "RCPT", "DATA"] * 3, "QUIT",
    ]  # fmt: skip
    assert len(tls_server.envelopes) == 3


async def test_starttls_without_the_ca_file_fails_verification(
    tls_server: SmtpServer, smtp_tls_files: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    config = secured(tls_server, smtp_tls_files, ca_file=None)

    with pytest.raises(TransientSendError, match=r"TLS failed.*CERTIFICATE_VERIFY_FAILED"):
        await send(config, reply())

    assert tls_server.transcript == ["EHLO localhost", "STARTTLS"]  # nothing after the handshake
    assert any(record.levelno == logging.CRITICAL for record in caplog.records)


async def test_a_wrong_password_is_transient_and_loud_but_not_logged(
    tls_server: SmtpServer, smtp_tls_files: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    config = secured(tls_server, smtp_tls_files, password="wrong-Pa55")

    with pytest.raises(TransientSendError, match="login refused: 535"):
        await send(config, reply())

    assert tls_server.commands("MAIL") == []
    assert any(record.levelno == logging.CRITICAL for record in caplog.records)
    assert "wrong-Pa55" not in caplog.text and PASSWORD not in caplog.text


async def test_starttls_required_but_not_offered_is_a_loud_transient_failure(
    smtp_server: SmtpServer, smtp_tls_files: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    config = plain(smtp_server, security="starttls", ca_file=str(smtp_tls_files.ca))

    with pytest.raises(TransientSendError, match="STARTTLS"):
        await send(config, reply())

    assert smtp_server.commands("MAIL") == []
    assert any(record.levelno == logging.CRITICAL for record in caplog.records)


async def test_implicit_tls_with_the_ca_file_delivers(smtp_tls_files: TlsFiles) -> None:
    with SmtpServer(tls=smtp_tls_files, implicit_tls=True) as server:
        config = plain(server, security="tls", ca_file=str(smtp_tls_files.ca))
        await send(config, reply())

        assert len(server.envelopes) == 1
        with pytest.raises(TransientSendError, match="TLS failed"):
            await send(replace(config, ca_file=None), reply())
        assert len(server.envelopes) == 1
        await server.settle()


# --- injection, end to end -------------------------------------------------------------------


INJECTIONS: dict[str, dict[str, Any]] = {
    "display name": {"recipient_name": "Eve\r\nBcc: evil@example.com"},
    "subject": {"subject": "Re: Prices\r\nBcc: evil@example.com"},
    "encoded-word subject": {"subject": "=?utf-8?q?Prices=0ABcc:_evil@example.com?="},
    "encoded-word name": {"recipient_name": "=?utf-8?q?Eve=0ABcc:_evil@example.com?="},
    "sender name": {"sender": '"Shop\r\nBcc: evil@example.com" <bot@shop.example>'},
    "reference": {"references": ["<a@x>\r\nBcc: evil@example.com"]},
    "model text": {"text": "Sure.\r\nBcc: evil@example.com\r\n.\r\nRCPT TO:<evil@example.com>\r\nFrom here"},
}  # fmt: skip


@pytest.mark.parametrize("overrides", INJECTIONS.values(), ids=INJECTIONS.keys())
async def test_injected_line_breaks_add_no_header_and_no_recipient(
    smtp_server: SmtpServer, overrides: dict[str, Any]
) -> None:
    await send(plain(smtp_server), reply(**overrides))

    assert mail_commands(smtp_server.transcript) == ONE_MESSAGE
    [envelope] = smtp_server.envelopes
    received = envelope.parsed()
    assert "Bcc" not in received
    assert set(received.keys()) <= set(REPLY_HEADERS)
    assert [address.addr_spec for address in received["To"].addresses] == [CUSTOMER]
    assert b"\nBcc:" not in envelope.data.split(b"\r\n\r\n", 1)[0]


async def test_model_text_with_a_lone_dot_arrives_whole(smtp_server: SmtpServer) -> None:
    text = "Sure.\r\n.\r\nRCPT TO:<evil@example.com>\r\nFrom here on\n.\nend"

    await send(plain(smtp_server), reply(text=text, options=[]))

    body = smtp_server.envelopes[0].parsed().get_body(("plain",))
    assert body is not None
    assert body.get_content() == "Sure.\n.\nRCPT TO:<evil@example.com>\nFrom here on\n.\nend\n"
    assert smtp_server.commands("RCPT") == [f"RCPT TO:<{CUSTOMER}>"]
