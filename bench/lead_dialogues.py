"""Simulated prospects talk to the real bot until a lead is saved, refused or given up.

    python -m bench.lead_dialogues [--data FOLDER] [--only PREFIX] [--show KEY]

Each prospect of `bench/data/lead_dialogues/prospects-*.toml` has a profile (name, company or
none, email or phone, need, budget, timeline, language, style) and a policy: it reads the bot's
last reply, recognises the question by the catalog's texts, and answers from its profile in its
style (`answers.toml`), with its scripted moves (questions of its own, corrections, refusals,
/cancel); it gives up after 12 messages. Chat prospects write in the terminal channel; mail
prospects send raw RFC 822 mails through the email channel's reading and answer the bot's mail
as a mail client does, quoting it.

Printed per language and channel: leads completed (of the prospects who want one), fields
right (name, contact, need, and company), median and p90 prospect messages until the lead was
saved, how often the bot asked for something the prospect had already stated, refusals and
cancels served right, replies in the other language; per language for the mail prospects,
the mails a completed lead took (median and most), how many buyers' conversations saved
exactly one lead (and the most one saved), and the tickets opened in these lead conversations
(there should be none); then one line per failed prospect.

Then the service threads of `service-mail.toml` (`bench/dialogues/service_mail.py`): a
customer's complaint by mail and a follow-up in its thread. Printed per language: complaints
whose first reply gave the number of the ticket opened for them, follow-ups that landed on
that ticket, and the tickets opened beyond the complaint's one.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bench.dialogues import service_mail
from bench.dialogues.figures import (
    CHECKED,
    Figures,
    Verdict,
    groups,
    judge,
    mail_groups,
    median,
    p90,
)
from bench.dialogues.phrases import Phrases
from bench.dialogues.profiles import Profile, load_profiles
from bench.dialogues.service_mail import Case, Outcome
from bench.dialogues.stage import Stage

DATA = Path(__file__).resolve().parent / "data" / "lead_dialogues"
COLUMNS = (
    f"{'':14}{'buyers':>7}{'leads':>8}{'name':>8}{'contact':>8}{'need':>8}{'company':>8}"
    f"{'p50':>6}{'p90':>5}{'asked again':>12}{'no-lead ok':>11}{'other lang':>11}"
)


MAIL_TARGET = 2  # mails from the prospect until the lead is saved
MAIL_COLUMNS = (
    f"{'by mail':14}{'buyers':>7}{'leads':>8}{'mails per lead p50':>20}{'max':>5}"
    f"{'one lead per conversation':>27}{'most':>6}{'tickets opened':>16}"
)


async def play_all(
    profiles: Sequence[Profile], cases: Sequence[Case], phrases: Phrases
) -> tuple[list[Verdict], list[Outcome]]:
    async with Stage.open(phrases) as stage:
        verdicts = [judge(await stage.play(profile)) for profile in profiles]
        outcomes = [await service_mail.play(stage, case) for case in cases]
        return verdicts, outcomes


def row(figures: Figures) -> str:
    buyers = len(figures.buyers)
    fields = "".join(f"{f'{figures.right(name)}/{buyers}':>8}" for name in CHECKED)
    middle, high = median(figures.turns), p90(figures.turns)
    refusers = figures.refusers
    served = sum(not v.why for v in refusers)
    return (
        f"{figures.label:14}{buyers:>7}{f'{figures.completed}/{buyers}':>8}{fields}"
        f"{_number(middle):>6}{_number(high):>5}{figures.repeated:>12}"
        f"{f'{served}/{len(refusers)}':>11}{figures.wrong_language:>11}"
    )


def mail_row(figures: Figures) -> str:
    """Mails per completed lead, leads per conversation, tickets opened: one language's mail."""
    buyers = len(figures.buyers)
    turns, per_conversation = figures.turns, figures.leads_per_conversation
    single = sum(count == 1 for count in per_conversation)
    return (
        f"{figures.label:14}{buyers:>7}{f'{figures.completed}/{buyers}':>8}"
        f"{_number(median(turns)):>20}{_number(max(turns, default=None)):>5}"
        f"{f'{single}/{buyers}':>27}{max(per_conversation, default=0):>6}{figures.tickets:>16}"
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def report(verdicts: Sequence[Verdict], seconds: float) -> None:
    langs = ", ".join(
        f"{lang} {sum(v.profile.lang == lang for v in verdicts)}"
        for lang in sorted({v.profile.lang for v in verdicts})
    )
    mailed = sum(v.profile.channel == "email" for v in verdicts)
    print(
        f"lead dialogues, {date.today()}: {len(verdicts)} prospects ({langs}; {mailed} by mail), "
        f"played in {seconds:.1f} s"
    )
    print(COLUMNS)
    for figures in groups(verdicts):
        print(row(figures))
    if mailed:
        print("\n" + MAIL_COLUMNS)
        for figures in mail_groups(verdicts):
            print(mail_row(figures))
    print("\nfailed prospects:")
    for verdict in verdicts:
        if verdict.why:
            profile = verdict.profile
            print(f"  {profile.key:24} {profile.channel:8} " + "; ".join(verdict.why))
    print("\nby mail, over the targets (more than two mails, leads, tickets):")
    for verdict in verdicts:
        if line := _over_mail_targets(verdict):
            print(f"  {verdict.profile.key:24} {line}")
    print("\nasked for what was already given:")
    for verdict in verdicts:
        if repeated := verdict.played.prospect.repeated:
            print(f"  {verdict.profile.key:24} {', '.join(repeated)}")


def _over_mail_targets(verdict: Verdict) -> str:
    played = verdict.played
    if verdict.profile.channel != "email":
        return ""
    over = []
    if verdict.completed and played.prospect.turns > MAIL_TARGET:
        over.append(f"{played.prospect.turns} mails")
    if len(played.leads) > 1:
        over.append(f"{len(played.leads)} leads")
    if played.tickets:
        over.append(f"{played.tickets} ticket(s) opened")
    return "; ".join(over)


def show(verdict: Verdict) -> None:
    print(f"\n== {verdict.profile.key} ({verdict.played.prospect.ended})")
    for line in verdict.played.transcript:
        marker = "prospect>" if line.who == "prospect" else "     bot>"
        text = line.text.replace("\n", "\n" + " " * 10)
        print(f"{marker} {text}")
    print(f"   lead: {verdict.played.lead}")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    profiles = [p for p in load_profiles(args.data) if p.key.startswith(args.only)]
    phrases = Phrases.load(args.data / "answers.toml")
    started = time.perf_counter()
    cases = [c for c in service_mail.load_cases(args.data) if c.key.startswith(args.only)]
    verdicts, outcomes = asyncio.run(play_all(profiles, cases, phrases))
    report(verdicts, time.perf_counter() - started)
    if outcomes:
        service_mail.report(outcomes)
    for verdict in verdicts:
        if verdict.profile.key in args.show:
            show(verdict)
    for outcome in outcomes:
        if outcome.case.key in args.show:
            service_mail.show(outcome)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lead_dialogues",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=DATA, help="prospects and answers")
    parser.add_argument(
        "--only", default="", help="play the prospects and service threads whose key starts so"
    )
    parser.add_argument(
        "--show", action="append", default=[], help="print this prospect's dialogue (repeatable)"
    )
    return parser


if __name__ == "__main__":
    main()
