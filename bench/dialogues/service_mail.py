"""Customers with something gone wrong, by mail: a complaint, then "any news?" in the thread.

A case (`bench/data/lead_dialogues/service-mail.toml`) is one thread: the complaint as the
first mail, and the follow-up as the customer's mail client answers the bot's reply, quoting
it. What counts: the first reply gives the number of a ticket opened for the complaint; the
follow-up lands on that ticket (the reply names it, and no ticket is opened for it); tickets
opened beyond the complaint's one are extra.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from bench.dialogues.mailer import MailClient, bot_mail, parse_raw, readable
from bench.dialogues.profiles import MAIL_QUOTES, MailStyle, Profile, ProfileError, Utterance
from bench.dialogues.stage import Line, Stage

FILE = "service-mail.toml"
QUOTES = tuple(quote for quote in MAIL_QUOTES if quote != "inline")  # no form to answer
FIELDS = ("key", "lang", "name", "email", "subject", "quote", "complaint", "followup")


@dataclass(frozen=True, slots=True)
class Case:
    key: str
    lang: str
    name: str
    email: str
    subject: str
    quote: str
    complaint: str
    followup: str

    @property
    def profile(self) -> Profile:
        """The customer as a mail client needs it (who writes, how it quotes)."""
        mail = MailStyle(subject=self.subject, quote=self.quote)
        return Profile(
            self.key, self.lang, "email", "plain", self.complaint, name=self.name,
            email=self.email, wants_lead=False, mail=mail,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    numbered: bool  # the first reply names the ticket the complaint opened
    followed: bool  # the follow-up's reply names that ticket, and it opened none
    extra: int  # tickets opened beyond the complaint's one
    transcript: tuple[Line, ...]
    problem: str = ""

    @property
    def why(self) -> tuple[str, ...]:
        reasons = [self.problem] if self.problem else []
        if not self.numbered:
            reasons.append("no ticket number in the first reply")
        if not self.followed:
            reasons.append("the follow-up did not land on the ticket")
        if self.extra:
            reasons.append(f"{self.extra} extra ticket(s)")
        return tuple(reasons)


def load_cases(folder: Path) -> list[Case]:
    path = folder / FILE
    if not path.exists():
        return []
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("case", [])
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ProfileError(f"{path}: {error}") from None
    return [_case(entry, path) for entry in entries]


def _case(entry: dict[str, Any], path: Path) -> Case:
    where = f"{path.name}: case {entry.get('key', '?')!r}"
    if set(entry) != set(FIELDS):
        raise ProfileError(f"{where}: needs exactly the keys {', '.join(FIELDS)}")
    case = Case(**entry)
    if case.lang not in ("en", "ru") or case.quote not in QUOTES:
        raise ProfileError(f"{where}: lang en/ru, quote one of {QUOTES}")
    return case


async def play(stage: Stage, case: Case) -> Outcome:
    profile = case.profile
    assert profile.mail is not None
    client = MailClient(profile, profile.mail)
    before = {ticket.id for ticket in await stage.bot.tickets()}
    transcript: list[Line] = []
    raw = client.first(Utterance(case.complaint), stage.bot.clock.now)
    mails, texts, problem = await _exchange(stage, raw, client.sent, transcript)
    first = [t for t in await stage.bot.tickets() if t.id not in before]
    number = f"#{first[0].number}" if first else None
    numbered = number is not None and any(number in text for text in texts)
    if problem or not mails:
        return Outcome(case, numbered, False, max(len(first) - 1, 0), tuple(transcript), problem)
    stage.bot.clock.advance(hours=26)
    raw = client.reply(Utterance(case.followup), mails[-1], stage.bot.clock.now)
    _mails, texts, problem = await _exchange(stage, raw, client.sent, transcript)
    opened = [t for t in await stage.bot.tickets() if t.id not in before]
    followed = number is not None and len(opened) == len(first)
    followed = followed and any(str(number) in text for text in texts)
    extra = len(opened) - min(len(first), 1)
    return Outcome(case, numbered, followed, extra, tuple(transcript), problem)


async def _exchange(
    stage: Stage, raw: bytes, uid: int, transcript: list[Line]
) -> tuple[list[EmailMessage], list[str], str]:
    """One mail in, the bot's mails back (and their texts), both written to the transcript."""
    transcript.append(Line("prospect", readable(parse_raw(raw))))
    replies, problem = await stage.mail_in(raw, uid)
    now = stage.bot.clock.now
    mails = [bot_mail(reply, stage.ours.loop_token, now) for reply in replies]
    transcript += [Line("bot", readable(mail)) for mail in mails]
    return mails, [reply.text for reply in replies], problem


def report(outcomes: Sequence[Outcome]) -> None:
    print(f"\nservice by mail: {len(outcomes)} threads (a complaint, then a follow-up in it)")
    print(f"{'':14}{'threads':>8}{'number in 1st reply':>21}{'follow-up on it':>17}{'extra':>7}")
    for lang in sorted({outcome.case.lang for outcome in outcomes}):
        mine = [outcome for outcome in outcomes if outcome.case.lang == lang]
        print(_row(lang, mine))
    print(_row("all", outcomes))
    for outcome in outcomes:
        if outcome.why:
            print(f"  {outcome.case.key:24} " + "; ".join(outcome.why))


def _row(label: str, outcomes: Sequence[Outcome]) -> str:
    count = len(outcomes)
    numbered = sum(outcome.numbered for outcome in outcomes)
    followed = sum(outcome.followed for outcome in outcomes)
    extra = sum(outcome.extra for outcome in outcomes)
    return f"{label:14}{count:>8}{f'{numbered}/{count}':>21}{f'{followed}/{count}':>17}{extra:>7}"


def show(outcome: Outcome) -> None:
    print(f"\n== {outcome.case.key}")
    for line in outcome.transcript:
        marker = "customer>" if line.who == "prospect" else "     bot>"
        text = line.text.replace("\n", "\n" + " " * 10)
        print(f"{marker} {text}")
