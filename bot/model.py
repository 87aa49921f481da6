"""The shared conversation model: what every channel and the core agree on.

No SDK is imported here (no telegram, aioimaplib, aiosmtplib or sqlalchemy): adapters translate
their SDK's objects into these dataclasses on the way in and out of the core.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

# A customer's text longer than this reaches a rep as its beginning and the whole text as a
# file: a 100,000-character mail is one message to read, not 25 (nor 25 sends to pace).
LONG_TEXT = 3000


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Address:
    """Where a message comes from or goes to on one channel.

    `value` is the channel's own address: a Telegram chat id, an email address, a terminal
    session name.
    """

    channel: str
    value: str


@dataclass(frozen=True, slots=True)
class Sender:
    """The person behind an inbound message, as the channel knows them.

    `external_id` identifies the person on the channel (Telegram user id, email address) and
    becomes an Identity of a Contact.
    """

    external_id: str
    display_name: str = ""
    language_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str
    name: str = ""
    mime_type: str = ""
    size: int | None = None
    ref: str = ""


class InboundKind(StrEnum):
    """What an inbound item is, beyond an ordinary message from a customer."""

    MESSAGE = "message"
    EVENT = "event"  # a state change of the channel: `event` is "blocked", "bounced", ...
    IGNORED = "ignored"  # recorded, never answered: `reason` says why (a channel post, a group)
    UNREADABLE = "unreadable"  # the channel could not parse it: parked, `reason` says why
    # The person opened the conversation (a terminal started), without a word: the bot may
    # speak first. Not stored as a message; a channel sends one per opening.
    OPENED = "opened"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a customer, normalised by its channel adapter.

    `external_id` is the idempotency key: the same `(channel, external_id)` accepted twice is
    processed once. An edit has a key of its own (e.g. including the edit time) and names
    the edited message's key in `edit_of`.
    `thread_key` names the conversation on the channel (a Telegram chat, an email thread root);
    it defaults to the address. `header_id` is a mail's Message-ID header (`in_reply_to` and
    `references` name others). `payload` is what the channel gave, as JSON (a Telegram update,
    a summary of a mail); `raw` the original bytes where there are any (a mail). `files` are
    the message's files as the channel read them once, on arrival (a mail's attachments),
    stored with it to show a rep later; channels that can fetch files again leave it empty.
    `sequence` is the channel's own order of a conversation's messages (Telegram's message id),
    None where the channel has none: a message older than one already handled is late
    (`bot/late.py`); `received_at` is when the channel says it was sent.
    """

    external_id: str
    address: Address
    sender: Sender
    text: str = ""
    thread_key: str = ""
    button: str | None = None
    shared_phone: str | None = None
    attachments: tuple[Attachment, ...] = ()
    source: str | None = None
    edit_of: str | None = None
    subject: str = ""
    header_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    received_at: datetime = field(default_factory=utc_now)
    payload: Mapping[str, object] | None = None
    raw: bytes | None = None
    kind: InboundKind = InboundKind.MESSAGE
    event: str = ""  # EVENT: what happened ("blocked", "bounced", "auto_reply", ...)
    reason: str = ""  # IGNORED, UNREADABLE, and machine mail: why
    # The secret token of ours the message was addressed to (mail to `sales+r<token>@...`):
    # on a channel whose sender can be forged, what makes a rep's answer the rep's.
    reply_token: str | None = None
    files: tuple[FileCopy, ...] = ()  # decoded once when read (a mail's attachments), kept
    sequence: int | None = None

    @property
    def channel(self) -> str:
        return self.address.channel

    @property
    def conversation_key(self) -> str:
        return self.thread_key or self.address.value


