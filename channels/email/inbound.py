"""A fetched mail → the shared conversation model.

The raw bytes travel with every item (stored before anything else happens to them). A mail
becomes: UNREADABLE when it is too large, too complex (`prescan.py`: too many parts, nested too
deep) or cannot be parsed (parked with the reason); an EVENT
when the filter chain says it is not a person writing — `bounced`/`delayed` for bounces (mapped
back to our reply through the embedded Message-ID), otherwise the verdict's kind, recorded with
its reason and never answered; IGNORED when no sender address can be trusted; otherwise a
customer MESSAGE whose text is the reply without the quoted history, with the files the
person attached (decoded once, here, and stored with the message).

`to_inbound` parses in the calling process: the email channel calls it in a worker process with
limits (`reader.py`), never on the event loop.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.intake import UNKNOWN_ADDRESS, normalised
from bot.model import Address, Attachment, FileCopy, InboundKind, InboundMessage, Sender
from channels.email.filters import classify
from channels.email.mail import FetchedMail, MailKind, ParsedMail, UnparseableMail, Verdict
from channels.email.parse import parse_mail
from channels.email.prescan import structure_problem
from channels.email.reply_tokens import token_addressed

CHANNEL = "email"
DMARC_PASS = re.compile(r"(?:^|[\s;])dmarc\s*=\s*pass\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Ours:
    """What identifies our own mail (addresses, the loop token, Message-ID domains), the address
    reps' secret reply addresses are built on, and the `authserv-id` of our own mail server
    when its Authentication-Results are to be required (EMAIL_AUTHSERV_ID)."""

    addresses: frozenset[str]
    loop_token: str
    domains: frozenset[str]
    reply_base: str = ""
    authserv_id: str | None = None


def to_inbound(fetched: FetchedMail, ours: Ours) -> InboundMessage:
    """The mail as the core sees it, never an exception: whatever breaks while reading it (a
    parser bug, a header of an unexpected shape) makes it UNREADABLE, parked with its bytes."""
    return normalised(
        CHANNEL, lambda: _read(fetched, ours), payload=_position(fetched), raw=fetched.raw or None
    )


def _read(fetched: FetchedMail, ours: Ours) -> InboundMessage:
    if not fetched.raw:
        return unreadable_mail(fetched, f"too large ({fetched.size or 0} bytes): not downloaded")
    problem = structure_problem(fetched.raw)
    if problem is not None:
        return unreadable_mail(fetched, problem)
    try:
        mail = parse_mail(fetched.raw, fetched.internal_date)
    except UnparseableMail as error:
        return unreadable_mail(fetched, f"unparseable mail: {error}")
    verdict = classify(
        mail, own_addresses=ours.addresses, loop_token=ours.loop_token, own_domains=ours.domains
    )
    if not verdict.answerable:
        return _not_a_person(fetched, mail, verdict)
    if mail.from_address is None:
        return _item(fetched, mail, InboundKind.IGNORED, "no trustworthy sender address")
    if ours.authserv_id and not dmarc_passed(mail, ours.authserv_id):
        # Answering would make the company's own domain a source of backscatter to whatever
        # address a forger wrote in From.
        reason = f"the sender failed authentication (no dmarc=pass from {ours.authserv_id})"
        return _item(fetched, mail, InboundKind.IGNORED, reason)
    return _customer(fetched, mail, ours)


def key_of(fetched: FetchedMail, mail: ParsedMail | None = None) -> str:
    """The idempotency key: the Message-ID, or a hash of the bytes when there is none."""
    if mail is not None and mail.message_id:
        return mail.message_id
    return "sha256:" + hashlib.sha256(fetched.raw).hexdigest()


def _customer(fetched: FetchedMail, mail: ParsedMail, ours: Ours) -> InboundMessage:
    assert mail.from_address is not None
    recipients = (*mail.to, mail.headers.get("cc", ""), mail.headers.get("delivered-to", ""))
    return InboundMessage(
        external_id=key_of(fetched, mail),
        address=Address(CHANNEL, mail.from_address),
        sender=Sender(mail.from_address, mail.from_name),
        text=mail.reply,
        subject=mail.subject,
        header_id=mail.message_id,
        in_reply_to=mail.in_reply_to[0] if mail.in_reply_to else None,
        references=mail.references,
        attachments=tuple(
            Attachment(kind="file", name=item.name, mime_type=item.mime_type, size=item.size)
            for item in mail.attachments
            if not item.inline
        ),
        received_at=mail.date,
        payload=_summary(fetched, mail),
        raw=fetched.raw,
        reply_token=token_addressed(ours.reply_base, recipients) if ours.reply_base else None,
        files=tuple(
            FileCopy(item.name or "attachment", item.mime_type, item.content)
            for item in mail.attachments
            if item.content
        ),
    )


def dmarc_passed(mail: ParsedMail, authserv_id: str) -> bool:
    """Whether our own mail server (the topmost Authentication-Results, which it added last and
    with its `authserv_id`) says the sender's domain passed DMARC. Results further down, or
    under another id, may be the sender's own inventions."""
    results = mail.headers.get("authentication-results", "")
    server, _, rest = results.partition(";")
    words = server.split()  # the authserv-id, then an optional version
    if not words or words[0].lower() != authserv_id.lower():
        return False
    return DMARC_PASS.search(rest) is not None


