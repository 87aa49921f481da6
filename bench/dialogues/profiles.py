"""Simulated prospects: who each one is, how they talk, and what they say when.

A profile is data (`bench/data/lead_dialogues/*.toml`). Every text a prospect sends is a
template filled from its own profile — `{name}`, `{company}`, `{email}`, `{phone}`,
`{contact}` (the one of the two they give), `{old_contact}` (a wrong one, corrected later),
`{need}`, `{budget}`, `{timeline}`, `{product}` — so the simulator knows which lead fields a
message states: the placeholders it uses. `{product}` alone ("how much are your chairs?")
does not count as stating the need: the bot may fairly ask what exactly and how many.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIELDS = ("need", "name", "company", "contact", "budget", "timeline")
STYLES = ("terse", "plain", "chatty")
CHANNELS = ("terminal", "email")
MAIL_ANSWERS = ("labelled", "numbered", "prose", "signature")
MAIL_QUOTES = ("none", "gmail", "gmail_above", "outlook", "outlook_from", "inline")
# Where a move can be said: when the bot asks for a field, shows the summary ("confirm"),
# sends its form by mail ("form"), or in answer to whatever the bot says first ("next").
MOVE_POINTS = (*FIELDS, "confirm", "form", "next")
STATES: Mapping[str, str] = {
    "need": "need",
    "name": "name",
    "company": "company",
    "email": "contact",
    "phone": "contact",
    "contact": "contact",
    "old_contact": "contact",
    "budget": "budget",
    "timeline": "timeline",
}


class ProfileError(Exception):
    """A prospect file is missing something or has a wrong value; the message names it."""


@dataclass(frozen=True, slots=True)
class Utterance:
    """One message of a prospect: its text, the lead fields it states, (for a mail form) the
    answer to each field asked, in the order asked, and the mail's signature block."""

    text: str
    states: frozenset[str] = frozenset()
    parts: tuple[tuple[str, str], ...] = ()
    signature: str = ""

    @property
    def whole(self) -> str:
        return f"{self.text}\n\n{self.signature}" if self.signature else self.text


@dataclass(frozen=True, slots=True)
class Move:
    """Something said instead of the answer when the bot reaches `at`: a question of one's
    own, a correction, or (`stop`) a refusal or a cancel, after which no lead is wanted."""

    at: str
    text: str
    stop: bool = False


@dataclass(frozen=True, slots=True)
class MailStyle:
    """How a prospect mails: the first subject, how it answers the bot's form, how its client
    quotes, its signature lines, and the address it writes from when that is not its `email`
    (an old shared mailbox it asks us not to use)."""

    subject: str
    answers: str = "labelled"
    quote: str = "gmail"
    signature: tuple[str, ...] = ()
    sender: str = ""


@dataclass(frozen=True, slots=True)
class Profile:
    key: str
    lang: str
    channel: str
    style: str
    opener: str
    name: str = ""
    company: str = ""
    email: str = ""
    phone: str = ""
    contact: str = "email"
    old_contact: str = ""
    need: str = ""
    product: str = ""
    budget: str = ""
    timeline: str = ""
    wants_lead: bool = True
    answers: Mapping[str, str] = field(default_factory=dict)
    moves: tuple[Move, ...] = ()
    mail: MailStyle | None = None

    @property
    def values(self) -> dict[str, str]:
        """What the placeholders of this prospect's templates stand for."""
        return {
            "name": self.name,
            "company": self.company,
            "email": self.email,
            "phone": self.phone,
            "contact": self.phone if self.contact == "phone" else self.email,
            "old_contact": self.old_contact,
            "need": self.need,
            "product": self.product,
            "budget": self.budget,
            "timeline": self.timeline,
        }


def placeholders(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def render(template: str, values: Mapping[str, str]) -> Utterance:
    """`template` filled from `values`; the fields stated are those of its placeholders."""
    try:
        text = template.format_map(values)
    except KeyError as error:
        raise ProfileError(f"unknown placeholder {error} in {template!r}") from None
    states = frozenset(STATES[name] for name in placeholders(template) if name in STATES)
    return Utterance(text, states)


# --- loading -------------------------------------------------------------------------------


def load_profiles(folder: Path) -> list[Profile]:
    """Every `[[prospect]]` of the `prospects-*.toml` files in `folder`, checked."""
    profiles = [
        _profile(entry, path)
        for path in sorted(folder.glob("prospects-*.toml"))
        for entry in _read(path).get("prospect", [])
    ]
    keys = [profile.key for profile in profiles]
    if repeated := sorted({key for key in keys if keys.count(key) > 1}):
        raise ProfileError(f"{folder}: prospect keys used twice: {', '.join(repeated)}")
    return profiles


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ProfileError(f"{path}: {error}") from None


def _profile(entry: Mapping[str, Any], path: Path) -> Profile:
    where = f"{path.name}: prospect {entry.get('key', '?')!r}"
    known = {name for name in Profile.__dataclass_fields__ if name not in ("answers", "moves")}
    if unknown := set(entry) - known - {"answers", "moves"}:
        raise ProfileError(f"{where}: unknown keys {sorted(unknown)}")
    plain = {name: entry[name] for name in known if name in entry and name != "mail"}
    try:
        profile = Profile(
            **plain,
            answers=dict(entry.get("answers", {})),
            moves=tuple(Move(**move) for move in entry.get("moves", ())),
            mail=MailStyle(**_mail(entry["mail"])) if "mail" in entry else None,
        )
    except TypeError as error:
        raise ProfileError(f"{where}: {error}") from None
    _check(profile, where)
    return profile


def _mail(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {**entry, "signature": tuple(entry.get("signature", ()))}


def _check(profile: Profile, where: str) -> None:
    problems = [
        f"{name} {value!r} is not one of {allowed}"
        for name, value, allowed in (
            ("lang", profile.lang, ("en", "ru")),
            ("channel", profile.channel, CHANNELS),
            ("style", profile.style, STYLES),
            ("contact", profile.contact, ("email", "phone")),
            *(("moves.at", move.at, MOVE_POINTS) for move in profile.moves),
        )
        if value not in allowed
    ]
    if profile.wants_lead and not (profile.name and profile.need and profile.product):
        problems.append("a buyer needs a name, a need and a product word")
    if profile.channel == "email" and (profile.mail is None or not profile.email):
        problems.append("a prospect by email needs an email address and a [mail] table")
    if profile.mail and (
        profile.mail.answers not in MAIL_ANSWERS or profile.mail.quote not in MAIL_QUOTES
    ):
        problems.append(f"mail answers/quote must be one of {MAIL_ANSWERS} / {MAIL_QUOTES}")
    if profile.mail and profile.mail.answers == "signature" and not profile.mail.signature:
        problems.append("answers in the signature need signature lines")
    if problems:
        raise ProfileError(f"{where}: {'; '.join(problems)}")
