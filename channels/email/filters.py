"""The loop and noise filter chain: may the bot answer this mail, and if not, what is it?

`classify` runs small named checks in a fixed order; the first that recognises the mail decides,
and its `reason` is stored on the mail's touchpoint. Anything no check recognises is a person.

Order, and why it is this order (notes §10; RFC 3834; RT `Email.pm`; Zammad `AutoResponseCheck`):

1. null reverse-path — nothing may ever answer `<>` (RFC 5321 §4.5.5, RFC 3834 §2);
2. delivery status notifications, then other reports (ARF, MDN) — by content type, before any
   header heuristic, so a bounce that also says `Auto-Submitted` still reaches the bounce handler;
3. MAILER-DAEMON/postmaster senders, `X-Failed-Recipients` — plain-text bounces;
4. `Auto-Submitted`, `X-Autoreply` & co, Exchange out-of-office, `Precedence`, list headers,
   a list server's envelope sender;
5. our own mail: the loop header, our own sender addresses, a Message-ID of our domain;
6. subject heuristics — localised auto-reply subjects, bounce subjects with a daemon-like sender.

Volume caps (replies per conversation and per sender) are not here: they need state, and live in
the core. The chain never answers; it only says why not.

Loop header: the SMTP sender (`compose.py`) sets `X-Touchpoint-Loop: <loop_token>` on every
mail the bot sends; the token is an opaque ASCII string unique to this bot instance, e.g. its
mailbox address, at most 100 characters. A header of our own name is never shadowed by another
system's (`headers` keeps only the first value of each name, and procmail, RT and others all add
their own `X-Loop`). The same token in `X-Loop` (procmail convention) is recognised too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from channels.email.ids import domain_of
from channels.email.mail import MailKind, ParsedMail, Verdict
from channels.email.subjects import is_auto_reply_subject, is_bounce_subject

LOOP_HEADER = "X-Touchpoint-Loop"
LOOP_HEADERS = (LOOP_HEADER, "X-Loop")
PERSON = Verdict(MailKind.CUSTOMER, "a person wrote")

BOUNCE, REPORT, AUTO_REPLY = MailKind.BOUNCE, MailKind.REPORT, MailKind.AUTO_REPLY
BULK, LOOP = MailKind.BULK, MailKind.LOOP

_DAEMONS = frozenset({"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster"})
_DAEMON_LIKE_NAME = re.compile(
    r"mail delivery|delivery (?:sub)?system|mailer.?daemon|postmaster|mail administrator"
    r"|почтов\w* (?:робот|сервер|систем)",
    re.IGNORECASE,
)
_REPORT_TYPE = re.compile(r"report-type\s*=\s*\"?([\w.-]+)", re.IGNORECASE)
_REPORT_MEDIA = {
    "message/delivery-status": "delivery-status",
    "message/global-delivery-status": "delivery-status",
    "message/feedback-report": "feedback-report",
    "message/disposition-notification": "disposition-notification",
}
_REPORT_NAMES = {
    "feedback-report": "ARF feedback report",
    "disposition-notification": "read receipt (MDN)",
}
_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-FC-MachineGenerated")
_PRECEDENCE = {"bulk": BULK, "junk": BULK, "list": BULK, "auto_reply": AUTO_REPLY}
_LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post")
_LIST_ENVELOPE = re.compile(r"owner-.|.+-(?:owner|bounces)(?:\+|$)")
_NOT_SET = frozenset({"", "no", "false", "0"})


@dataclass(frozen=True, slots=True)
class Ours:
    """What is ours: sender addresses, the loop token, the domains of our Message-IDs."""

    addresses: frozenset[str]
    loop_token: str
    domains: frozenset[str]


Check = Callable[[ParsedMail, Ours], Verdict | None]


def classify(
    mail: ParsedMail,
    *,
    own_addresses: frozenset[str],
    loop_token: str,
    own_domains: frozenset[str],
) -> Verdict:
    """The first verdict of `CHECKS`, or "a person wrote".

    `own_addresses`: every address the bot sends from or receives at (aliases included).
    `loop_token`: the value our SMTP sender puts in `X-Loop`. `own_domains`: the domains the bot
    uses in its own Message-IDs — not the company's whole mail domain, whose staff may write in.
    """
    ours = Ours(
        addresses=frozenset(address.strip().lower() for address in own_addresses),
        loop_token=loop_token.strip().casefold(),
        domains=frozenset(domain.strip().strip(".").lower() for domain in own_domains),
    )
    for check in CHECKS:
        verdict = check(mail, ours)
        if verdict is not None:
            return verdict
    return PERSON


# 1. Null reverse-path


def null_return_path(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """RFC 5321 §4.5.5 / RFC 3834 §2: mail sent from `<>` must never be answered. Bounces and
    reports use it by design; anything else from `<>` is an automatic notice (RT does the same)."""
    if mail.return_path is None or mail.return_path.strip("<> "):
        return None  # "" is the parser's spelling of `<>`; a bare "<>" is tolerated too
    return Verdict(_report_kind(mail) or _bounce_or_auto(mail), "null return path")


# 2. Reports by content type


def delivery_status_notification(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """RFC 3464 / RFC 6522 `multipart/report; report-type=delivery-status` (RFC 6533 global too),
    or a bounce the parser already read into `mail.report`."""
    if _report_kind(mail) is BOUNCE:
        return Verdict(BOUNCE, "delivery status notification")
    return None


def other_report(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """Other RFC 6522 reports: ARF abuse complaints (RFC 5965), read receipts (RFC 8098 MDN)."""
    report_type = _report_type(mail)
    if report_type is None:
        return None
    return Verdict(REPORT, _REPORT_NAMES.get(report_type, f"report: {report_type[:40]}"))


# 3. Mail servers writing


def mailer_daemon_sender(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """RT `IsMachineGeneratedMail`: a MAILER-DAEMON or postmaster sender (From, or the envelope
    sender in Return-Path) is a mail server reporting, usually a plain-text bounce."""
    if _from_daemon(mail):
        return Verdict(BOUNCE, "mailer-daemon sender")
    return None


def failed_recipients_header(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """Exim and Gmail put `X-Failed-Recipients` on their bounces; Chatwoot treats it as one."""
    if _header(mail, "X-Failed-Recipients"):
        return Verdict(BOUNCE, "X-Failed-Recipients")
    return None


# 4. Automatic and bulk mail by its headers


def auto_submitted(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """RFC 3834 §5: answer only `Auto-Submitted: no` (or none); `auto-replied`, `auto-generated`,
    `auto-notified` and any extension (Zimbra's `vacation`) are automatic."""
    value = _header(mail, "Auto-Submitted").lower()
    keyword = re.split(r"[\s;(]", value, maxsplit=1)[0]
    if keyword and keyword != "no":
        return Verdict(AUTO_REPLY, f"Auto-Submitted: {keyword[:40]}")
    return None


def autoreply_header(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """Pre-RFC 3834 markers: `X-Autoreply` (Chatwoot, many webmail vacations), `X-Autorespond`,
    `X-Autoresponder`, FirstClass `X-FC-MachineGenerated` (RT) — unless set to no/false/0."""
    for name in _AUTOREPLY_HEADERS:
        if _header(mail, name).lower() not in _NOT_SET:
            return Verdict(AUTO_REPLY, name)
    return None


def exchange_out_of_office(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """Exchange OOF. `X-Auto-Response-Suppress` is only a request (sisimai #491) and alone proves
    nothing, so it counts with Zammad's `X-MS-Exchange-Inbox-Rules-Loop` hint (when it asks to
    suppress `All`/`OOF`) or with an auto-reply subject."""
    suppress = _header(mail, "X-Auto-Response-Suppress").lower()
    if not suppress:
        return None
    rules_loop = bool(_header(mail, "X-MS-Exchange-Inbox-Rules-Loop"))
    if (rules_loop and ("all" in suppress or "oof" in suppress)) or is_auto_reply_subject(
        mail.subject
    ):
        return Verdict(AUTO_REPLY, "Exchange out-of-office")
    return None


def precedence(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """`Precedence: bulk|junk|list` (RFC 2076, de-facto; RT, Zammad) is bulk mail;
    `Precedence: auto_reply` (django-helpdesk, some vacation programs) an automatic answer."""
    value = _header(mail, "Precedence").lower().replace("-", "_")
    kind = _PRECEDENCE.get(value)
    return Verdict(kind, f"Precedence: {value}") if kind else None


def list_headers(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """Mailing lists and newsletters: `List-Id` (RFC 2919), `List-Unsubscribe`/`List-Post`
    (RFC 2369, RFC 8058). Zammad and django-helpdesk never auto-answer them either."""
    for name in _LIST_HEADERS:
        if name.lower() in mail.headers:
            return Verdict(BULK, name)
    return None


def list_envelope_sender(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """List servers that add no RFC 2369/2919 headers still bounce to the list: LISTSERV and
    Majordomo use `owner-<list>@` as the envelope sender, Mailman `<list>-bounces@`."""
    if _LIST_ENVELOPE.match(_local_part(mail.return_path)):
        return Verdict(BULK, "list envelope sender")
    return None


# 5. Our own mail


def own_loop_header(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """Our `X-Touchpoint-Loop: <token>` (or `X-Loop: <token>`, the procmail convention; RT's
    `X-RT-Loop-Prevention` works the same): a mail of ours that came back unchanged, through a
    forward or a redirect."""
    values = {_header(mail, name).casefold() for name in LOOP_HEADERS}
    if ours.loop_token and ours.loop_token in values:
        return Verdict(LOOP, "our own loop header")
    return None


def own_sender(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """Mail from one of our own addresses is never a customer (notes §10 step 4)."""
    sender = (mail.from_address or "").strip().lower()
    if sender and sender in ours.addresses:
        return Verdict(LOOP, "sent from our own address")
    return None


def own_message_id(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """Zammad: a Message-ID minted in our own domain on a mail that did not come from us is our
    mail reflected back (or a forgery of it)."""
    domain = domain_of(mail.message_id or "")
    if domain and any(domain == own or domain.endswith(f".{own}") for own in ours.domains):
        return Verdict(LOOP, "Message-ID of our own domain")
    return None


# 6. Subject heuristics, last because they are guesses


def auto_reply_subject(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """Autoresponders that set no header at all (notes §10: the Polish Outlook reply in
    php-mime-mail-parser `issue212`, Russian "Автоматический ответ:", "[AUTO GENERATED]")."""
    if is_auto_reply_subject(mail.subject):
        return Verdict(AUTO_REPLY, "localised auto-reply subject")
    return None


def bounce_subject(mail: ParsedMail, ours: Ours) -> Verdict | None:
    """Plain-text bounces from servers without DSN support (qmail, Yahoo, old Exim): a bounce
    subject from a daemon-like sender (or none), or together with a report."""
    if is_bounce_subject(mail.subject) and (_daemon_like(mail) or _report_type(mail)):
        return Verdict(BOUNCE, "bounce subject")
    return None


CHECKS: tuple[Check, ...] = (
    null_return_path,
    delivery_status_notification,
    other_report,
    mailer_daemon_sender,
    failed_recipients_header,
    auto_submitted,
    autoreply_header,
    exchange_out_of_office,
    precedence,
    list_headers,
    list_envelope_sender,
    own_loop_header,
    own_sender,
    own_message_id,
    auto_reply_subject,
    bounce_subject,
)


def _report_kind(mail: ParsedMail) -> MailKind | None:
    """BOUNCE for a delivery status report, REPORT for any other report, None otherwise."""
    report_type = _report_type(mail)
    if mail.report is not None or report_type in ("delivery-status", "global-delivery-status"):
        return BOUNCE
    return REPORT if report_type else None


def _report_type(mail: ParsedMail) -> str | None:
    """The RFC 6522 report type of a `multipart/report` (or a bare report part), else None."""
    content_type = _header(mail, "Content-Type") or mail.content_type
    medias = {_media(mail.content_type), _media(content_type)}
    if "multipart/report" in medias:
        match = _REPORT_TYPE.search(content_type) or _REPORT_TYPE.search(mail.content_type)
        return match.group(1).lower() if match else "unknown"
    found = [_REPORT_MEDIA[media] for media in medias if media in _REPORT_MEDIA]
    return found[0] if found else None


def _bounce_or_auto(mail: ParsedMail) -> MailKind:
    """For a null-sender mail that is not a report: a bounce if anything says so."""
    if _from_daemon(mail) or _header(mail, "X-Failed-Recipients"):
        return BOUNCE
    return BOUNCE if is_bounce_subject(mail.subject) and _daemon_like(mail) else AUTO_REPLY


def _from_daemon(mail: ParsedMail) -> bool:
    return not _DAEMONS.isdisjoint((_local_part(mail.from_address), _local_part(mail.return_path)))


def _daemon_like(mail: ParsedMail) -> bool:
    """No sender at all, a MAILER-DAEMON/postmaster address, or a mail-system display name."""
    if not mail.from_address:
        return True
    return _local_part(mail.from_address) in _DAEMONS or bool(
        _DAEMON_LIKE_NAME.search(f"{mail.from_name} {mail.from_address}")
    )


def _header(mail: ParsedMail, name: str) -> str:
    return (mail.headers.get(name.lower()) or "").strip()


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _local_part(address: str | None) -> str:
    local, at, _ = (address or "").strip().strip("<>").rpartition("@")
    return local.lower() if at else ""
