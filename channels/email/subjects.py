"""Subjects for threading and for replies: our ticket tag, `Re:` without stacking.

Our tag is `[#1042]`. It is found anywhere in a subject (clients and people move it around), but
only with its brackets: a bare `#1042` is an order number as often as it is ours. A tag is a
hint, not proof: the threading code attaches by tag only when the sender already takes part in
that conversation (notes §8).
"""

from __future__ import annotations

import re
import unicodedata

MAX_SUBJECT = 200  # characters of a reply subject, `Re: [#N] ` included
NO_SUBJECT = "(no subject)"

_TAG = re.compile(r"\[\s*#\s*(\d{1,9})\s*\]")
# Reply and forward prefixes in the languages our customers' clients use, each optionally
# counted (`Re[2]:`, `Re(3):`, `Re^2:`), with any spacing before the colon (`RE :`, `Re：`).
_PREFIX = re.compile(
    r"""^\s*(?:
        re|fwd?|aw|wg|sv|vs|antw|tr|odp|pd|rif|enc|
        ответ|отв|пересл|переслано
    )\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]""",
    re.IGNORECASE | re.VERBOSE,
)
# Control characters (C0, DEL, C1), Unicode line/paragraph separators and bidi overrides.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")
_JOINER = re.compile(r"(?<=\w)[-_\u2010\u2011](?=\w)")


def ticket_tag(subject: str) -> int | None:
    """The ticket number of the first `[#N]` tag in `subject`, or None."""
    match = _TAG.search(subject)
    if match is None:
        return None
    number = int(match.group(1))
    return number or None


def normalise_subject(subject: str) -> str:
    """The subject as compared for threading: no reply/forward prefixes (however many and
    however nested with tags), no ticket tags, single spaces, case-folded."""
    return unicodedata.normalize("NFC", strip_prefixes(subject)).casefold()


def strip_prefixes(subject: str) -> str:
    """`subject` without leading `Re:`/`Fwd:`/`Ответ:`… and without any `[#N]` tag, case kept."""
    text = clean_header_text(_TAG.sub(" ", subject))
    while True:
        shorter = _PREFIX.sub("", text, count=1).strip()
        if shorter == text:
            return text
        text = shorter


def reply_subject(subject: str, ticket_number: int | None) -> str:
    """`Re: [#N] <original>`: one `Re:`, one tag, no control characters, at most MAX_SUBJECT.

    The tag is `ticket_number`, or the tag already in `subject` when there is none; other tags
    are dropped. An empty original gives `Re: [#N]`, or `Re: (no subject)` without a tag.
    """
    number = ticket_number if ticket_number is not None else ticket_tag(subject)
    head = f"Re: [#{number}]" if number is not None else "Re:"
    rest = strip_prefixes(subject)
    if not rest:
        return head if number is not None else f"Re: {NO_SUBJECT}"
    return f"{head} {_cap(rest, MAX_SUBJECT - len(head) - 1)}"


def first_subject(subject: str, ticket_number: int | None) -> str:
    """The subject of a mail that answers none (a card to a rep): `reply_subject` without `Re:`."""
    return reply_subject(subject, ticket_number).removeprefix("Re:").strip()


def is_auto_reply_subject(subject: str) -> bool:
    """Whether the subject is how an autoresponder titles its answer: a localised "Automatic
    reply"/"Out of office" marker at the very start, followed by a colon, a dash or nothing
    (Outlook/Exchange: `Automatic reply: <original>`, `Автоматический ответ: <original>`), or a
    bracketed marker such as `[AUTO GENERATED]` anywhere.

    Never for a subject that starts with a reply or forward prefix: a person answering or
    forwarding something titled "Out of office …" is still a person (`Re: Out of office
    question`); an autoresponder that puts `Re:` first is left to the reply caps.
    """
    text = _comparable(subject)
    if not text or _PREFIX.match(text):
        return False
    return bool(_AUTO_REPLY_START.match(text) or _AUTO_REPLY_BRACKET.search(text))


def is_bounce_subject(subject: str) -> bool:
    """Whether the subject starts like a mail server's non-delivery notice (Postfix, Sendmail,
    Exim, qmail, Gmail, Exchange, Russian and German servers). Only a hint: the chain needs a
    mailer-daemon-like sender or a report with it."""
    text = _comparable(subject)
    return bool(text) and not _PREFIX.match(text) and bool(_BOUNCE_START.match(text))


