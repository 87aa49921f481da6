"""Sending one composed reply through the company's SMTP relay (aiosmtplib).

What is guaranteed: **at-least-once**. `send` returns only after the server accepted the DATA
for the one recipient; otherwise it raises `TransientSendError` (try again later) or
`PermanentSendError` (never retry; `unreachable` when the server refused the mailbox itself).
If the connection drops after the message went out but before the server's 250 arrived, the
relay retries and the customer may receive the mail twice. The Message-ID is set by the caller,
stored on the outbox row and stays the same on a retry, so receivers (and our own threading)
can deduplicate. Not guaranteed: delivery to the final mailbox; a later bounce comes back as a
DSN through the inbound filter chain.

Exactly one recipient, given explicitly: headers never choose recipients (aiosmtplib would
derive them from To/Cc/Bcc), and a message with Cc, Bcc, Resent-* or a To other than the
recipient is refused before connecting. Certificates are always verified; "none" (plain SMTP)
is accepted only for a loopback host. Passwords never reach a log line or a `repr`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import ssl
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import AddressHeader
from email.message import EmailMessage
from typing import Literal

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPDataError,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponse,
    SMTPResponseException,
    SMTPSenderRefused,
)

from bot.model import PermanentSendError, TransientSendError
from channels.email.compose import parse_addr_spec, recipient_address

log = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "none"]
SendFailure = TransientSendError | PermanentSendError

CONFIGURATION_CODES = frozenset({530, 534, 535, 538})  # auth/encryption required or refused
MAILBOX_GONE_CODES = frozenset({550, 551, 553})  # used when the reply has no enhanced code
FOREIGN_HEADERS = ("Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc")
_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# How long a session waits for the next reply before QUIT: long enough for a stream of replies
# to share it, far below the 5 minutes a server waits for a client's next command (RFC 5321
# 4.5.3.2.7) and short enough to hold no connection a provider counts against the account.
KEEP_OPEN_SECONDS = 15.0
# QUIT is a courtesy (the message was accepted or refused already): a server slow to answer it
# gets this long, not the send timeout, so a stop is not held up by sessions ending.
QUIT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    user: str | None
    password: str | None = field(repr=False)
    security: Security
    ca_file: str | None = None
    timeout: float = 30.0
    helo_name: str | None = None  # EHLO name; None = this host's FQDN

    def __post_init__(self) -> None:
        if self.security not in ("tls", "starttls", "none"):
            raise ValueError(f"SMTP security must be tls, starttls or none, not {self.security!r}")
        if self.security == "none" and not is_loopback(self.host):
            raise ValueError(f"SMTP without TLS is allowed only on loopback, not {self.host!r}")
        if (self.user is None) != (self.password is None):
            raise ValueError("SMTP user and password go together: set both or neither")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class SmtpSender:
    """Sessions (connected, greeted, logged in) are reused. One that is done waits up to
    `keep_open` seconds for the next message before it is ended with QUIT, so replies sent one
    after another pay for the connection, TLS and AUTH once, not each (with a remote relay
    that is most of a send's time). At most `sessions` are open: a new one is opened only
    when none is waiting. Any error ends its session (nothing stale survives one), and a kept
    session the server has closed meanwhile is dropped, not used."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        sessions: int = 4,
        keep_open: float = KEEP_OPEN_SECONDS,
        quit_wait: float = QUIT_SECONDS,
    ) -> None:
        if keep_open <= 0:
            raise ValueError("keep_open must be positive: a session done with waits that long")
        self._config = config
        self._tls = None if config.security == "none" else tls_context(config.ca_file)
        self._slots = asyncio.Semaphore(sessions)
        self._keep_open = keep_open
        self._quit_wait = min(quit_wait, config.timeout)
        self._kept: dict[aiosmtplib.SMTP, asyncio.TimerHandle] = {}  # idle, oldest first
        self._ending: set[asyncio.Task[None]] = set()

    async def send(self, message: EmailMessage, *, envelope_from: str, recipient: str) -> None:
        rcpt = recipient_address(recipient).addr_spec  # PermanentSendError when unusable
        sender = parse_addr_spec(envelope_from)
        if sender is None:
            raise ValueError(f"the envelope sender is not an address: {envelope_from[:80]!r}")
        check_only_recipient(message, rcpt)
        try:
            async with self._slots:
                refused = await self._transaction(message, sender.addr_spec, rcpt)
        except (SMTPException, OSError, TimeoutError) as error:
            raise classify(error) from None
        if refused:  # aiosmtplib raises only when *every* recipient is refused
            reply = next(iter(refused.values()))
            raise reply_error("RCPT", reply.code, reply.message)

    async def close(self) -> None:
        """End the sessions kept open (QUIT, all at once), and wait for those already
        ending."""
        kept, self._kept = self._kept, {}
        for timer in kept.values():
            timer.cancel()
        await asyncio.gather(*(self._quit(client) for client in kept), *self._ending)

    async def _transaction(
        self, message: EmailMessage, sender: str, rcpt: str
    ) -> dict[str, SMTPResponse]:
        client = await self._session()
        try:
            refused, _ = await client.send_message(message, sender=sender, recipients=[rcpt])
        except (SMTPResponseException, SMTPRecipientsRefused):
            await self._quit(client)  # the server still talks: end the session politely
            raise
        except BaseException:
            client.close()
            raise
        self._keep(client)
        return refused

    async def _session(self) -> aiosmtplib.SMTP:
        while self._kept:
            client = next(reversed(self._kept))  # the most recently used: the others may expire
            self._kept.pop(client).cancel()
            if client.is_connected:
                return client
            client.close()  # the server ended it while it waited (its idle timeout)
        client = self._client()
        await client.connect()  # TCP, TLS or STARTTLS; aiosmtplib closes on its failures
        try:
            if self._config.user is not None and self._config.password is not None:
                await client.login(self._config.user, self._config.password)
        except SMTPResponseException:
            await self._quit(client)
            raise
        except BaseException:
            client.close()
            raise
        return client

    def _keep(self, client: aiosmtplib.SMTP) -> None:
        loop = asyncio.get_running_loop()
        self._kept[client] = loop.call_later(self._keep_open, self._expire, client)

    def _expire(self, client: aiosmtplib.SMTP) -> None:
        if self._kept.pop(client, None) is None:
            return
        ending = asyncio.ensure_future(self._quit(client))
        self._ending.add(ending)
        ending.add_done_callback(self._ending.discard)

    async def _quit(self, client: aiosmtplib.SMTP) -> None:
        # After an accepted DATA a failing QUIT must not turn the message into a retry; after
        # a refusal it must not hide the refusal.
        try:
            await client.quit(timeout=self._quit_wait)
        except (SMTPException, OSError, TimeoutError):
            pass
        finally:
            client.close()

    def _client(self) -> aiosmtplib.SMTP:
        config = self._config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=self._tls,
            timeout=config.timeout,
            local_hostname=config.helo_name,
        )


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verified TLS: the system's trust store, plus `ca_file` for a private CA."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def check_only_recipient(message: EmailMessage, rcpt: str) -> None:
    present = [name for name in FOREIGN_HEADERS if name in message]
    if present:
        raise PermanentSendError(f"refused: a reply goes to one recipient, not {present}")
    to = [address for value in message.get_all("To") or [] for address in _addresses(str(value))]
    if len(to) != 1 or to[0].lower() != rcpt.lower():
        raise PermanentSendError(f"refused: To names {len(to)} addresses, not the recipient")