@dataclass(frozen=True, slots=True)
class QuickReply:
    """A button (Telegram) or a numbered choice (email, terminal)."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One reply to deliver. Channels that lack buttons render `options` as a numbered list.

    `contact_button` is the label of a "share my phone number" button, for channels that have
    one (Telegram); others ignore it. `header_id` is the Message-ID given when the reply was
    queued on a threaded channel (email), the same on every retry, so a repeat is
    recognisable.
    """

    address: Address
    text: str
    options: tuple[QuickReply, ...] = ()
    contact_button: str = ""
    subject: str = ""
    header_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    ticket: int | None = None  # the conversation's open ticket number (email tags subjects)
    forward: str | None = None  # a message of the same channel to copy first (`text` labels it)
    files: tuple[FileCopy, ...] = ()  # files of a message from another channel, to attach
    automatic: bool = True  # False for a rep's own words (no `Auto-Submitted` on email)
    language: str = "en"  # the language the text is written in (e.g. email's Content-Language)
    reply_token: str | None = None  # to a rep: their token, for the reply address (email)
    link_previews: bool = True  # False: links are not fetched to be shown (a one-time link)
    # A message the channel sends in several parts (a long text, a file and its label): how many
    # were delivered by earlier tries. The channel goes on after them; none is sent twice.
    parts_done: int = 0


@dataclass(frozen=True, slots=True)
class FileCopy:
    """A file someone sent: fetched from their channel, or kept with the stored message, to
    show on another one."""

    name: str
    mime_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Original:
    """A stored inbound message, as its channel gave it, for showing it to a rep as it is."""

    channel: str
    key: str  # the channel's id of the message (`external_id`)
    payload: Mapping[str, Any] | None
    raw: bytes | None
    files: tuple[FileCopy, ...] = ()  # the files stored with it (`InboundMessage.files`)


@runtime_checkable
class ShowsOriginals(Protocol):
    """A channel that can fetch the files of one of its messages, for a rep on another channel
    (on its own channel it copies the message, when its capabilities say `copies_messages`)."""

    async def files_of(self, original: Original) -> list[FileCopy]:
        """The message's files; an empty list when there are none or they cannot be fetched."""


@runtime_checkable
class ServesAddresses(Protocol):
    """A channel whose instance delivers to some of the channel's addresses only: a terminal is
    one customer's. The relay leases no row of that channel addressed elsewhere; such a row
    waits in the outbox for the process that serves its address."""

    @property
    def served_addresses(self) -> frozenset[str]:
        """The addresses this instance delivers to."""


@runtime_checkable
class PacedPerAccount(Protocol):
    """A channel whose capabilities say `paced_per_account`: which account its sends count
    against (a bot's id). Instances sending for one account share one lease."""

    @property
    def account(self) -> str:
        """The account's name in the lease; no secret (a bot's id, not its token)."""

    @property
    def pace_window(self) -> float:
        """Seconds over which the account's limits are counted: an instance that takes over
        sending waits that long first, as the one before may have sent the limit in them."""


class SendGate(Protocol):
    """Whether this instance may send a channel's messages now (`open`). The relay leases no
    row of a channel whose gate is shut; a send already in hand finishes under its row's lease.

    `keep(opened)` holds the gate until cancelled, calling `opened()` whenever it opens; it lets
    the gate go when cancelled.
    """

    @property
    def open(self) -> bool: ...

    async def keep(self, opened: Callable[[], None]) -> None: ...


class Threading(Protocol):
    """How a channel that comes in threads (mail) tells which thread a message continues,
    besides Message-IDs: our ticket tag in its subject, and the subject's topic."""

    def ticket_tag(self, subject: str) -> int | None:
        """The ticket number our tag (`[#1001]`) in `subject` names, if any."""

    def topic(self, subject: str) -> str:
        """`subject` without reply/forward prefixes and tags: equal topics, same thread."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can do. The core asks for a capability, never for a channel's name."""

    buttons: bool = False  # inline buttons; without them options become a numbered list
    contact_button: bool = False  # a "share my phone number" button
    files: bool = False  # files travel both ways (photos, documents, attachments)
    copies_messages: bool = False  # shows one of its messages to a rep as it is
    typing: bool = False  # a "typing…" indicator
    max_length: int | None = None  # the longest text of one message, if there is a limit
    # Each reply is a message of weight (a mail): a turn's replies go as one, and a lead's
    # questions are asked all at once rather than one by one.
    one_message_per_turn: bool = False
    # Other machines answer on this channel (autoresponders): replies are capped per day.
    answered_by_machines: bool = False
    threading: Threading | None = None  # messages come in threads (Message-IDs, subjects)
    # The channel proves who wrote (Telegram's user id); a mail's From line proves nothing.
    proves_sender: bool = False
    # Its rate limits are the account's (Telegram's are per bot), not per process: among
    # instances sharing a database one at a time sends, the holder of a lease, so that its
    # in-process pacing is the account's (`PacedPerAccount.account` names the lease).
    paced_per_account: bool = False
    # A message says which language it is written in (a mail's Content-Language): the relay
    # detects it for these channels only (about 50 µs a reply that the others do not need).
    states_language: bool = False


