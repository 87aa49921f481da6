"""IMAP ingest: every message of one mailbox handed to the core, in UID order, at least once.

What is guaranteed:

- **At-least-once hand-over, watermark after commit.** Progress is a `(UIDVALIDITY, last UID)`
  watermark. Messages are given to `handle` in UID order, up to `window` of them in hand at
  once, and the watermark moves past a UID only once `handle` returned for it and for every
  UID before it (it returns only once the mail is durably accepted). A crash hands the
  messages in hand over again: the core deduplicates by Message-ID and content hash. If
  `handle` raises, no more are started, the watermark stays before that message, and it (with
  those after it) comes again on the next sweep. Keeping one sender's mails in order among
  those in hand is the caller's part (`in_order.py`).
- **`\\Seen` never matters.** Bodies are read with `BODY.PEEK[]`; nothing is flagged, moved or
  expunged, so a person reading the mailbox in webmail changes nothing.
- **A catch-up reads what the mailbox already held** when the ingest first sees it, and when
  its UIDVALIDITY changes (old UIDs mean nothing any more: it is read again from UID 1, with a
  warning). The highest UID of the mailbox at that moment is saved with the new watermark at
  once, so a restart in the middle goes on with the same rules; up to it, the `CatchUp` rules
  (`catch_up.py`) pass over mail before it is downloaded (too old, already stored), and the
  watermark moves past it. Mail above it is new mail.
- **No silent stall.** Every IMAP await is bounded by `command_timeout` and aborted as soon as
  the connection drops. `run` treats any error (timeout, BYE, reset, TLS, a refused command) by
  dropping the connection and reconnecting with exponential backoff and jitter, and sweeps
  after every connect, and again after every sweep that handed mail over (mail that arrived
  meanwhile was announced then, not to the IDLE that follows). IDLE is only a latency aid: it
  is re-issued at least every `idle_seconds`, and a sweep runs at least every `sweep_seconds`
  whether or not IDLE spoke.
- **Bounded memory.** Sizes come first, in batches; bodies are downloaded one at a time, and
  the mails in hand hold at most `max_bytes` together (one mail always fits). A message over
  `max_bytes` is not downloaded: it is handed over as `raw=b""` with its size.
- **TLS is verified** (the system store plus an optional CA file); plain IMAP is refused
  unless the server is on a loopback address.

Not guaranteed: exactly-once delivery; a message expunged by someone else before a sweep saw it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import ssl
from collections import Counter, deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal, Protocol, TypeVar

import aioimaplib
from aioimaplib.aioimaplib import Command

from bot.backoff import full_jitter
from channels.email.mail import FetchedMail, MailHead

log = logging.getLogger(__name__)

T = TypeVar("T")
Security = Literal["tls", "starttls", "none"]
Line = bytes | bytearray  # aioimaplib gives response lines as bytes and literals as bytearray

MAX_IDLE_SECONDS = 29 * 60  # RFC 2177: servers may log an idle client out after 30 minutes
# aioimaplib parses a response recursively, one stack frame per line: a FETCH answer of about
# a thousand lines overflows the stack, kills the connection and leaves the command hanging.
FETCH_BATCH = 100
LOGOUT_SECONDS = 5.0
# What a catch-up reads of each mail before deciding to download it: enough for a Message-ID and
# a From line, bounded however large a hostile mail's headers are.
HEADER_BYTES = 2048
HEAD = "UID RFC822.SIZE INTERNALDATE"
HEAD_WITH_HEADER = f"{HEAD} BODY.PEEK[HEADER.FIELDS (MESSAGE-ID FROM)]<0.{HEADER_BYTES}>"


class ImapConfigError(ValueError):
    """The IMAP settings cannot be used as given."""


class ImapError(Exception):
    """The server refused a command or answered something the ingest cannot work with."""


class ConnectionLost(ImapError):
    """The server closed the connection (after a BYE, a kick, a reset)."""


class HandOverFailed(Exception):
    """`handle` raised for this UID: the watermark stays before it; the next sweep retries."""

    def __init__(self, uid: int) -> None:
        super().__init__(f"handing over UID {uid} failed")
        self.uid = uid


@dataclass(frozen=True, slots=True)
class ImapConfig:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    security: Security
    mailbox: str = "INBOX"
    ca_file: str | None = None  # trusted besides the system store; verification is never off
    command_timeout: float = 30.0  # bounds every IMAP call, downloading max_bytes included
    idle_seconds: float = 300.0  # IDLE is re-issued at least this often
    sweep_seconds: float = 60.0  # a sweep runs at least this often even if IDLE said nothing
    max_bytes: int = 25 * 1024 * 1024  # larger messages are handed over without their bytes
    # Mails handed over side by side (their bodies within max_bytes together): a crash or a
    # failure hands these over again, and the core recognises the ones it already took.
    window: int = 8
    backoff_seconds: float = 1.0  # first reconnect delay, doubled per failure ...
    max_backoff_seconds: float = 60.0  # ... up to this

    def __post_init__(self) -> None:
        problem = _config_problem(self)
        if problem is not None:
            raise ImapConfigError(problem)


def _config_problem(config: ImapConfig) -> str | None:
    if config.security not in ("tls", "starttls", "none"):
        return f"IMAP security must be 'tls', 'starttls' or 'none', not {config.security!r}"
    if config.security == "none" and not is_loopback(config.host):
        return (
            f"IMAP without TLS is only allowed to a loopback address, not to {config.host!r}: "
            "use security 'tls' or 'starttls'"
        )
    if not 0 < config.port < 65536:
        return f"IMAP port {config.port} is not a TCP port"
    if not 0 < config.idle_seconds < MAX_IDLE_SECONDS:
        return f"idle_seconds must be above 0 and below {MAX_IDLE_SECONDS} (RFC 2177)"
    if min(config.command_timeout, config.sweep_seconds, config.backoff_seconds) <= 0:
        return "command_timeout, sweep_seconds and backoff_seconds must be positive"
    if config.max_bytes <= 0:
        return "max_bytes must be positive"
    if config.window < 1:
        return "window must be at least 1"
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The system trust store plus `ca_file`; certificate and host name are always checked."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


class WatermarkStore(Protocol):
    """Where the ingest keeps its progress for one mailbox."""

    async def load(self) -> tuple[int, int, int] | None:
        """(uidvalidity, last UID handed over or passed over, last UID of the catch-up going
        on or 0), or None before the first sweep."""
        ...

    async def save(self, uidvalidity: int, last_uid: int, catch_up_to: int = 0) -> None: ...


class CatchUp(Protocol):
    """Which mails of a catch-up to leave alone (`catch_up.CatchUpRules`)."""

    def rule(self) -> str:
        """The rule in words, for the log."""
        ...

    async def passed_over(self, heads: Sequence[MailHead]) -> Mapping[int, str]:
        """UID → why, for the heads not to hand over."""
        ...


class EveryMail:
    """A catch-up that hands every mail over (an ingest with no rules of its own)."""

    def rule(self) -> str:
        return "every mail is handed over"

    async def passed_over(self, heads: Sequence[MailHead]) -> Mapping[int, str]:
        return {}


@dataclass(frozen=True, slots=True)
class _Position:
    """The watermark: UIDs up to `last_uid` are done; up to `catch_up_to`, a catch-up's."""

    uidvalidity: int
    last_uid: int
    catch_up_to: int = 0

    def past(self, uid: int) -> _Position:
        return _Position(self.uidvalidity, uid, self.catch_up_to if uid < self.catch_up_to else 0)