def _not_a_person(fetched: FetchedMail, mail: ParsedMail, verdict: Verdict) -> InboundMessage:
    if verdict.kind is MailKind.BOUNCE:
        return _bounce(fetched, mail, verdict)
    return _item(fetched, mail, InboundKind.EVENT, verdict.kind.value, reason=verdict.reason)


def _bounce(fetched: FetchedMail, mail: ParsedMail, verdict: Verdict) -> InboundMessage:
    report = mail.report
    permanent = report is None or report.permanent
    return InboundMessage(
        external_id=key_of(fetched, mail),
        address=Address(CHANNEL, (report.recipient if report else None) or UNKNOWN_ADDRESS),
        sender=Sender((report.recipient if report else None) or ""),
        text=verdict.reason,
        subject=mail.subject,
        in_reply_to=report.original_message_id if report else None,
        received_at=mail.date,
        payload=_summary(fetched, mail),
        raw=fetched.raw,
        kind=InboundKind.EVENT,
        event="bounced" if permanent else "delayed",
    )


def _item(
    fetched: FetchedMail, mail: ParsedMail, kind: InboundKind, what: str, reason: str = ""
) -> InboundMessage:
    """An EVENT (`what` happened, e.g. "auto_reply", for `reason`) or an IGNORED item (`what`
    is the reason)."""
    sender = mail.from_address or ""
    return InboundMessage(
        external_id=key_of(fetched, mail),
        address=Address(CHANNEL, sender or UNKNOWN_ADDRESS),
        sender=Sender(sender, mail.from_name),
        text=reason or what,
        subject=mail.subject,
        in_reply_to=mail.in_reply_to[0] if mail.in_reply_to else None,
        references=mail.references,
        received_at=mail.date,
        payload=_summary(fetched, mail),
        raw=fetched.raw,
        kind=kind,
        event=what if kind is InboundKind.EVENT else "",
        reason=reason or what,
    )


def unreadable_mail(fetched: FetchedMail, reason: str) -> InboundMessage:
    """The mail to park as it is, with `reason`."""
    return InboundMessage(
        external_id=key_of(fetched),
        address=Address(CHANNEL, UNKNOWN_ADDRESS),
        sender=Sender(""),
        payload=_position(fetched),
        raw=fetched.raw or None,
        kind=InboundKind.UNREADABLE,
        reason=reason,
    )


def _position(fetched: FetchedMail) -> Mapping[str, object]:
    return {"uidvalidity": fetched.uidvalidity, "uid": fetched.uid, "size": fetched.size}


def _summary(fetched: FetchedMail, mail: ParsedMail) -> Mapping[str, object]:
    """What is kept beside the raw bytes for people reading the record."""
    return {
        "uidvalidity": fetched.uidvalidity,
        "uid": fetched.uid,
        "from": mail.from_address,
        "subject": mail.subject,
        "message_id": mail.message_id,
        "text": mail.text[:20_000],
        "signature": mail.signature,
        "defects": list(mail.defects),
    }
