"""Raw mail bytes to a `ParsedMail` that later stages can trust.

`parse_mail` reads the bytes with `BytesParser(policy=policy.default)` (never decoding to str
first, which would destroy 8-bit koi8-r/windows-1251 text), then builds every field defensively:

- header values are decoded (RFC 2047 words through our charset fallbacks, raw 8-bit bytes
  recovered from `raw_items()`), stripped of line breaks and other control characters, and capped;
- an address is taken only when `getaddresses` and the header registry agree on exactly one
  mailbox (CVE-2023-27043: ambiguous From/Reply-To gives None, not a guess);
- the body is text/plain (every inline text/plain part, joined in order: a client puts one on
  each side of an inline picture, a list server adds its footer as one), else HTML turned into
  text with quoted blocks removed first;
- parts are walked with limits on count, nesting depth and decoded size;
- the files a person attached (not inline parts) are decoded once, here, up to
  MAX_FORWARD_BYTES in all, and kept with the mail to show a rep later.

The standard library builds the whole tree before any of these limits applies, and some of its
parsers are quadratic on hostile input: mail is therefore read in a worker process with time and
memory limits (`channels/email/sandbox.py`), after a linear look at its MIME structure
(`channels/email/prescan.py`); HTML that would make html.parser quadratic is refused with a
reason (`channels/email/html_text.py`).

Guarantee: parse_mail returns a ParsedMail or raises `UnparseableMail` with a reason; no other
exception escapes (an unexpected one is turned into UnparseableMail, so the loop goes on and the
stored raw bytes go to the dead letter with that reason) — except MemoryError, which the worker
reading the mail reports as such (and is replaced).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parsedate_to_datetime

from channels.email.charsets import decode_text, recover_escaped
from channels.email.html_text import MAX_HTML_CHARS, BrokenMarkup, html_to_text
from channels.email.mail import DeliveryReport, MailAttachment, ParsedMail, UnparseableMail
from channels.email.quotes import strip_reply

MAX_RAW_BYTES = 64 * 1024 * 1024  # the IMAP size cap should stop bigger mail long before
MAX_TEXT_CHARS = 100_000
MAX_SUBJECT_CHARS = 998
MAX_NAME_CHARS = 200
MAX_HEADER_CHARS = 998
MAX_RAW_HEADER_CHARS = 16_000  # read of one header before decoding (flanker has 200 KB ones)
MAX_HEADERS = 300
MAX_HEAD_BLOCK_BYTES = 16 * 1024  # a few header lines read on their own (message_id_and_sender)
MAX_ADDRESSES = 50
MAX_IDS = 100
MAX_ATTACHMENTS = 50
MAX_DEPTH = 5  # message/rfc822 inside message/rfc822...
MAX_PARTS = 500
MAX_DECODED_BYTES = 25 * 1024 * 1024
MAX_TEXT_BYTES = 4 * MAX_TEXT_CHARS  # utf-8 needs up to 4 bytes a character
MAX_DEFECTS = 50
MAX_FORWARD_BYTES = 20 * 1024 * 1024  # of a mail's files kept to show a rep, in all
CLOCK_SKEW = timedelta(days=1)

Part = Message  # EmailMessage under policy.default; the parser's own type is Message

_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r" {2,}")
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_BRACKETED_ID = re.compile(r"<\s*([^<>\s]{1,250}?)\s*>")
_BARE_ID = re.compile(r"[^<>\s,;\"']+@[^<>\s,;\"']+")
_NAME_PARAM = re.compile(r';\s*(?:file)?name\s*=\s*(?:"([^"]*)"|([^;]*))', re.IGNORECASE)
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_VALID_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_CODE = re.compile(r"(?:^|[\s:(])([45][0-5]\d)[\s-]", re.MULTILINE)
_PERMANENT = re.compile(
    r"failed permanently|permanent (?:failure|error)|permanently (?:failed|rejected)"
    r"|постоянная ошибка|не может быть доставлено",
    re.IGNORECASE,
)
_EMBEDDED_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_RECIPIENT_LINE = re.compile(
    r"^\s*(?:(?:original|final)-recipient:\s*(?:rfc822;)?\s*)?<?([^<>\s@:;]+@[^<>\s@:;]+?)>?\s*:?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_FAILED_FOR = re.compile(
    r"(?:fail|undeliver|reject|not be delivered|unknown|does not exist|no such|недостав)"
    r"[^\n@]{0,80}?<?([^<>\s@:;,]+@[^<>\s@:;,]+?)>?[\s.,;:)]*$",
    re.IGNORECASE | re.MULTILINE,
)
_ORIGINAL_TO = re.compile(r"^To:\s*[^\n@]{0,80}?<?([^<>\s@:;,]+@[^<>\s@:;,]+?)>?\s*$", re.MULTILINE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status notification|failure|has failed|notification)|returned mail"
    r"|failure notice|mail delivery (?:failed|failure|system)|could not be delivered"
    r"|delivery failed|недоставлен|не доставлен|ошибка доставки",
    re.IGNORECASE,
)
_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_DAEMONS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_REPORT_PARTS = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/feedback-report",
        "text/rfc822-headers",
        "message/global-headers",
    }
)


def parse_mail(
    raw: bytes, internal_date: datetime | None = None, *, now: datetime | None = None
) -> ParsedMail:
    """Parse raw RFC 822 bytes; raises UnparseableMail(reason) for bytes that hold no mail."""
    if not raw.strip():
        raise UnparseableMail("empty message")
    if len(raw) > MAX_RAW_BYTES:
        raise UnparseableMail(f"message of {len(raw)} bytes is over the {MAX_RAW_BYTES} limit")
    message = _parse_bytes(raw)
    if not message.keys() and not _payload_bytes(message).strip():
        raise UnparseableMail("no header and no body")
    try:
        return _build(raw, message, internal_date, now)
    except (UnparseableMail, MemoryError):
        raise
    except Exception as exc:  # the loop must go on: the raw bytes are kept with this reason
        raise UnparseableMail(f"unreadable mail: {type(exc).__name__}: {exc}"[:300]) from exc


def message_id_and_sender(header: bytes) -> tuple[str | None, str | None]:
    """The Message-ID and the From address of a block of header lines, read as `parse_mail`
    reads them (so they equal what it gives for the whole mail); None for what is missing,
    unreadable or possibly cut off (a block that does not end with its blank line)."""
    if not header.endswith((b"\r\n\r\n", b"\n\n")) or len(header) > MAX_HEAD_BLOCK_BYTES:
        return None, None
    try:
        message = BytesParser(policy=policy.default).parsebytes(header, headersonly=True)
        headers = _Headers(message, None)
        return next(iter(headers.ids("message-id")), None), headers.mailbox("from")[0]
    except Exception:  # a header this odd is simply not known: the mail is read in full
        return None, None


def _parse_bytes(raw: bytes) -> Message:
    try:
        return BytesParser(policy=policy.default).parsebytes(raw)
    except MemoryError:
        raise
    except Exception as exc:  # RecursionError on absurd nesting, or a parser bug
        raise UnparseableMail(f"MIME parser failed: {type(exc).__name__}") from exc


def _build(
    raw: bytes, message: Message, internal_date: datetime | None, now: datetime | None
) -> ParsedMail:
    hint = _charset_hint(message)
    headers = _Headers(message, hint)
    sender, sender_name = headers.mailbox("from")
    text, html_only = _body_text(message)
    reply, signature = strip_reply(text)
    return ParsedMail(
        raw=raw,
        message_id=next(iter(headers.ids("message-id")), None),
        subject=headers.text("subject", MAX_SUBJECT_CHARS),
        from_address=sender,
        from_name=sender_name,
        date=_date(headers.raw("date"), internal_date, now),
        text=text,
        reply=reply[:MAX_TEXT_CHARS],
        in_reply_to=headers.ids("in-reply-to"),
        references=headers.ids("references"),
        reply_to=headers.mailbox("reply-to")[0],
        to=headers.addresses("to"),
        return_path=_return_path(headers.raw("return-path")),
        headers=headers.first_values(),
        content_type=message.get_content_type(),
        html_only=html_only,
        signature=signature,
        attachments=_attachments(message),
        report=_report(message, headers, text, sender),
        defects=_defects(message),
    )


# -- header values ----------------------------------------------------------------------


def sanitise(value: str, limit: int) -> str:
    """A header value safe to log, display or put in a reply header: one line, no controls."""
    value = _LINE_BREAKS.sub(" ", value)
    value = _SPACES.sub(" ", _CONTROLS.sub("", value))
    return value.strip()[:limit].strip()


def decode_words(value: str, hint: str | None = None) -> str:
    """A raw header value as text: raw 8-bit bytes recovered, RFC 2047 words decoded with the
    charset fallbacks (a word labelled windows-1251 that is really koi8-r still reads right)."""
    value = recover_escaped(value, hint)
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError, LookupError, UnicodeError):
        return value
    return "".join(_decode_chunk(chunk, charset, hint) for chunk, charset in chunks)


def _decode_chunk(chunk: bytes | str, charset: str | None, hint: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    if charset is None:  # text between encoded words, which decode_header returns escaped
        return recover_escaped(chunk.decode("raw-unicode-escape", "replace"), hint)
    return decode_text(chunk, charset)


def unfold(value: str) -> str:
    return _FOLD.sub("", value[:MAX_RAW_HEADER_CHARS])


class _Headers:
    """The message's headers as raw strings, read once (first occurrence wins for values)."""

    def __init__(self, message: Message, hint: str | None) -> None:
        self._hint = hint
        self._all: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            key = name.strip().lower()
            if key not in self._all and len(self._all) >= MAX_HEADERS:
                continue
            values = self._all.setdefault(key, [])
            if len(values) < MAX_IDS:
                values.append(unfold(str(value)))

    def raw(self, name: str) -> str | None:
        values = self._all.get(name)
        return values[0] if values else None

    def text(self, name: str, limit: int) -> str:
        value = self.raw(name)
        return sanitise(decode_words(value, self._hint), limit) if value is not None else ""

    def first_values(self) -> dict[str, str]:
        return {name: self.text(name, MAX_HEADER_CHARS) for name in self._all}

    def ids(self, name: str) -> tuple[str, ...]:
        found: list[str] = []
        for value in self._all.get(name, []):
            found.extend(message_ids(value))
        unique = list(dict.fromkeys(found))
        # keep the root and the most recent ones: those are what threading matches on
        return tuple(unique if len(unique) <= MAX_IDS else unique[:1] + unique[1 - MAX_IDS :])

    def mailbox(self, name: str) -> tuple[str | None, str]:
        """(address, display name) of the single mailbox in the header, or (None, "")."""
        value = self.raw(name)
        if value is None:
            return None, ""
        value = recover_escaped(value, self._hint)
        pairs = getaddresses([value])
        if len(pairs) != 1 or not _registry_agrees(name, value, pairs[0][1]):
            return None, ""
        address = _address(pairs[0][1])
        if address is None:
            return None, ""
        return address, sanitise(decode_words(pairs[0][0], self._hint), MAX_NAME_CHARS)

    def addresses(self, name: str) -> tuple[str, ...]:
        found: list[str] = []
        for value in self._all.get(name, []):
            pairs = getaddresses([recover_escaped(value, self._hint)])
            found.extend(a for a in (_address(addr) for _, addr in pairs) if a is not None)
        return tuple(dict.fromkeys(found))[:MAX_ADDRESSES]