Handle = Callable[[FetchedMail], Awaitable[None]]  # returns once durably accepted; raises if not
# Told of the next mail before the current one is handed over, so that reading it can overlap
# the current one's turn; it may never be handed over (the sweep stops at a failure).
Ahead = Callable[[FetchedMail], None]


class ImapIngest:
    """One mailbox, one connection: sweeps by UID watermark, IDLEs in between, reconnects."""

    def __init__(
        self,
        config: ImapConfig,
        watermarks: WatermarkStore,
        catch_up: CatchUp | None = None,
        ahead: Ahead | None = None,
    ) -> None:
        self._config = config
        self._watermarks = watermarks
        self._catch_up = catch_up or EveryMail()
        self._ahead = ahead
        self._tls = tls_context(config.ca_file)  # unused with security "none" (loopback only)
        self._session: _Session | None = None
        self._failures = 0

    async def run(self, handle: Handle) -> None:
        """Sweep, wait for news, sweep again, until cancelled; errors lead to a reconnect."""
        try:
            while True:
                await self._cycle(handle)
                _stop_if_cancelled()
        finally:
            await self.close()

    async def sweep_once(self, handle: Handle) -> int:
        """Hand over everything above the watermark (but what a catch-up passes over);
        returns how many were handed over.

        Raises `HandOverFailed` when `handle` raised (the connection is kept), and the
        connection's error otherwise (the connection is dropped; the next call reconnects).
        """
        session = await self._connected()
        try:
            return await self._sweep(session, handle)
        except HandOverFailed:
            raise
        except BaseException:
            self._drop()
            raise

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.logout()

    async def _cycle(self, handle: Handle) -> None:
        try:
            # Mail that came during a sweep was announced in the answer to one of its commands,
            # not to the IDLE after it: sweep again until a sweep finds nothing new.
            while await self._sweep_logged(handle):
                pass
            self._failures = 0
            session = await self._connected()
            await session.wait_for_news(min(self._config.idle_seconds, self._config.sweep_seconds))
        except Exception as error:  # anything at all: reconnect rather than stop reading mail
            await self._back_off(error)

    async def _sweep_logged(self, handle: Handle) -> int:
        """How many mails the sweep handed over; 0 when a hand-over failed (retried later)."""
        try:
            return await self.sweep_once(handle)
        except HandOverFailed as failure:
            log.error("%s; it is retried on the next sweep", failure, exc_info=failure.__cause__)
            return 0

    async def _sweep(self, session: _Session, handle: Handle) -> int:
        position, uids = await self._position(session)
        window = _Window(handle, self._config.window, self._config.max_bytes)
        try:
            for batch in _batches(uids, FETCH_BATCH):
                heads = await session.heads(batch, header=batch[0] <= position.catch_up_to)
                passed = await self._passed_over(position, heads)
                wanted = [head for head in heads if head.uid not in passed]
                async with contextlib.aclosing(self._downloads(session, wanted)) as mails:
                    for head in heads:
                        mail = None if head.uid in passed else await anext(mails)
                        await window.make_room(0 if mail is None else len(mail.raw))
                        window.start(head.uid, mail)
                        position = await self._advance(position, window, passed_too=False)
                # Passed over mails move it once a batch: passing over again costs nothing.
                position = await self._advance(position, window, passed_too=True)
            await window.finish()
        except BaseException:
            await window.stop()
            with contextlib.suppress(Exception):  # what failed is the error to raise
                await self._advance(position, window, passed_too=False)
            raise
        await self._advance(position, window, passed_too=True)
        return window.handed

    async def _advance(
        self, position: _Position, window: _Window, *, passed_too: bool
    ) -> _Position:
        """The watermark past every mail whose hand-over returned, as far as no earlier one is
        still in hand or failed; saved when it passes a mail handed over (or `passed_too`)."""
        done, handed = window.done_up_to(position.last_uid)
        if done <= position.last_uid or not (handed or passed_too):
            return position
        window.forget_up_to(done)
        position = position.past(done)
        await self._save(position)
        return position

    async def _downloads(
        self, session: _Session, heads: list[MailHead]
    ) -> AsyncGenerator[FetchedMail, None]:
        """The heads' mails in order. With `ahead`, each next mail is downloaded and announced
        before the one before it is yielded (one body more than those in hand and the one
        waiting for room); the watermark still moves only once a mail's hand-over returned."""
        if self._ahead is None or not heads:
            for head in heads:
                yield await self._download(session, head)
            return
        mail = await self._download(session, heads[0])
        for following in heads[1:]:
            upcoming = await self._download(session, following)
            self._ahead(upcoming)
            yield mail
            mail = upcoming
        yield mail

    async def _position(self, session: _Session) -> tuple[_Position, list[int]]:
        """Where this sweep starts, and the UIDs above it; a catch-up starts here."""
        stored = await self._watermarks.load()
        position = _Position(*stored) if stored is not None else None
        if position is not None and position.uidvalidity == session.uidvalidity:
            return position, await session.uids_above(position.last_uid)
        uids = await session.uids_above(0)
        fresh = _Position(session.uidvalidity, 0, uids[-1] if uids else 0)
        self._log_catch_up(position, fresh, len(uids))
        await self._save(fresh)  # at once: a restart goes on with this catch-up
        return fresh, uids

    def _log_catch_up(self, before: _Position | None, now: _Position, count: int) -> None:
        mailbox, rule = self._config.mailbox, self._catch_up.rule()
        if before is None:
            log.info("first sweep of %s: %d mails in it; %s", mailbox, count, rule)
            return
        log.warning(
            "UIDVALIDITY of %s changed from %d to %d: reading its %d mails again from UID 1; %s",
            *(mailbox, before.uidvalidity, now.uidvalidity, count, rule),
        )

    async def _passed_over(self, position: _Position, heads: list[MailHead]) -> Mapping[int, str]:
        catching_up = [head for head in heads if head.uid <= position.catch_up_to]
        if not catching_up:
            return {}
        passed = await self._catch_up.passed_over(catching_up)
        if passed:
            reasons = ", ".join(f"{n} {why}" for why, n in Counter(passed.values()).items())
            log.info(
                "%s: passed over %d of the catch-up's mails (%s)",
                self._config.mailbox,
                len(passed),
                reasons,
            )
        return passed

    async def _save(self, position: _Position) -> None:
        await self._watermarks.save(position.uidvalidity, position.last_uid, position.catch_up_to)

    async def _download(self, session: _Session, head: MailHead) -> FetchedMail:
        raw = b""
        if head.size > self._config.max_bytes:
            log.warning("UID %d has %d bytes, over the cap: not downloaded", head.uid, head.size)
        else:
            raw = await session.body(head.uid)
        return FetchedMail(session.uidvalidity, head.uid, raw, head.internal_date, head.size)

    async def _connected(self) -> _Session:
        if self._session is None or not self._session.alive:
            self._drop()
            self._session = await _open_session(self._config, self._tls)
        return self._session

    async def _back_off(self, error: Exception) -> None:
        self._drop()
        self._failures += 1
        config = self._config
        delay = full_jitter(
            self._failures, base=config.backoff_seconds, cap=config.max_backoff_seconds
        )
        log.warning(
            "IMAP %s on %s:%d: %s; reconnecting in %.1f s",
            self._config.mailbox,
            self._config.host,
            self._config.port,
            _describe(error),
            delay,
        )
        await asyncio.sleep(delay)

    def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.discard()


