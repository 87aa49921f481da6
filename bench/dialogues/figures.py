"""What the dialogues add up to: per prospect a verdict, per language and channel the figures.

A buyer's lead is right field by field: the name as the profile's (case and spaces aside), the
contact (the email, or the phone's digits, the profile gives), the need holding the profile's
product word, and the company (empty for a private person). A prospect who wants no lead (a
refusal, a cancel) is served right when no lead is saved and the bot asks no lead question
after the refusal.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bench.dialogues.profiles import CHANNELS, Profile
from bench.dialogues.stage import Played
from bot.records import Lead

CHECKED = ("name", "contact", "need", "company")


def squeeze(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def national(phone: str | None) -> str:
    """The last ten digits: "+7 912 …", "8 (912) …" and "+79…" are one number."""
    return "".join(char for char in phone or "" if char.isdigit())[-10:]


def field_checks(profile: Profile, lead: Lead) -> dict[str, bool]:
    if profile.contact == "phone":
        contact = bool(national(profile.phone)) and national(lead.phone) == national(profile.phone)
    else:
        contact = squeeze(lead.email) == squeeze(profile.email)
    return {
        "name": squeeze(lead.name) == squeeze(profile.name),
        "contact": contact,
        "need": squeeze(profile.product) in squeeze(lead.need),
        "company": squeeze(lead.company) == squeeze(profile.company),
    }


@dataclass(frozen=True, slots=True)
class Verdict:
    played: Played
    fields: dict[str, bool]  # empty unless a buyer's lead was saved
    why: tuple[str, ...]  # empty when the dialogue went as the prospect wanted

    @property
    def profile(self) -> Profile:
        return self.played.profile

    @property
    def completed(self) -> bool:
        return self.profile.wants_lead and self.played.lead is not None


def judge(played: Played) -> Verdict:
    why = [played.problem] if played.problem else []
    prospect, lead = played.prospect, played.lead
    if not played.profile.wants_lead:
        if lead is not None:
            why.append("a lead was saved although the prospect wanted none")
        if prospect.after_refusal:
            asked = ", ".join(key.removeprefix("lead.") for key in prospect.after_refusal)
            why.append(f"kept asking after the refusal/cancel ({asked})")
        return Verdict(played, {}, tuple(why))
    if lead is None:
        return Verdict(played, {}, (*why, f"no lead: {prospect.ended}"))
    fields = field_checks(played.profile, lead)
    why += [_wrong(name, played.profile, lead) for name, right in fields.items() if not right]
    return Verdict(played, fields, tuple(why))


def _wrong(name: str, profile: Profile, lead: Lead) -> str:
    expected, got = {
        "name": (profile.name, lead.name),
        "contact": (
            (profile.phone, lead.phone)
            if profile.contact == "phone"
            else (profile.email, lead.email)
        ),
        "need": (f"…{profile.product}…", lead.need),
        "company": (profile.company, lead.company),
    }[name]
    return f"{name} {_short(got)} (expected {expected!r})"


def _short(value: str | None, limit: int = 70) -> str:
    if value is None:
        return "missing"
    flat = " ".join(value.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


# --- figures ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    label: str
    verdicts: tuple[Verdict, ...]

    @property
    def buyers(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.profile.wants_lead]

    @property
    def completed(self) -> int:
        return sum(v.completed for v in self.buyers)

    def right(self, name: str) -> int:
        return sum(v.fields.get(name, False) for v in self.buyers)

    @property
    def all_right(self) -> int:
        return sum(bool(v.fields) and all(v.fields[n] for n in CHECKED[:3]) for v in self.buyers)

    @property
    def turns(self) -> list[int]:
        return sorted(v.played.prospect.turns for v in self.buyers if v.completed)

    @property
    def repeated(self) -> int:
        return sum(len(v.played.prospect.repeated) for v in self.verdicts)

    @property
    def wrong_language(self) -> int:
        return sum(v.played.prospect.wrong_language for v in self.verdicts)

    @property
    def refusers(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.profile.wants_lead]

    @property
    def leads_per_conversation(self) -> list[int]:
        """For each buyer, the most leads one conversation of its dialogue saved (0: none)."""
        return [
            max(Counter(lead.conversation_id for lead in v.played.leads).values(), default=0)
            for v in self.buyers
        ]

    @property
    def tickets(self) -> int:
        """Tickets opened in these dialogues: they are about leads, never a service matter."""
        return sum(v.played.tickets for v in self.verdicts)


def median(values: Sequence[int]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: Sequence[int]) -> int | None:
    """The nearest-rank 90th percentile: the smallest value with 90 % of values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]


def mail_groups(verdicts: Sequence[Verdict]) -> list[Figures]:
    """The mail dialogues per language."""
    mailed = [v for v in verdicts if v.profile.channel == "email"]
    return [
        Figures(lang, tuple(v for v in mailed if v.profile.lang == lang))
        for lang in sorted({v.profile.lang for v in mailed})
    ]


def groups(verdicts: Sequence[Verdict]) -> list[Figures]:
    """Per language and channel, per language, and all together."""
    found: list[Figures] = []
    for lang in sorted({v.profile.lang for v in verdicts}):
        mine = tuple(v for v in verdicts if v.profile.lang == lang)
        for channel in CHANNELS:
            found.append(
                Figures(f"{lang} {channel}", tuple(v for v in mine if v.profile.channel == channel))
            )
        found.append(Figures(f"{lang} both", mine))
    found.append(Figures("all", tuple(verdicts)))
    return [figures for figures in found if figures.verdicts]