def message_ids(value: str) -> list[str]:
    """Every well-formed `<id>` in a Message-ID / In-Reply-To / References value, in order."""
    value = html.unescape(value)  # some senders write &lt;id&gt;
    tokens = _BRACKETED_ID.findall(value) or _BARE_ID.findall(value)
    return [f"<{token}>" for token in tokens if _valid_id(token)]


def _valid_id(token: str) -> bool:
    return token.isprintable() and not any(c in token for c in "<>\"'") and token.strip("@") != ""


def _registry_agrees(name: str, value: str, address: str) -> bool:
    """The header registry must see the same single mailbox getaddresses saw.

    Encoded words become a plain atom first: the registry would decode them and refuse a name
    hiding CR/LF, and the question here is only how many mailboxes the header holds."""
    try:
        parsed = policy.default.header_factory(name, _ENCODED_WORD.sub("word", value))
        found = [a.addr_spec for a in getattr(parsed, "addresses", ())]
    except Exception:  # the registry parser has known crashes on malformed input
        return False
    return len(found) == 1 and found[0].lower() == address.lower()


def _address(addr: str) -> str | None:
    addr = sanitise(addr, 320).lower()
    return addr if _VALID_ADDRESS.fullmatch(addr) else None


def _return_path(value: str | None) -> str | None:
    if value is None:
        return None
    match = re.search(r"<([^<>]*)>", value)
    return sanitise(match.group(1) if match else value, 320).lower()


