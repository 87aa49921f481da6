"""A real SMTP server for tests: aiosmtpd in this process, on 127.0.0.1 and a free port.

It records every accepted envelope (MAIL FROM, RCPT TOs, the exact DATA bytes) and the
transcript of SMTP commands it received (AUTH credentials left out), and can be scripted to
answer the next MAIL, RCPT or DATA with a given reply, for one recipient or for all.
Optionally STARTTLS (or implicit TLS) with a throwaway CA and certificate made by openssl, and
AUTH PLAIN/LOGIN for known users.

In pytest: `smtp_server = tests.services.smtp.smtp_server` in a test module (an assignment,
which ruff does not report as shadowed) makes the function-scoped fixture available, and
`smtp_tls_files` the session's throwaway certificates (`silent_port`: a server that never
greets). Elsewhere:
`with SmtpServer(tls=make_certificates(folder)) as server: ...`.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"
SETTLE_SECONDS = 5.0
SERVER_NAME = "localhost"  # the banner name; never socket.getfqdn() (slow on some hosts)
Verb = Literal["MAIL", "RCPT", "DATA"]

DEFAULT_REPLIES = {
    421: "421 4.7.0 Too many connections, try again later",
    451: "451 4.3.0 Temporary local problem, try again later",
    452: "452 4.2.2 Mailbox full, try again later",
    550: "550 5.1.1 No such user here",
    552: "552 5.3.4 Message too big",
    553: "553 5.1.3 Mailbox name not allowed",
    554: "554 5.6.0 Message content rejected",
}


@dataclass(frozen=True, slots=True)
class Envelope:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    def parsed(self) -> EmailMessage:
        message = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(message, EmailMessage)
        return message


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca: Path  # what a client trusts (`ca_file`)
    certificate: Path  # the server's, for 127.0.0.1 and localhost, signed by `ca`
    key: Path


@dataclass(slots=True)
class _Answer:
    verb: Verb
    reply: str
    recipient: str | None
    remaining: int


class _State:
    """What the server thread records and the test thread reads, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.envelopes: list[Envelope] = []
        self.transcript: list[str] = []
        self.answers: list[_Answer] = []
        self.sessions: set[int] = set()  # ids of the connections still open
        self.quit_unanswered = False
        self._idle_callbacks: list[Callable[[], object]] = []

    def opened(self, session: int) -> None:
        with self.lock:
            self.sessions.add(session)

    def closed(self, session: int) -> None:
        with self.lock:
            self.sessions.discard(session)
            callbacks = [] if self.sessions else self._idle_callbacks
            self._idle_callbacks = self._idle_callbacks if self.sessions else []
        for callback in callbacks:
            callback()

    def when_idle(self, callback: Callable[[], object]) -> None:
        with self.lock:
            if self.sessions:
                self._idle_callbacks.append(callback)
                return
        callback()

    def scripted(self, verb: Verb, recipients: tuple[str, ...]) -> str | None:
        with self.lock:
            for answer in self.answers:
                matches = answer.recipient is None or answer.recipient in recipients
                if answer.verb == verb and answer.remaining > 0 and matches:
                    answer.remaining -= 1
                    return answer.reply
        return None

    def heard(self, command: str) -> None:
        with self.lock:
            self.transcript.append(command)

    def delivered(self, envelope: Envelope) -> None:
        with self.lock:
            self.envelopes.append(envelope)


class _Handler:
    def __init__(self, state: _State) -> None:
        self._state = state

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if (reply := self._state.scripted("MAIL", ())) is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if (reply := self._state.scripted("RCPT", (address,))) is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        recipients = tuple(envelope.rcpt_tos)
        if (reply := self._state.scripted("DATA", recipients)) is not None:
            return reply
        data = bytes(envelope.original_content)
        self._state.delivered(Envelope(str(envelope.mail_from), recipients, data))
        return "250 2.0.0 OK: queued"