NO_CAPABILITIES = Capabilities()


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """What the channel returned for a delivered message (its own id, when it has one)."""

    external_id: str | None = None


class SendError(Exception):
    """Base of the errors an adapter raises from `send`; the relay decides by the subclass."""


class TransientSendError(SendError):
    """Try again later: network trouble, 5xx, 429 (with `retry_after` seconds), SMTP 4xx.

    `parts_done` says how many parts of the message (see `OutboundMessage.parts_done`) were
    delivered before the error; the next try starts after them.
    """

    def __init__(
        self, reason: str, retry_after: float | None = None, *, parts_done: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.parts_done = parts_done


class ThrottledSendError(TransientSendError):
    """Not now, by our own pacing or the channel's 429: try after `retry_after` seconds.

    Not a failure: it does not count as a delivery attempt. `whole_channel` pauses every send
    of the channel (Telegram's flood control), otherwise only this recipient waits.
    """

    def __init__(
        self,
        reason: str,
        retry_after: float,
        *,
        whole_channel: bool = False,
        parts_done: int | None = None,
    ) -> None:
        super().__init__(reason, retry_after, parts_done=parts_done)
        self.whole_channel = whole_channel


class PermanentSendError(SendError):
    """Never retry. `unreachable` means the recipient itself is gone (blocked the bot, bounced)."""

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


class Outcome(StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    EDITED = "edited"
    IGNORED = "ignored"
    PARKED = "parked"
    LATE = "late"  # older than a message already handled: stored and shown, not answered


@dataclass(frozen=True, slots=True)
class AcceptResult:
    """What `accept` did with one inbound message, returned only after it is durable."""

    outcome: Outcome
    replies: int = 0
    conversation_id: int | None = None


Accept = Callable[[InboundMessage], Awaitable[AcceptResult]]


Work = Callable[[], Awaitable[None]]


class Leader(Protocol):
    """Work that one instance at a time may do (polling a bot token, reading a mailbox).

    `run_while_leader(work)` waits until this instance holds the lease, runs `work` while it
    does, and cancels `work` at once should the lease be lost (another instance took it over),
    then waits to hold it again. It returns (or raises) when `work` does, and lets the lease go
    then and when it is cancelled. Guaranteed: `work` never runs in two instances holding the
    lease at once, as long as their clocks agree to well within the lease's length; not
    guaranteed: that the work one leader had in hand was finished (it must be safe to repeat).
    """

    async def run_while_leader(self, work: Work) -> None: ...


class Alone:
    """The leader of an instance that shares its work with none (tests, a single process)."""

    async def run_while_leader(self, work: Work) -> None:
        await work()


class ChannelAdapter(Protocol):
    """A channel: receives messages into `accept` and delivers outbound messages.

    Guarantees an adapter must give:
    - it acknowledges an inbound message to its source (offset, UID watermark, HTTP 200) only
      after `accept` has returned, which happens only after the turn is committed;
    - `send` raises `TransientSendError` or `PermanentSendError` for failures it understands;
      any other exception is treated as transient by the relay.
    """

    name: str
    capabilities: Capabilities

    async def run(self, accept: Accept) -> None:
        """Receive until cancelled."""

    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Deliver one message; at-least-once, so a retry after a crash may repeat it."""

    async def close(self) -> None:
        """Release connections; called once receiving has stopped and the relay has drained."""