def _date(value: str | None, internal_date: datetime | None, now: datetime | None) -> datetime:
    """The Date header in UTC; a missing, unreadable or implausible one gives INTERNALDATE."""
    fallback = _utc(internal_date or now or datetime.now(UTC))
    if value is None:
        return fallback
    try:
        parsed = _utc(parsedate_to_datetime(sanitise(value, 200)))
    except (ValueError, TypeError, IndexError, OverflowError):
        return fallback
    reference = internal_date or now
    if parsed.year < 1970 or (reference is not None and parsed > _utc(reference) + CLOCK_SKEW):
        return fallback  # a sender's clock years off would sort the mail wrongly
    return parsed


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# -- parts ------------------------------------------------------------------------------


def walk(message: Message, *, into_messages: bool = True) -> Iterator[Part]:
    """Every part, depth first, at most MAX_PARTS of them and MAX_DEPTH nested messages deep;
    with `into_messages=False`, attached messages are yielded but not opened."""
    yield from _walk(message, 0, [MAX_PARTS], into_messages)


def _walk(message: Message, depth: int, budget: list[int], into: bool) -> Iterator[Part]:
    if budget[0] <= 0:
        return
    budget[0] -= 1
    yield message
    nested = message.get_content_maintype() == "message"
    if not message.is_multipart() or (nested and (depth >= MAX_DEPTH or not into)):
        return
    children = message.get_payload()
    for child in children if isinstance(children, list) else []:
        if isinstance(child, Message):
            yield from _walk(child, depth + 1 if nested else depth, budget, into)


