"""Outgoing replies as MIME messages: headers that thread and say a bot sent them, a plain-text
and a simple HTML body with the options as a numbered list (email has no buttons).

Every header value built from input (subjects, names, message ids, the loop token) goes through
`header_text`: RFC 2047 encoded-words are decoded first, then CR, LF and the other control
characters, line/paragraph separators and bidi controls are removed, and the length is capped.
The decoding matters: Python 3.11.7 lacks the CVE-2024-6923 fix, and a Subject or display name
holding `=?utf-8?q?Hi=0ABcc:_x@y?=` is decoded and written out again with a bare LF in it.
`compose_reply` also folds every header once more and refuses one that would span two fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address, AddressHeader, BaseHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from html import escape
from typing import Any

from bot.model import FileCopy, PermanentSendError, QuickReply, utc_now

LOOP_HEADER = "X-Touchpoint-Loop"
SUBJECT_LIMIT = 250
NAME_LIMIT = 100
TOKEN_LIMIT = 100
LABEL_LIMIT = 200
MESSAGE_ID_LIMIT = 250
ADDRESS_LIMIT = 254
FILE_NAME_LIMIT = 100
REFERENCES_KEPT = 10  # the thread root plus the last ten ids: enough for every client to thread

HINTS = {
    "en": "Reply with the number or the words.",
    "ru": "Ответьте номером или словами.",
}

_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # controls, NEL, separators
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BODY_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_ID_PART = r"[^\x00-\x20\x7f-\U0010ffff<>@\"\\(),]+"
_MESSAGE_ID = re.compile(rf"<{_ID_PART}@{_ID_PART}>")
_MIME_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]{0,60}/[A-Za-z0-9][\w.+-]{0,60}")
_ADDR_SPEC = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def compose_reply(
    *,
    text: str,
    options: Sequence[QuickReply],
    sender: str,
    recipient: str,
    subject: str,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
    auto_submitted: bool,
    loop_token: str,
    language: str | None,
    recipient_name: str = "",
    now: datetime | None = None,
    files: Sequence[FileCopy] = (),
    reply_to: str | None = None,
) -> EmailMessage:
    """One reply to one customer, ready for `SmtpSender.send`.

    `sender` is EMAIL_FROM ("Name <addr>" or "addr"); `recipient` a bare address, with the
    customer's name in `recipient_name`. An unusable recipient raises
    `PermanentSendError("invalid recipient ...")`; a bad `sender`, `message_id` or
    `loop_token` is our configuration or a bug and raises `ValueError`.
    """
    lang = "ru" if (language or "").lower().startswith("ru") else "en"
    message = EmailMessage()
    message["From"] = sender_address(sender)
    message["To"] = recipient_address(recipient, recipient_name)
    message["Subject"] = header_text(subject, SUBJECT_LIMIT)
    message["Date"] = format_datetime(_aware(now or utc_now()))
    message["Message-ID"] = _own_message_id(message_id)
    if reply_to is not None:  # a rep's secret reply address (reply_tokens.py)
        message["Reply-To"] = sender_address(reply_to)
    _add_threading(message, in_reply_to, references)
    _add_marks(message, auto_submitted, loop_token)
    _add_bodies(message, text, options, lang)
    for file in files:  # before Content-Language: attaching moves Content-* headers inward
        _attach(message, file)
    if language and language.lower()[:2] in HINTS:  # after the body: set_content clears it
        message["Content-Language"] = lang
    check_one_line_headers(message)
    return message


def _attach(message: EmailMessage, file: FileCopy) -> None:
    kind = file.mime_type.lower() if _MIME_TYPE.fullmatch(file.mime_type) else ""
    maintype, _, subtype = (kind or "application/octet-stream").partition("/")
    name = header_text(file.name, FILE_NAME_LIMIT) or "attachment"
    if maintype == "message":  # an attached mail travels as a file, not re-parsed
        maintype, subtype = "application", "octet-stream"
    message.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=name)


# --- header values ---------------------------------------------------------------------------


def header_text(value: str, limit: int) -> str:
    """`value` as one safe line: encoded-words decoded, controls and bidi removed, capped."""
    text = _one_line(value)
    for _ in range(4):  # nested encoded-words: decode until nothing changes
        decoded = _one_line(_decode_words(text))
        if decoded == text:
            break
        text = decoded
    else:
        text = text.replace("=?", "= ?")
    return text[:limit].rstrip()


def _one_line(value: str) -> str:
    return " ".join(_BIDI.sub("", _BREAKING.sub(" ", value)).split())


def _decode_words(value: str) -> str:
    if "=?" not in value:
        return value
    return str(policy.default.header_factory("x-touchpoint-text", value))


def _add_marks(message: EmailMessage, auto_submitted: bool, loop_token: str) -> None:
    if auto_submitted:
        message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    token = header_text(loop_token, TOKEN_LIMIT)
    if not token:
        raise ValueError("the loop token is empty")
    message[LOOP_HEADER] = token


def check_one_line_headers(message: EmailMessage) -> None:
    """Refuse a message whose headers would fold into more than their own field (the check
    Python >= 3.11.10 makes in the generator, done here for interpreters without it)."""
    for folding in (policy.SMTP, policy.SMTPUTF8):
        for name, value in message.items():
            lines = folding.fold(name, value).split("\r\n")
            if lines[-1] or any(
                "\r" in line or "\n" in line or not line[:1].isspace() for line in lines[1:-1]
            ):
                raise ValueError(f"header {name} would not stay one header field")


# --- addresses -------------------------------------------------------------------------------


def sender_address(value: str) -> Address:
    """EMAIL_FROM as one mailbox, rebuilt from its parts; `ValueError` when it is not one."""
    try:
        header = policy.default.header_factory("from", header_text(value, 2 * ADDRESS_LIMIT))
    except (ValueError, IndexError, HeaderParseError) as error:
        raise ValueError(f"EMAIL_FROM is not an address: {error}") from None
    if not isinstance(header, AddressHeader) or len(header.addresses) != 1:
        raise ValueError("EMAIL_FROM must be exactly one address, e.g. 'Shop <bot@shop.example>'")
    only = header.addresses[0]
    mailbox = parse_addr_spec(only.addr_spec)
    if mailbox is None:
        raise ValueError("EMAIL_FROM is not a usable address")
    name = header_text(only.display_name, NAME_LIMIT)
    return Address(display_name=name, username=mailbox.username, domain=mailbox.domain)


def recipient_address(value: str, display_name: str = "") -> Address:
    """The one recipient; `PermanentSendError` when `value` is not a single plain address."""
    mailbox = parse_addr_spec(value)
    if mailbox is None:
        shown = header_text(value, 80)
        raise PermanentSendError(f"invalid recipient {shown!r}")
    name = header_text(display_name, NAME_LIMIT)
    return Address(display_name=name, username=mailbox.username, domain=mailbox.domain)


def parse_addr_spec(value: str) -> Address | None:
    """A bare `local@domain` (dot-atom local part, IDNA domain), or None.

    Deliberately narrower than RFC 5322: no display name, comment, quoted local part or
    whitespace, so nothing in it can end an SMTP command or a header.
    """
    candidate = _ascii_domain(value.strip())
    if not candidate or len(candidate) > ADDRESS_LIMIT or not _ADDR_SPEC.fullmatch(candidate):
        return None
    try:
        parsed = Address(addr_spec=candidate)
    except (ValueError, IndexError, HeaderParseError):
        return None
    domain_ok = all(parsed.domain.split("."))
    return parsed if parsed.username and parsed.domain and domain_ok else None


def _ascii_domain(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or domain.isascii():
        return value
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return ""


# --- threading -------------------------------------------------------------------------------


class MessageIdsHeader(BaseHeader):
    """In-Reply-To and References: msg-ids separated by spaces, folded only between ids.

    Python's unstructured folding turns an id longer than a line into RFC 2047 encoded-words
    (`=?utf-8?q?=3C...?=`), which no client matches against a Message-ID any more.
    """

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        kwds["parse_tree"] = None
        kwds["decoded"] = " ".join(value.split())

    def fold(self, *, policy: Policy) -> str:
        limit = policy.max_line_length or 0
        lines = [f"{self.name}:"]
        for number, msg_id in enumerate(str(self).split()):
            if number and limit and len(lines[-1]) + 1 + len(msg_id) > limit:
                lines.append("")
            lines[-1] += f" {msg_id}"
        return policy.linesep.join(lines) + policy.linesep


def _add_threading(
    message: EmailMessage, in_reply_to: str | None, references: Sequence[str]
) -> None:
    parent = message_id_or_none(in_reply_to or "")
    chain = reference_chain(references, parent)
    if parent:
        message["In-Reply-To"] = MessageIdsHeader("In-Reply-To", parent)
    if chain:
        message["References"] = MessageIdsHeader("References", " ".join(chain))


def reference_chain(references: Iterable[str], parent: str | None) -> list[str]:
    """Valid ids once each, the parent last (RFC 5322 §3.6.4), trimmed to root + last ten."""
    chain = list(dict.fromkeys(filter(None, map(message_id_or_none, references))))
    if parent:
        chain = [msg_id for msg_id in chain if msg_id != parent] + [parent]
    if len(chain) > REFERENCES_KEPT + 1:
        chain = chain[:1] + chain[-REFERENCES_KEPT:]
    return chain


def message_id_or_none(value: str) -> str | None:
    """`<left@right>` from an inbound id (angle brackets added when missing), or None."""
    candidate = value.strip()
    if candidate and not candidate.startswith("<"):
        candidate = f"<{candidate}>"
    fits = len(candidate) <= MESSAGE_ID_LIMIT and _MESSAGE_ID.fullmatch(candidate)
    return candidate if fits else None


def _own_message_id(value: str) -> str:
    message_id = message_id_or_none(value)
    if message_id is None or not value.strip().startswith("<"):
        raise ValueError(f"message_id must look like <left@right>, got {value[:80]!r}")
    return message_id


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the Date of a reply needs an aware datetime")
    return moment


# --- bodies ----------------------------------------------------------------------------------


def _add_bodies(message: EmailMessage, text: str, options: Sequence[QuickReply], lang: str) -> None:
    # base64 keeps every line short and 7-bit: no "From " mangling, no dot or line-length
    # trouble on the way, whatever the text holds.
    message.set_content(plain_body(text, options, lang), cte="base64")
    message.add_alternative(html_body(text, options, lang), subtype="html", cte="base64")
    for part in message.iter_parts():
        del part["MIME-Version"]  # set_content adds it to each part; only the top needs it


def plain_body(text: str, options: Sequence[QuickReply], lang: str) -> str:
    blocks = [body_text(text)]
    labels = option_labels(options)
    if labels:
        blocks.append("\n".join(f"{number}. {label}" for number, label in labels))
        blocks.append(HINTS[lang])
    return "\n\n".join(block for block in blocks if block) + "\n"


def html_body(text: str, options: Sequence[QuickReply], lang: str) -> str:
    blocks = [_html_paragraph(part) for part in re.split(r"\n\s*\n", body_text(text))]
    labels = option_labels(options)
    if labels:
        items = "".join(f"<li>{escape(label)}</li>" for _, label in labels)
        blocks += [f"<ol>{items}</ol>", f"<p>{escape(HINTS[lang])}</p>"]
    body = "\n".join(block for block in blocks if block)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head><meta charset="utf-8"></head>\n'
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _html_paragraph(part: str) -> str:
    lines = [escape(line) for line in part.strip().split("\n")]
    return f"<p>{'<br>'.join(lines)}</p>" if any(lines) else ""


def body_text(text: str) -> str:
    """The reply text with one kind of line ending and no control characters but tab."""
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BODY_CONTROLS.sub("", unified).strip("\n")


def option_labels(options: Sequence[QuickReply]) -> list[tuple[int, str]]:
    """Numbered as the options are, so "2" always means `options[1]`."""
    return [
        (number, _one_line(option.label or option.data)[:LABEL_LIMIT])
        for number, option in enumerate(options, start=1)
    ]
