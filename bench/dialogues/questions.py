"""What the bot said, recognised by the catalog's own texts (`replies.toml`), in either language.

A reply text is matched against the catalog's templates (placeholders match anything), so the
simulator follows the catalog as operators edit it and never depends on its English. A mail
joins a turn's replies with blank lines; it is split back into them. The mail form's numbered
questions are mapped back to the lead fields they ask for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.texts import LANGUAGES, Texts


class Said(StrEnum):
    ASK = "ask"  # one lead question asked (it may ask for two fields: budget and date)
    FORM = "form"  # the mail form: several fields asked at once
    CONFIRM = "confirm"  # the summary, or "what would you like to change?"
    SAVED = "saved"
    CANCELLED = "cancelled"
    HANDOFF = "handoff"
    MENU = "menu"  # the request was not taken: a menu, small talk, "didn't get that"
    SERVICE = "service"  # taken for an existing customer's matter
    NOTE = "note"  # a remark that comes with a question (intro, "that's not an email")
    UNKNOWN = "unknown"


FIELDS = ("need", "name", "company", "contact", "budget", "timeline")
# A question for the email or the phone alone asks for the contact; the catalog may have them
# one day, as it may drop a text: only the texts the catalog has are looked for.
ASK_KEYS: dict[str, tuple[str, ...]] = {f"lead.ask_{name}": (name,) for name in FIELDS} | {
    "lead.ask_email": ("contact",),
    "lead.ask_phone": ("contact",),
    "lead.ask_budget_timeline": ("budget", "timeline"),  # one question for both
    "lead.ask_name_contact": ("name", "contact"),
}
MAIL_QUESTIONS = {f"lead.email_question.{name}": name for name in FIELDS} | {
    "lead.email_question.email": "contact",
    "lead.email_question.phone": "contact",
}
# Handed to people: a hand-off, or, with no rep to take one, the offer to pass a message on.
HANDOFF_KEYS = (
    "requested",
    "after_misses",
    "angry",
    "hot_lead",
    "queued",
    "queued_until",
    "nobody_available",
    "nobody_after_misses",
    "nobody_angry",
)
MENU_KEYS = (
    "greeting",
    "menu",
    "not_understood",
    "help",
    "thanks",
    "bye",
    "empty_message",
    "nothing_to_cancel",
    "unknown_command",
)
SERVICE_KEYS = ("ask_details", "opened", "note_added", "status", "not_found", "none_open")
NOTE_KEYS = (
    "lead.intro",
    "lead.bad_contact",
    "lead.bad_name",
    "lead.too_short",
    "lead.contact_not_own",
    "lead.remark_noted",
    "stale_button",
    "resume",
    "flood.slow_down",
)
KINDS: Mapping[str, Said] = {
    **dict.fromkeys(ASK_KEYS, Said.ASK),
    "lead.email_form": Said.FORM,
    "lead.summary": Said.CONFIRM,
    "lead.which_field": Said.CONFIRM,
    "lead.saved": Said.SAVED,
    "lead.email_saved": Said.SAVED,
    "lead.saved_waiting": Said.SAVED,  # saved while no rep could be told of it
    "lead.email_saved_waiting": Said.SAVED,
    "lead.extended": Said.SAVED,  # added to the contact's open lead
    "lead.email_extended": Said.SAVED,
    "cancelled": Said.CANCELLED,
    **dict.fromkeys((f"handoff.{key}" for key in HANDOFF_KEYS), Said.HANDOFF),
    **dict.fromkeys(MENU_KEYS, Said.MENU),
    **dict.fromkeys((f"service.{key}" for key in SERVICE_KEYS), Said.SERVICE),
    **dict.fromkeys(NOTE_KEYS, Said.NOTE),
}
NUMBERED = re.compile(r"^\s*\d{1,2}\s*[.)]\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Recognised:
    """One reply of the bot: which catalog text it is, in which language, what it asks."""

    key: str
    lang: str
    said: Said
    asks: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class Heard:
    """A turn of the bot as the prospect reads it: its replies and the last options offered."""

    replies: tuple[Recognised, ...]
    options: tuple[str, ...] = ()

    @property
    def last(self) -> Recognised | None:
        """The reply that decides what to answer: the last one the catalog says more of than
        a remark; a text it does not hold only when there is nothing else."""
        for unknown_too in (False, True):
            for reply in reversed(self.replies):
                if reply.said is not Said.NOTE and (unknown_too or reply.said is not Said.UNKNOWN):
                    return reply
        return None


@dataclass(frozen=True, slots=True)
class _Template:
    key: str
    lang: str
    pattern: re.Pattern[str]


@dataclass
class Recogniser:
    texts: Texts
    _templates: list[_Template] = field(init=False)
    _questions: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self._templates = [
            _Template(key, lang, template_pattern(self.texts.get(key, lang)))
            for key in KINDS
            if self.texts.has(key)
            for lang in LANGUAGES
        ]
        self._questions = {
            _squeeze(self.texts.get(key, lang)): name
            for key, name in MAIL_QUESTIONS.items()
            if self.texts.has(key)
            for lang in LANGUAGES
        }

    def hear(self, texts: Sequence[str], options: Sequence[str], prefer: str) -> Heard:
        replies = [reply for text in texts for reply in self.recognise(text, prefer)]
        return Heard(tuple(replies), tuple(options))

    def recognise(self, text: str, prefer: str) -> list[Recognised]:
        """The catalog texts `text` is made of (a mail holds a turn's replies, blank-line
        separated); a part no template matches is UNKNOWN."""
        chunks = text.strip().split("\n\n")
        found: list[Recognised] = []
        start = 0
        while start < len(chunks):
            end, recognised = self._longest(chunks, start, prefer)
            found.append(recognised)
            start = end
        return found

    def label_of(self, options: Iterable[str], key: str) -> tuple[int, str] | None:
        """The (1-based number, label) of the option whose label is the catalog text `key`."""
        if not self.texts.has(key):
            return None
        labels = {_squeeze(self.texts.get(key, lang)) for lang in LANGUAGES}
        return next(
            ((n, label) for n, label in enumerate(options, 1) if _squeeze(label) in labels), None
        )

    def _longest(self, chunks: list[str], start: int, prefer: str) -> tuple[int, Recognised]:
        for end in range(len(chunks), start, -1):
            text = "\n\n".join(chunks[start:end])
            if recognised := self._match(text, prefer):
                return end, recognised
        return start + 1, Recognised("?", "?", Said.UNKNOWN, text=chunks[start])

    def _match(self, text: str, prefer: str) -> Recognised | None:
        ordered = sorted(self._templates, key=lambda template: template.lang != prefer)
        for template in ordered:
            if match := template.pattern.fullmatch(text.strip()):
                return Recognised(
                    template.key,
                    template.lang,
                    KINDS[template.key],
                    self._asks(template.key, match),
                    text,
                )
        return None

    def _asks(self, key: str, match: re.Match[str]) -> tuple[str, ...]:
        if key in ASK_KEYS:
            return ASK_KEYS[key]
        if key == "lead.email_form":
            questions = NUMBERED.findall(match.group("questions"))
            return tuple(self._questions.get(_squeeze(q), "?") for q in questions)
        return ()


def template_pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching `template` with its `{placeholders}` filled in anyhow."""
    parts = re.split(r"\{(\w+)\}", template)
    pattern, seen = "", set()
    for index, part in enumerate(parts):
        if index % 2 == 0:
            pattern += re.escape(part)
        elif part in seen:
            pattern += f"(?P={part})"
        else:
            seen.add(part)
            pattern += f"(?P<{part}>.*?)"
    return re.compile(pattern, re.DOTALL)


def _squeeze(text: str) -> str:
    return " ".join(text.split()).casefold()
