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
cancels served right, replies in the other language; then one line per failed prospect.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bench.dialogues.figures import CHECKED, Figures, Verdict, groups, judge, median, p90
from bench.dialogues.phrases import Phrases
from bench.dialogues.profiles import Profile, load_profiles
from bench.dialogues.stage import Stage

DATA = Path(__file__).resolve().parent / "data" / "lead_dialogues"
COLUMNS = (
    f"{'':14}{'buyers':>7}{'leads':>8}{'name':>8}{'contact':>8}{'need':>8}{'company':>8}"
    f"{'p50':>6}{'p90':>5}{'asked again':>12}{'no-lead ok':>11}{'other lang':>11}"
)


async def play_all(profiles: Sequence[Profile], phrases: Phrases) -> list[Verdict]:
    async with Stage.open(phrases) as stage:
        return [judge(await stage.play(profile)) for profile in profiles]


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
    print("\nfailed prospects:")
    for verdict in verdicts:
        if verdict.why:
            profile = verdict.profile
            print(f"  {profile.key:24} {profile.channel:8} " + "; ".join(verdict.why))
    print("\nasked for what was already given:")
    for verdict in verdicts:
        if repeated := verdict.played.prospect.repeated:
            print(f"  {verdict.profile.key:24} {', '.join(repeated)}")


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
    verdicts = asyncio.run(play_all(profiles, phrases))
    report(verdicts, time.perf_counter() - started)
    for verdict in verdicts:
        if verdict.profile.key in args.show:
            show(verdict)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lead_dialogues",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=DATA, help="prospects and answers")
    parser.add_argument("--only", default="", help="play the prospects whose key starts so")
    parser.add_argument(
        "--show", action="append", default=[], help="print this prospect's dialogue (repeatable)"
    )
    return parser


if __name__ == "__main__":
    main()