def _charset_hint(message: Message) -> str | None:
    """The charset the sender's client used, to read raw 8-bit header bytes with."""
    for part in walk(message):
        if part.get_content_maintype() in ("text", "multipart"):
            charset = part.get_param("charset")
            if isinstance(charset, str) and charset:
                return charset
    return None


def _body_text(message: Message) -> tuple[str, bool]:
    """(text, html_only) of the part a person reads: text/plain, else HTML as text."""
    part = _body_part(message)
    if part is None:
        return "", False
    html_only = part.get_content_subtype() == "html" and _find_body(message, ("plain",)) is None
    if part.get_content_type() != "text/plain":
        return _clean_text(_part_text(part)), html_only
    texts = (_clean_text(_part_text(p)) for p in _plain_parts(message, part))
    return _clean_text("\n\n".join(text for text in texts if text.strip())), html_only


def _plain_parts(message: Message, body: Part) -> list[Part]:
    """The inline text/plain parts of the mail in order, `body` among them. Of alternatives one
    counts (they say the same thing); files attached as text and attached mails are not the
    sender's words."""
    found = list(_inline_plain(message, [MAX_PARTS]))
    return found if any(p is body for p in found) else [body]


def _inline_plain(part: Part, budget: list[int]) -> Iterator[Part]:
    if budget[0] <= 0:
        return
    budget[0] -= 1
    if part.get_content_type() == "text/plain" and not _is_file(part):
        yield part
    if part.get_content_maintype() != "multipart" or not part.is_multipart():
        return
    payload = part.get_payload()
    children = [c for c in payload if isinstance(c, Message)] if isinstance(payload, list) else []
    for child in children:
        texts = list(_inline_plain(child, budget))
        yield from texts
        if texts and part.get_content_subtype() == "alternative":
            return