def _addresses(value: str) -> list[str]:
    header = policy.default.header_factory("to", value)
    if not isinstance(header, AddressHeader):
        return []
    return [address.addr_spec for address in header.addresses]


# --- errors ----------------------------------------------------------------------------------


def classify(error: BaseException) -> SendFailure:
    """The relay's decision for what aiosmtplib raised.

    Refusals of this message are checked first (by reply code); then what is wrong with our
    setup (login, certificates, a server that refuses the session), which is transient and
    logged loudly: the message is not at fault and waits in the outbox; then the network.
    """
    if isinstance(error, SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    if isinstance(error, SMTPRecipientRefused):
        return reply_error("RCPT", error.code, error.message)
    if isinstance(error, SMTPAuthenticationError):
        return misconfigured(f"SMTP login refused: {error.code} {_short(error.message)}")
    if isinstance(error, SMTPSenderRefused):
        return reply_error("MAIL", error.code, error.message)
    if isinstance(error, SMTPDataError):
        return reply_error("DATA", error.code, error.message)
    if isinstance(error, SMTPNotSupported):
        return PermanentSendError(f"SMTP: {_short(error.message)}")
    if (tls := _tls_error(error)) is not None:
        return misconfigured(f"SMTP TLS failed: {_short(str(tls))}")
    return _session_error(error)


def _session_error(error: BaseException) -> SendFailure:
    if isinstance(error, SMTPResponseException):  # greeting, EHLO, STARTTLS
        reason = f"SMTP session refused: {error.code} {_short(error.message)}"
        return TransientSendError(reason) if error.code < 500 else misconfigured(reason)
    if isinstance(error, SMTPException) and not isinstance(error, ConnectionError | TimeoutError):
        return misconfigured(f"SMTP: {_short(error.message)}")  # no STARTTLS or AUTH offered
    return TransientSendError(f"SMTP unreachable: {type(error).__name__}: {_short(str(error))}")


def reply_error(stage: str, code: int, text: str) -> SendFailure:
    """A refusal at MAIL, RCPT or DATA: 4xx transient, 5xx permanent; the recipient is
    `unreachable` only when the server refused the mailbox itself (5.1.x, or 550/551/553)."""
    reason = f"SMTP {stage} {code} {_short(text)}"
    if code in CONFIGURATION_CODES:
        return misconfigured(reason)
    if 500 <= code < 600:
        return PermanentSendError(reason, unreachable=stage == "RCPT" and mailbox_gone(code, text))
    return TransientSendError(reason)


def mailbox_gone(code: int, text: str) -> bool:
    enhanced = _ENHANCED.match(text)
    if enhanced:
        return enhanced.group(1) == "5" and enhanced.group(2) == "1"
    return code in MAILBOX_GONE_CODES


def misconfigured(reason: str) -> TransientSendError:
    log.critical("%s: check the SMTP_* settings; replies wait in the outbox", reason)
    return TransientSendError(reason)


def _tls_error(error: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = error
    for _ in range(8):  # a cause chain is short; never walk a long one
        if seen is None or isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _short(text: str) -> str:
    return " ".join(text.split())[:200]
