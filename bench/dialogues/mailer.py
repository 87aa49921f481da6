"""Mail as it travels: the bot's reply composed as the email channel sends it, and the
prospect's mails as raw RFC 822 bytes from a mail client that answers it.

A reply carries In-Reply-To (the bot's Message-ID) and References (the bot's References and
its Message-ID), a `Re:` subject, and the bot's mail quoted the way the prospect's client
does: Gmail's "On … wrote:" with "> " lines below the answer or above it, Outlook's
"-----Original Message-----" block or its "From:" block under a rule, or "> " lines with the
answers written under each question. Dates in attributions are in the prospect's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, formataddr, parsedate_to_datetime

from bench.dialogues.profiles import MailStyle, Profile, Utterance
from bot.model import OutboundMessage
from channels.email.compose import compose_reply
from channels.email.subjects import first_subject, reply_subject

BOT_ADDRESS = "sales@touchpoint.example"
BOT_FROM = f"Touchpoint Sales <{BOT_ADDRESS}>"

EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")  # fmt: skip
RU_DAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
RU_DAYS_SHORT = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
RU_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
             "сентября", "октября", "ноября", "декабря")  # fmt: skip
RU_MONTHS_SHORT = ("янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.",
                   "окт.", "нояб.", "дек.")  # fmt: skip


def bot_mail(message: OutboundMessage, loop_token: str, now: datetime) -> EmailMessage:
    """The bot's reply as the email channel composes it (`channels/email/adapter.py`)."""
    subject = (reply_subject if message.in_reply_to else first_subject)(
        message.subject, message.ticket
    )
    return compose_reply(
        text=message.text,
        options=message.options,
        sender=BOT_FROM,
        recipient=message.address.value,
        subject=subject,
        message_id=message.header_id or "<missing@tp.touchpoint.example>",
        in_reply_to=message.in_reply_to,
        references=message.references,
        auto_submitted=message.automatic,
        loop_token=loop_token,
        language=message.language,
        now=now,
    )


def plain_body(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    return str(part.get_content()) if isinstance(part, EmailMessage) else ""


def parse_raw(raw: bytes) -> EmailMessage:
    mail = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(mail, EmailMessage)
    return mail


def readable(mail: EmailMessage) -> str:
    """A mail as a transcript shows it: the threading headers and the plain text."""
    heads = [f"{name}: {mail[name]}" for name in ("Subject", "In-Reply-To") if mail[name]]
    return "\n".join([*heads, "", plain_body(mail).rstrip()])


@dataclass
class MailClient:
    """One prospect's mailbox: numbers its mails and writes them as its client would."""

    profile: Profile
    style: MailStyle
    sent: int = 0
    address: str = field(init=False)
    _domain: str = field(init=False)

    def __post_init__(self) -> None:
        self.address = self.style.sender or self.profile.email
        self._domain = self.address.rpartition("@")[2]

    def first(self, utterance: Utterance, now: datetime) -> bytes:
        return self._raw(utterance.whole, self.style.subject, now)

    def reply(self, utterance: Utterance, theirs: EmailMessage, now: datetime) -> bytes:
        references = " ".join([*str(theirs.get("References", "")).split(), theirs["Message-ID"]])
        body = self._quoting(utterance, theirs)
        subject = self._reply_subject(str(theirs["Subject"]))
        return self._raw(body, subject, now, in_reply_to=theirs["Message-ID"], refs=references)

    def _raw(
        self, body: str, subject: str, now: datetime, *, in_reply_to: str = "", refs: str = ""
    ) -> bytes:
        self.sent += 1
        mail = EmailMessage(policy=policy.default)
        mail["From"] = formataddr((self.profile.name, self.address))
        mail["To"] = BOT_FROM
        mail["Subject"] = subject
        mail["Date"] = format_datetime(now)
        mail["Message-ID"] = f"<{self.profile.key}.{self.sent}@{self._domain}>"
        if in_reply_to:
            mail["In-Reply-To"] = in_reply_to
            mail["References"] = refs
        mail.set_content(body)
        return mail.as_bytes()

    def _reply_subject(self, subject: str) -> str:
        prefix = "RE: " if self.style.quote.startswith("outlook") else "Re: "
        bare = subject[3:].lstrip() if subject[:3].casefold() == "re:" else subject
        return prefix + bare

    def _quoting(self, utterance: Utterance, theirs: EmailMessage) -> str:
        quoted = plain_body(theirs).rstrip()
        quote = self.style.quote
        if quote == "inline" and utterance.parts:
            return _inline(utterance, quoted, self._attribution(theirs))
        if quote in ("gmail_above", "inline"):
            return f"{self._attribution(theirs)}\n{_angled(quoted)}\n\n{utterance.whole}"
        if quote == "gmail":
            return f"{utterance.whole}\n\n{self._attribution(theirs)}\n{_angled(quoted)}\n"
        if quote.startswith("outlook"):
            return f"{utterance.whole}\n\n{self._outlook_block(theirs)}\n\n{quoted}\n"
        return utterance.whole

    def _attribution(self, theirs: EmailMessage) -> str:
        when = _date_of(theirs)
        if self.profile.lang == "ru":
            day = f"{RU_DAYS_SHORT[when.weekday()]}, {when.day} {RU_MONTHS_SHORT[when.month - 1]}"
            return f"{day} {when.year} г. в {when:%H:%M}, {BOT_FROM}:"
        hour = when.strftime("%I:%M %p").lstrip("0")
        day = f"{EN_DAYS[when.weekday()][:3]}, {EN_MONTHS[when.month - 1][:3]} {when.day}"
        return f"On {day}, {when.year} at {hour} {BOT_FROM} wrote:"

    def _outlook_block(self, theirs: EmailMessage) -> str:
        when = _date_of(theirs)
        to = formataddr((self.profile.name, self.address))
        if self.profile.lang == "ru":
            sent = f"{RU_DAYS[when.weekday()]}, {when.day} {RU_MONTHS[when.month - 1]} {when.year} г. {when:%H:%M}"  # noqa: E501
            names = ("От", "Отправлено", "Кому", "Тема")
            head = "-----Исходное сообщение-----"
        else:
            hour = when.strftime("%I:%M %p").lstrip("0")
            sent = f"{EN_DAYS[when.weekday()]}, {EN_MONTHS[when.month - 1]} {when.day}, {when.year} {hour}"  # noqa: E501
            names = ("From", "Sent", "To", "Subject")
            head = "-----Original Message-----"
        if self.style.quote == "outlook_from":
            head = "_" * 32
        values = (BOT_FROM, sent, to, str(theirs["Subject"]))
        return "\n".join(
            [head, *(f"{name}: {value}" for name, value in zip(names, values, strict=True))]
        )


def _inline(utterance: Utterance, quoted: str, attribution: str) -> str:
    """The bot's mail quoted line by line, each numbered question followed by its answer."""
    answers = dict(enumerate((value for _, value in utterance.parts), start=1))
    lines = [attribution]
    for line in quoted.splitlines():
        lines.append(f"> {line}".rstrip())
        number = line.split(".", 1)[0].strip()
        if number.isdigit() and int(number) in answers:
            lines += ["", answers[int(number)], ""]
    signature = f"\n\n{utterance.signature}" if utterance.signature else ""
    return "\n".join(lines) + signature


def _angled(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())


def _date_of(mail: EmailMessage) -> datetime:
    return parsedate_to_datetime(str(mail["Date"]))