def _body_part(message: Message) -> Part | None:
    plain = _find_body(message, ("plain",))
    if plain is not None and _payload_bytes(plain).strip():
        return plain
    rich = _find_body(message, ("html",))
    if rich is not None:
        return rich
    if plain is not None:
        return plain
    # a report, or a multipart that get_body cannot read: the first inline text part
    return next((p for p in walk(message, into_messages=False) if _is_inline_text(p)), None)


def _find_body(message: Message, preference: tuple[str, ...]) -> Part | None:
    if not isinstance(message, EmailMessage):
        return None
    try:
        return message.get_body(preferencelist=preference)
    except (RecursionError, KeyError, TypeError, AttributeError):
        return None


def _is_inline_text(part: Part) -> bool:
    if part.is_multipart() or _is_file(part):
        return False
    # a multipart whose boundary never shows up holds its content as plain text
    return part.get_content_maintype() in ("text", "multipart")


def _part_text(part: Part) -> str:
    is_html = part.get_content_subtype() == "html"
    data = _payload_bytes(part)[: 2 * MAX_HTML_CHARS if is_html else MAX_TEXT_BYTES]
    charset = part.get_param("charset")
    text = decode_text(data, charset if isinstance(charset, str) else None)
    if not is_html:
        return text
    try:
        return html_to_text(text)
    except BrokenMarkup as error:
        raise UnparseableMail(str(error)) from error


def _payload_bytes(part: Message) -> bytes:
    if part.is_multipart():
        return b""
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding: fall back to the bytes as they are
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _clean_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _TEXT_CONTROLS.sub("", text)[:MAX_TEXT_CHARS].strip("\n")


# -- attachments ------------------------------------------------------------------------


def _attachments(message: Message) -> tuple[MailAttachment, ...]:
    """Files the sender attached (an attached mail is one file; its own parts are not listed),
    each but inline ones with its decoded content while MAX_FORWARD_BYTES in all allow."""
    found: list[MailAttachment] = []
    room = MAX_FORWARD_BYTES
    for part in walk(message, into_messages=False):
        if len(found) >= MAX_ATTACHMENTS:
            break
        if _is_file(part):  # the top part too: a mail can be a single file
            attachment = _attachment(part)
            if not attachment.inline and attachment.size <= room:
                attachment = _with_content(attachment, part, room)
                room -= len(attachment.content)
            found.append(attachment)
    return tuple(found)


def _with_content(attachment: MailAttachment, part: Part, room: int) -> MailAttachment:
    content = _content(part)
    return replace(attachment, content=content) if len(content) <= room else attachment


def _content(part: Part) -> bytes:
    try:
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            return b"".join(m.as_bytes() for m in inner if isinstance(m, Message))
        decoded = part.get_payload(decode=True)
    except MemoryError:
        raise
    except Exception:  # a broken part: the rep still gets its name in the label
        return b""
    return decoded if isinstance(decoded, bytes) else b""


def _is_file(part: Part) -> bool:
    kind = part.get_content_type()
    if kind == "message/rfc822":
        return True
    if part.is_multipart() or kind in _REPORT_PARTS:
        return False
    if part.get_content_disposition() == "attachment" or _filename(part):
        return True
    return part.get_content_maintype() not in ("text", "multipart", "message")


