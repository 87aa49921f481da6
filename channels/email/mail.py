"""The email channel's shared vocabulary: a parsed mail, a fetched mail and its head, a verdict.

No SDK here: the IMAP client, the MIME parser, the filter chain and the SMTP sender all speak
these types, and the adapter turns them into the core's `InboundMessage`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class UnparseableMail(Exception):
    """The bytes are not a mail we can read at all; the reason goes to the dead letter."""


@dataclass(frozen=True, slots=True)
class FetchedMail:
    """One message as downloaded from the mailbox, before any parsing."""

    uidvalidity: int
    uid: int
    raw: bytes
    internal_date: datetime | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class MailHead:
    """What the mailbox tells of one message before its bytes are downloaded. `header` holds
    its Message-ID and From lines, fetched only while catching up (`catch_up.py`): b"" else."""

    uid: int
    size: int
    internal_date: datetime | None = None
    header: bytes = b""


@dataclass(frozen=True, slots=True)
class MailAttachment:
    """A file of a mail: `size` is its decoded size, estimated; `content` the decoded bytes,
    kept for files a person attached (not inline parts) within the mail's budget, else b""."""

    name: str
    mime_type: str
    size: int
    inline: bool = False
    content: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a bounce (RFC 3464 DSN, or a plain-text bounce we could read) says."""

    original_message_id: str | None
    recipient: str | None
    status: str | None  # e.g. "5.1.1"
    action: str | None  # e.g. "failed", "delayed"

    @property
    def permanent(self) -> bool:
        return (self.status or "").startswith("5") or self.action == "failed"


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """A mail read from its bytes with `email.policy.default`, made safe to use.

    Header values are decoded, stripped of CR/LF and other control characters, and capped.
    `text` is the whole body as text (HTML converted, quoted blocks removed at the HTML level
    first); `reply` is `text` without quoted earlier messages, attributions and forwarded
    headers — never empty when the customer wrote something. `signature` is the signature
    block found at the end of `reply` (kept in `reply`; it may hold a phone or a company).
    """

    raw: bytes
    message_id: str | None
    subject: str
    from_address: str | None
    from_name: str
    date: datetime
    text: str
    reply: str
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    reply_to: str | None = None
    to: tuple[str, ...] = ()
    return_path: str | None = None  # "" for the null reverse-path "<>"; None when absent
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case name → first value
    content_type: str = "text/plain"
    html_only: bool = False
    signature: str = ""
    attachments: tuple[MailAttachment, ...] = ()
    report: DeliveryReport | None = None
    defects: tuple[str, ...] = ()


class MailKind(StrEnum):
    CUSTOMER = "customer"  # a person wrote: route it
    BOUNCE = "bounce"  # a delivery status notification or plain-text bounce
    REPORT = "report"  # other reports: ARF complaints, read receipts (MDN)
    AUTO_REPLY = "auto_reply"  # out-of-office and other automatic answers
    BULK = "bulk"  # mailing lists, newsletters, Precedence: bulk/junk/list
    LOOP = "loop"  # our own mail coming back, or mail from our own addresses


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the filter chain decided about one mail, and why (stored on its touchpoint)."""

    kind: MailKind
    reason: str

    @property
    def answerable(self) -> bool:
        return self.kind is MailKind.CUSTOMER