@dataclass(slots=True)
class _InHand:
    uid: int
    size: int
    task: asyncio.Task[None] | None  # None: passed over, nothing to hand over


class _Window:
    """Mails handed over side by side, in UID order of their start: at most `size` at once and
    their bodies within `budget` bytes (one mail always fits), so memory stays bounded."""

    def __init__(self, handle: Handle, size: int, budget: int) -> None:
        self._handle = handle
        self._size = max(1, size)
        self._budget = budget
        self._in_hand: deque[_InHand] = deque()
        self.handed = 0

    def start(self, uid: int, mail: FetchedMail | None) -> None:
        if mail is None:
            self._in_hand.append(_InHand(uid, 0, None))
            return
        task = asyncio.create_task(_hand_over(self._handle, mail), name=f"mail UID {uid}")
        self._in_hand.append(_InHand(uid, len(mail.raw), task))

    async def make_room(self, size: int) -> None:
        """Wait until a mail of `size` bytes may start; raises `HandOverFailed` once one did."""
        self._raise_a_failure()
        while self._running() and (
            len(self._running()) >= self._size or self._bytes() + size > self._budget
        ):
            await asyncio.wait(self._running(), return_when=asyncio.FIRST_COMPLETED)
            self._raise_a_failure()

    async def finish(self) -> None:
        """Wait for every mail in hand; raises `HandOverFailed` for the first that failed."""
        running = self._running()
        if running:
            await asyncio.wait(running)
        self._raise_a_failure()

    async def stop(self) -> None:
        """Cancel what is still in hand and wait until it has stopped."""
        running = self._running()
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
        for mail in self._in_hand:  # their errors are logged by the next sweep's retry
            if mail.task is not None and not mail.task.cancelled():
                mail.task.exception()

    def done_up_to(self, after: int) -> tuple[int, bool]:
        """The last UID of the unbroken run of mails done well from the oldest in hand (or
        `after`), and whether a mail was handed over in that run."""
        done, handed = after, False
        for mail in self._in_hand:
            if mail.task is not None:
                if not mail.task.done() or mail.task.cancelled() or mail.task.exception():
                    break
                handed = True
            done = mail.uid
        return done, handed

    def forget_up_to(self, uid: int) -> None:
        while self._in_hand and self._in_hand[0].uid <= uid:
            if self._in_hand.popleft().task is not None:
                self.handed += 1

    def _running(self) -> set[asyncio.Task[None]]:
        return {m.task for m in self._in_hand if m.task is not None and not m.task.done()}

    def _bytes(self) -> int:
        return sum(m.size for m in self._in_hand if m.task is not None and not m.task.done())

    def _raise_a_failure(self) -> None:
        for mail in self._in_hand:
            task = mail.task
            if task is not None and task.done() and not task.cancelled():
                error = task.exception()
                if error is not None:
                    raise error