def _attachment(part: Part) -> MailAttachment:
    inline = part.get_content_disposition() != "attachment" and bool(part.get("content-id"))
    return MailAttachment(
        name=_filename(part),
        mime_type=sanitise(part.get_content_type(), 100),
        size=_decoded_size(part),
        inline=inline,
    )


def _filename(part: Part) -> str:
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except Exception:  # a malformed Content-Disposition must not lose the mail
        name = ""
    if not isinstance(name, str) or not name or "\ufffd" in name:
        name = _raw_filename(part) or str(name or "")
    return sanitise(decode_words(name), MAX_NAME_CHARS)


def _raw_filename(part: Part) -> str:
    """The name as written, for what the parser rejects or mangles: an unquoted encoded word
    (`filename==?utf-8?B?...?=`) or raw 8-bit bytes, which recover_escaped then reads."""
    for header, value in part.raw_items():
        if header.lower() in ("content-disposition", "content-type"):
            found = _NAME_PARAM.search(unfold(str(value)))
            if found:
                return (found.group(1) if found.group(1) is not None else found.group(2)).strip()
    return ""


def _decoded_size(part: Part) -> int:
    """Size of the decoded content, computed without decoding base64 and capped."""
    if part.is_multipart():  # an attached mail: the sum of its parts is close enough
        inner = (p for p in walk(part) if p is not part and not p.is_multipart())
        return min(sum(_decoded_size(p) for p in inner), MAX_DECODED_BYTES)
    payload = part.get_payload()
    if not isinstance(payload, str):
        return 0
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding == "base64":
        chars = len(payload) - sum(payload.count(c) for c in " \t\r\n")
        size = chars * 3 // 4 - payload.rstrip().count("=", -3)
    elif len(payload) <= MAX_DECODED_BYTES:
        size = len(_payload_bytes(part))
    else:
        size = len(payload)
    return max(0, min(size, MAX_DECODED_BYTES))


# -- bounces ----------------------------------------------------------------------------


def _report(
    message: Message, headers: _Headers, text: str, sender: str | None
) -> DeliveryReport | None:
    statuses = [
        p for p in walk(message, into_messages=False) if p.get_content_type() in _STATUS_TYPES
    ]
    if statuses:
        return _dsn_report(message, statuses)
    evidence = _bounce_evidence(message, headers, sender)
    if evidence == _NOT_A_BOUNCE:
        return None
    report = _plain_bounce(message, headers, text, sender)
    return report if _enough(report, evidence) else None


# How sure the headers make us that a mail without a delivery-status part is a bounce.
_NOT_A_BOUNCE, _BOUNCE_SUBJECT_ONLY, _BOUNCE_SENDER, _BOUNCE_CERTAIN = range(4)


def _bounce_evidence(message: Message, headers: _Headers, sender: str | None) -> int:
    if _says_delivery_status(message) or headers.raw("x-failed-recipients") is not None:
        return _BOUNCE_CERTAIN
    local = (sender or headers.text("from", 320)).split("@")[0].lower().strip('<" ')
    if _return_path(headers.raw("return-path")) == "" or local in _DAEMONS:
        return _BOUNCE_SENDER
    if _BOUNCE_SUBJECT.search(headers.text("subject", MAX_SUBJECT_CHARS)):
        return _BOUNCE_SUBJECT_ONLY
    return _NOT_A_BOUNCE


def _enough(report: DeliveryReport, evidence: int) -> bool:
    """A customer may well write "Undelivered order" and "I paid 450": a subject alone needs
    an enhanced status code (5.1.1) and a recipient or returned Message-ID in the text."""
    found = report.recipient or report.original_message_id
    if evidence == _BOUNCE_CERTAIN:
        return True
    if evidence == _BOUNCE_SENDER:
        return bool(found or report.status)
    return bool(found and report.status and "." in report.status)