def clean_header_text(text: str) -> str:
    """Control characters and line breaks become spaces; runs of whitespace become one."""
    return _SPACES.sub(" ", _UNSAFE.sub(" ", text)).strip()


def _comparable(subject: str) -> str:
    """Case-folded, accents dropped, `auto-reply`/`auto_reply` spelt `auto reply`."""
    text = _TAG.sub(" ", clean_header_text(subject))
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return clean_header_text(_JOINER.sub(" ", bare.casefold()))


def _markers(*phrases: str) -> str:
    return "|".join(re.escape(_comparable(phrase)) for phrase in phrases)


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


# Autoresponder subjects, as Outlook/Exchange, Gmail, Yandex, Mail.ru, Zimbra and Sieve vacation
# scripts write them in our customers' languages. Compared with `_comparable` on both sides.
_AUTO_REPLY_PHRASES = (
    # English
    "auto reply", "autoreply", "auto response", "autoresponse", "automatic reply",
    "automatic response", "automated reply", "automated response", "out of office",
    "out of the office", "out of office reply", "out of office autoreply",
    "out of office auto reply", "out of office notification", "vacation reply",
    "vacation auto reply", "vacation response", "away from the office",
    # Russian
    "автоматический ответ", "автоответ", "автоответчик", "нет на месте", "вне офиса",
    "не в офисе", "отпуск", "в отпуске", "я в отпуске", "отсутствую", "отсутствие",
    # Ukrainian
    "автоматична відповідь", "автовідповідь", "поза офісом", "у відпустці",
    # German
    "abwesenheitsnotiz", "automatische antwort", "automatische abwesenheitsnotiz", "abwesend",
    # French
    "réponse automatique", "absence", "absent", "absent du bureau", "message d'absence",
    # Spanish, Italian, Portuguese
    "respuesta automática", "fuera de la oficina", "risposta automatica", "fuori sede",
    "fuori ufficio", "resposta automática", "ausência", "fora do escritório",
    # Polish, Dutch, Czech, Slovak, Scandinavian, Finnish, Hungarian, Turkish, Romanian
    "automatyczna odpowiedź", "odpowiedź automatyczna", "poza biurem", "nieobecność",
    "automatisch antwoord", "afwezig", "automatická odpověď", "automatická odpoveď",
    "automatiskt svar", "automatisk svar", "automaattinen vastaus", "automatikus válasz",
    "otomatik yanıt", "otomatik cevap", "răspuns automat",
    # Chinese, Japanese
    "自动回复", "自動回覆", "自動返信", "自動応答",
)  # fmt: skip
_AUTO_REPLY_BRACKETED = (
    "auto generated", "autogenerated", "auto reply", "autoreply", "auto response",
    "automatic reply", "out of office", "автоответ", "автоматический ответ",
)  # fmt: skip
_BOUNCE_PHRASES = (
    "undelivered mail", "undeliverable", "delivery status notification", "delivery failure",
    "delivery failed", "delivery notification", "mail delivery failed", "mail delivery failure",
    "mail delivery system", "returned mail", "failure notice", "mail system error",
    "non delivery", "nondeliverable", "delayed mail", "warning: could not send message",
    "недоставленное сообщение", "сообщение не доставлено", "письмо не доставлено",
    "не удалось доставить", "ошибка доставки", "unzustellbar", "nicht zustellbar",
    "non remis", "échec de la remise",
)  # fmt: skip

_AUTO_REPLY_START = re.compile(rf"(?:{_markers(*_AUTO_REPLY_PHRASES)})\s*(?:[:：\-–—|]|$)")
_AUTO_REPLY_BRACKET = re.compile(rf"[\[(](?:{_markers(*_AUTO_REPLY_BRACKETED)})[\])]")
_BOUNCE_START = re.compile(rf"(?:{_markers(*_BOUNCE_PHRASES)})")


class EmailThreading:
    """The email channel's threading hints for the core (`bot.model.Threading`)."""

    def ticket_tag(self, subject: str) -> int | None:
        return ticket_tag(subject)

    def topic(self, subject: str) -> str:
        return normalise_subject(subject)