class _RecordingSMTP(SMTP):
    """aiosmtpd's protocol, writing each recognised command line to the transcript."""

    def __init__(self, handler: _Handler, state: _State, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._state = state
        self._smtp_methods = {
            name: _recorded(state, name, method) for name, method in self._smtp_methods.items()
        }

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._state.opened(id(self))  # called again after STARTTLS: a set counts it once
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._state.closed(id(self))


def _recorded(
    state: _State, name: str, method: Callable[[str | None], Awaitable[None]]
) -> Callable[[str | None], Awaitable[None]]:
    async def record_then_run(arg: str | None) -> None:
        if name == "AUTH":  # the mechanism only: credentials stay out of the transcript
            state.heard(f"AUTH {(arg or '').split(' ')[0]}".rstrip())
        else:
            state.heard(f"{name} {arg}" if arg else name)
        if name == "QUIT" and state.quit_unanswered:
            await asyncio.Event().wait()  # until the client gives up and closes, or the stop
        await method(arg)

    return record_then_run


class _Controller(Controller):
    """Binds 127.0.0.1 port 0 and learns the port, so tests never race for a fixed one."""

    def __init__(self, state: _State, **kwargs: Any) -> None:
        super().__init__(_Handler(state), hostname=HOST, port=0, **kwargs)
        self._state = state

    def factory(self) -> SMTP:
        return _RecordingSMTP(self.handler, self._state, **self.SMTP_kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self._bind()

    async def _bind(self) -> asyncio.AbstractServer:
        server = await self.loop.create_server(
            self._factory_invoker, host=HOST, port=0, ssl=self.ssl_context
        )
        self.port = server.sockets[0].getsockname()[1]
        return server


class SmtpServer:
    """A recording, scriptable SMTP server on 127.0.0.1 (a context manager).

    `tls` offers STARTTLS and requires it before MAIL (or, with `implicit_tls`, speaks TLS
    from the first byte). `users` (name → password) enables AUTH PLAIN and LOGIN, required
    before MAIL when TLS is on. `idle_timeout` ends a session that says nothing for that many
    seconds (421, then the connection closed), as real servers do after minutes.
    `quit_unanswered` leaves every QUIT without an answer, as a server that hangs does.
    """

    host = HOST

    def __init__(
        self,
        *,
        tls: TlsFiles | None = None,
        implicit_tls: bool = False,
        users: Mapping[str, str] | None = None,
        idle_timeout: float | None = None,
        quit_unanswered: bool = False,
    ) -> None:
        self._state = _State()
        self._state.quit_unanswered = quit_unanswered
        self._users = dict(users or {})
        authenticator = self.authenticate if self._users else None
        options = _server_options(tls, implicit_tls, authenticator)
        if idle_timeout is not None:
            options["timeout"] = idle_timeout
        self._controller = _Controller(self._state, **options)
        self.port = 0

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._controller.start()
        self.port = int(self._controller.port)

    def stop(self) -> None:
        self._controller.stop()

    def answer(
        self,
        verb: Verb,
        code: int,
        text: str | None = None,
        *,
        times: int = 1,
        recipient: str | None = None,
    ) -> None:
        """Answer the next `times` `verb` commands (for `recipient` only, when given) with
        `code` and `text` (a typical text for the code when None)."""
        reply = f"{code} {text}" if text else DEFAULT_REPLIES.get(code, f"{code} Scripted")
        with self._state.lock:
            self._state.answers.append(_Answer(verb, reply, recipient, times))

    @property
    def envelopes(self) -> list[Envelope]:
        with self._state.lock:
            return list(self._state.envelopes)

    @property
    def transcript(self) -> list[str]:
        with self._state.lock:
            return list(self._state.transcript)

    @property
    def open_sessions(self) -> int:
        with self._state.lock:
            return len(self._state.sessions)

    async def settle(self) -> None:
        """Wait until every connection is closed on both sides.

        A TLS close is a close_notify exchange that runs on the client's event loop too; a
        test's loop stops as soon as the test returns, which would leave the client's socket
        half-closed (an "unclosed socket" ResourceWarning later). The server's side ends only
        after it has sent its close_notify, so once it has, a few loop turns let the client
        read it and close.
        """
        loop = asyncio.get_running_loop()
        idle = asyncio.Event()
        self._state.when_idle(lambda: loop.call_soon_threadsafe(idle.set))
        async with asyncio.timeout(SETTLE_SECONDS):
            await idle.wait()
        for _ in range(10):
            await asyncio.sleep(0)

    def commands(self, verb: str) -> list[str]:
        """The transcript lines of one command, e.g. every `RCPT TO:<...>`."""
        return [line for line in self.transcript if line.split(" ")[0] == verb]

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._users.get(
            data.login.decode("utf-8", "replace")
        ) == data.password.decode("utf-8", "replace")
        return AuthResult(success=ok, handled=False)


def _server_options(
    tls: TlsFiles | None, implicit: bool, authenticator: Callable[..., AuthResult] | None
) -> dict[str, Any]:
    options: dict[str, Any] = {"server_hostname": SERVER_NAME, "ready_timeout": 5.0}
    if tls is not None:
        context = server_tls_context(tls)
        options |= {"ssl_context": context} if implicit else {"tls_context": context}
        options["require_starttls"] = not implicit
    if authenticator is not None:
        options |= {
            "authenticator": authenticator,
            "auth_required": tls is not None,
            "auth_require_tls": tls is not None,
        }
    return options


def server_tls_context(tls: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.certificate, tls.key)
    return context


def make_certificates(folder: Path) -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (EC keys: fast)."""
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca_key, request = folder / "ca.key", folder / "server.csr"
    extensions = folder / "server.ext"
    extensions.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", ca_key, "-out", files.ca, "-days", "2",
             "-subj", "/CN=Touchpoint test CA")  # fmt: skip
    _openssl("req", *ec, "-keyout", files.key, "-out", request, "-subj", "/CN=localhost")
    _openssl("x509", "-req", "-in", request, "-CA", files.ca, "-CAkey", ca_key,
             "-CAcreateserial", "-out", files.certificate, "-days", "2", "-extfile", extensions)  # fmt: skip
    return files


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no AUTH), fresh for each test."""
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="session")
def smtp_tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """One throwaway CA and server certificate for the whole run."""
    return make_certificates(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port on 127.0.0.1 that accepts TCP and never says a word (no SMTP greeting): a mail
    server overloaded, or behind a firewall that drops its packets."""
    silence = asyncio.Event()

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await silence.wait()
        writer.close()

    server = await asyncio.start_server(hold, HOST, 0)
    yield server.sockets[0].getsockname()[1]
    silence.set()
    server.close()
    await server.wait_closed()