def _dsn_report(message: Message, statuses: list[Part]) -> DeliveryReport:
    """RFC 3464: the message/delivery-status fields and the returned message's Message-ID."""
    fields = _status_fields([block for part in statuses for block in _status_blocks(part)])
    recipient = fields.get("final-recipient") or fields.get("original-recipient")
    status = _STATUS.search(fields.get("status", ""))
    action = fields.get("action", "").split()
    return DeliveryReport(
        original_message_id=_original_id(message),
        recipient=_recipient(recipient) if recipient else None,
        status=status.group(1) if status else None,
        action=sanitise(action[0].lower(), 40) if action else None,
    )


def _status_fields(blocks: list[Message]) -> dict[str, str]:
    """Per-message fields plus those of the recipient that failed (else the first one)."""
    parsed = [_fields(block) for block in blocks]
    recipients = [b for b in parsed if "final-recipient" in b or "original-recipient" in b]
    failed = [b for b in recipients if b.get("action", "").lower().startswith("failed")]
    merged: dict[str, str] = {}
    for block in [b for b in parsed if b not in recipients] + (failed or recipients)[:1]:
        merged.update(block)
    return merged


def _status_blocks(part: Part) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = decode_text(_payload_bytes(part))
    return [HeaderParser().parsestr(chunk) for chunk in re.split(r"\n\s*\n", text)]


def _fields(block: Message) -> dict[str, str]:
    return {name.lower(): sanitise(str(value), 400) for name, value in block.raw_items()}


def _original_id(report: Part) -> str | None:
    for part in walk(report):
        kind = part.get_content_type()
        if kind == "message/rfc822" and part is not report:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found = _first_id(str(inner[0].get("message-id", "")))
                if found:
                    return found
        elif kind in ("text/rfc822-headers", "message/global-headers"):
            match = _EMBEDDED_ID.search(decode_text(_payload_bytes(part)))
            if match:
                return _first_id(match.group(1))
    return None


def _first_id(value: str) -> str | None:
    return next(iter(message_ids(unfold(value))), None)


def _says_delivery_status(message: Message) -> bool:
    kind = message.get_param("report-type")
    is_dsn = isinstance(kind, str) and kind.lower() == "delivery-status"
    return message.get_content_type() == "multipart/report" and is_dsn


def _plain_bounce(
    message: Message, headers: _Headers, text: str, sender: str | None
) -> DeliveryReport:
    """Best effort for qmail/Exim/Yahoo/Gmail bounces that are plain text, not RFC 3464."""
    status = _bounce_status(text)
    failed = headers.addresses("x-failed-recipients")
    recipient = failed[0] if failed else _bounce_recipient(text, sender)
    embedded = _EMBEDDED_ID.search(text)
    original = _first_id(embedded.group(1)) if embedded else _original_id(message)
    action = {"5": "failed", "4": "delayed"}.get((status or " ")[0])
    if action is None and _PERMANENT.search(text):
        action = "failed"
    return DeliveryReport(original, recipient, status, action)


def _bounce_status(text: str) -> str | None:
    status = _STATUS.search(text)
    if status:
        return status.group(1)
    code = _SMTP_CODE.search(text)
    return code.group(1) if code else None


def _bounce_recipient(text: str, sender: str | None) -> str | None:
    """The failed address: alone on a line (Gmail, qmail), after a failure word (Exim, Yahoo),
    else the To of the original message quoted in the bounce."""
    text = text[:20_000]
    for pattern in (_RECIPIENT_LINE, _FAILED_FOR, _ORIGINAL_TO):
        for match in pattern.finditer(text):
            address = _address(match.group(1))
            if address and address != sender and address.split("@")[0] not in _DAEMONS:
                return address
    return None


def _recipient(value: str) -> str | None:
    """`rfc822; user@example.com` → `user@example.com`."""
    address = value.split(";", 1)[-1].strip().strip("<>")
    return _address(address)


# -- defects ----------------------------------------------------------------------------


def _defects(message: Message) -> tuple[str, ...]:
    names: list[str] = []
    for part in walk(message):
        names.extend(type(defect).__name__ for defect in part.defects)
    return tuple(dict.fromkeys(names))[:MAX_DEFECTS]