async def _hand_over(handle: Handle, mail: FetchedMail) -> None:
    try:
        await handle(mail)
    except Exception as error:
        raise HandOverFailed(mail.uid) from error


async def _open_session(config: ImapConfig, tls: ssl.SSLContext) -> _Session:
    """Connected, (STARTTLS,) logged in, mailbox selected."""
    lost = asyncio.Event()
    client = aioimaplib.IMAP4(
        host=config.host,
        port=config.port,
        timeout=config.command_timeout,
        conn_lost_cb=lambda _error: lost.set(),
        ssl_context=tls if config.security == "tls" else None,
    )
    session = _Session(client, lost, config.command_timeout)
    try:
        await session.start(config, tls)
    except BaseException:
        session.discard()
        raise
    log.info("IMAP connected to %s:%d, %s selected", config.host, config.port, config.mailbox)
    return session


class _Session:
    """One aioimaplib connection, typed: every call bounded, and aborted when the link drops."""

    def __init__(self, client: Any, lost: asyncio.Event, timeout: float) -> None:
        self._client = client
        self._lost = lost
        self._timeout = timeout
        self.uidvalidity = 0

    @property
    def alive(self) -> bool:
        return not self._lost.is_set()

    async def start(self, config: ImapConfig, tls: ssl.SSLContext) -> None:
        await self._bounded(self._client.wait_hello_from_server())
        if config.security == "starttls":
            await self._starttls(tls, config.host)
        # aioimaplib quotes the password but sends the user name as it is
        login = self._client.login(_quoted(config.user), config.password)
        await self._call(login, "LOGIN")
        lines = await self._call(self._client.select(_quoted(config.mailbox)), "SELECT")
        self.uidvalidity = _uidvalidity(lines)

    async def _starttls(self, context: ssl.SSLContext, host: str) -> None:
        # aioimaplib has no STARTTLS of its own: send the command, then upgrade the transport.
        protocol = self._client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ImapError("the server does not offer STARTTLS")
        command = Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        await self._call(protocol.execute(command), "STARTTLS")
        upgrade = asyncio.get_running_loop().start_tls(
            protocol.transport, protocol, context, server_hostname=host
        )
        protocol.transport = await self._bounded(upgrade)
        await self._bounded(protocol.capability())  # what was said before TLS is not trusted

    async def uids_above(self, last: int) -> list[int]:
        """UIDs above `last`, ascending (`n:*` also returns the highest UID: dropped here)."""
        # A selected session sees new mail only after a sync point: SEARCH alone would run on
        # the view of the previous command and miss what arrived since.
        await self._call(self._client.noop(), "NOOP")
        search = self._client.uid_search("UID", f"{last + 1}:*", charset=None)
        lines = await self._call(search, "UID SEARCH")
        return sorted(uid for uid in _search_uids(lines) if uid > last)

    async def heads(self, uids: Sequence[int], *, header: bool = False) -> list[MailHead]:
        """Sizes and dates of `uids`; with `header`, their Message-ID and From lines too."""
        fetch = self._client.uid(
            "fetch", _uid_set(uids), f"({HEAD_WITH_HEADER if header else HEAD})"
        )
        items = _fetch_items(await self._call(fetch, "UID FETCH"))
        heads = [_head(text, literal if header else None) for text, literal in items]
        found = {head.uid: head for head in heads if head is not None}
        missing = [uid for uid in uids if uid not in found]
        if missing:
            raise ImapError(f"no size for UIDs {missing} (expunged meanwhile?): retrying later")
        return [found[uid] for uid in uids]

    async def body(self, uid: int) -> bytes:
        fetch = self._client.uid("fetch", str(uid), "(UID BODY.PEEK[])")
        for text, literal in _fetch_items(await self._call(fetch, "UID FETCH")):
            if _number(_UID, text) == uid and literal is not None:
                return literal
        raise ImapError(f"no body for UID {uid} (expunged meanwhile?): retrying later")

    async def wait_for_news(self, seconds: float) -> None:
        """IDLE until the server announces new mail or `seconds` pass, then DONE."""
        if not self._client.has_capability("IDLE"):
            await self._until_lost(asyncio.sleep(seconds))
            return
        # idle_start itself never returns if the server answers IDLE with BYE: bounded too.
        idle = await self._bounded(self._client.idle_start(timeout=seconds + self._timeout))
        try:
            await self._until_news(seconds)
        finally:
            if self.alive:
                self._client.idle_done()
        await self._call(idle, "IDLE")

    async def _until_news(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                pushed = await self._until_lost(self._client.wait_server_push(timeout=left))
            except TimeoutError:
                return
            lines = [bytes(line) for line in pushed if isinstance(line, bytes | bytearray)]
            if bye := [line for line in lines if line.startswith(b"BYE")]:
                raise ConnectionLost(f"the server said {bye[0]!r}")
            if any(line.endswith(b"EXISTS") or line == b"stop_wait_server_push" for line in lines):
                return

    async def logout(self) -> None:
        """Say goodbye if the server listens (briefly: this runs on shutdown), then close."""
        if self.alive:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(min(self._timeout, LOGOUT_SECONDS)):
                    await self._until_lost(self._client.logout())
        self.discard()

    def discard(self) -> None:
        """Close the link and cancel what aioimaplib still waits for (it never would end)."""
        for task in (*self._client.tasks, *self._client.protocol.tasks):
            task.cancel()
        connecting = getattr(self._client, "_client_task", None)
        if connecting is not None:
            connecting.cancel()
        transport = self._client.protocol.transport
        if transport is not None:
            transport.close()

    async def _call(self, awaitable: Awaitable[Any], what: str) -> list[Line]:
        """Run one command; its lines if the server said OK, `ImapError` otherwise."""
        response = await self._bounded(awaitable)
        lines = [line for line in response.lines if isinstance(line, bytes | bytearray)]
        if response.result != "OK":
            detail = bytes(lines[-1]).decode("utf-8", "replace") if lines else ""
            raise ImapError(f"{what} refused: {response.result} {detail}".strip())
        return lines

    async def _bounded(self, awaitable: Awaitable[T]) -> T:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that meets a server's answer, and the ingest loop would then never stop.
        async with asyncio.timeout(self._timeout):
            return await self._until_lost(awaitable)

    async def _until_lost(self, awaitable: Awaitable[T]) -> T:
        # aioimaplib does not fail pending commands when the connection drops: they would wait
        # for their timeout. Racing each one against the loss turns a drop into an error now.
        work = asyncio.ensure_future(awaitable)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait({work, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not work.done():
                work.cancel()
        if work in done:
            return work.result()
        raise ConnectionLost("the server closed the connection")


def _stop_if_cancelled() -> None:
    """Honour a cancellation that a library's `wait_for` swallowed (Python 3.11 can lose one
    that arrives as the awaited answer does); the loop would otherwise go on for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


_FETCH_START = re.compile(rb"\d+ FETCH \(")
_UID = re.compile(rb"[( ]UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_INTERNALDATE = re.compile(
    rb'INTERNALDATE " ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"'
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _fetch_items(lines: Sequence[Line]) -> Iterator[tuple[bytes, bytes | None]]:
    """Each message of a FETCH answer: its text (literals left out) and its first literal."""
    text: list[bytes] | None = None
    literal: bytes | None = None
    for line in lines:
        if isinstance(line, bytearray):
            literal = bytes(line) if literal is None and text is not None else literal
        elif _FETCH_START.match(line):
            if text is not None:
                yield b" ".join(text), literal
            text, literal = [line], None
        elif text is not None:
            text.append(line)
    if text is not None:
        yield b" ".join(text), literal


def _head(text: bytes, header: bytes | None) -> MailHead | None:
    uid, size = _number(_UID, text), _number(_SIZE, text)
    if uid is None or size is None:
        return None  # e.g. an unsolicited flag update of another message
    return MailHead(uid, size, _internal_date(text), header or b"")


def _number(pattern: re.Pattern[bytes], text: bytes) -> int | None:
    match = pattern.search(text)
    return int(match.group(1)) if match else None


def _uidvalidity(select_lines: Sequence[Line]) -> int:
    for line in select_lines:
        if (value := _number(_UIDVALIDITY, bytes(line))) is not None:
            return value
    raise ImapError("SELECT answered without UIDVALIDITY: UIDs cannot be tracked")


def _search_uids(lines: Sequence[Line]) -> list[int]:
    # the last line is the tagged status text, which may hold digits of its own
    words = b" ".join(bytes(line) for line in lines[:-1]).split()
    return [int(word) for word in words if word.isdigit()]


def _internal_date(text: bytes) -> datetime | None:
    match = _INTERNALDATE.search(text)
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    if month.decode().title() not in _MONTHS:
        return None
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == b"-" else 1)
    number = _MONTHS.index(month.decode().title()) + 1
    try:
        zone = timezone(offset)
        moment = datetime(int(year), number, int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _uid_set(uids: Sequence[int]) -> str:
    """Ascending UIDs as a compact IMAP set: [1, 2, 3, 7] → "1:3,7"."""
    runs: list[list[int]] = []
    for uid in uids:
        if runs and uid == runs[-1][1] + 1:
            runs[-1][1] = uid
        else:
            runs.append([uid, uid])
    return ",".join(str(first) if first == last else f"{first}:{last}" for first, last in runs)


def _batches(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
