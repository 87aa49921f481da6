"""Reply-stripping rates on expected-output pairs, against email-reply-parser, and parse speed.

    python -m bench.email_quotes [--corpus PATH] [--pairs PATH] [--passes N] [--errors] [--runs R]

Two groups of pairs, reported apart:

- the old pairs: ../shared/corpus/email (read, never copied: it stays out of the product);
- the new pairs: bench/data/email_quotes, mails of our own (`NAME.eml`, read by `parse_mail`,
  and `NAME.txt`, the expected reply; see the folder's README).

The old pairs come in sets:

- discourse: `emails/X.txt` against `trimmed/X.txt` (whole expected reply);
- elided: the Russian and Ukrainian discourse mails, whose `elided/` part must not remain;
- crisp, mail-parser-reply, willdurand, zapier: the bodies their upstream tests assert on, with
  the expectation read from those tests (`crisp-email-reply-parser/test.js`...) and, where a test
  asserts nothing about a fixture, our own reading of it (marked "own" below).

"exact" = the reply (or the reply without its detected signature) equals the expected reply after
whitespace normalisation; "contains" = every expected fragment is present and no fragment of the
quoted part is left. The baseline, measured in the same run on the same text, is
email-reply-parser (`EmailReplyParser.parse_reply`, the Python port of GitHub's parser); a new
pair's text is what `parse_mail` reads from its `.eml` (`ParsedMail.text`), given to both. An
empty reply to a text with content is counted apart. Parse speed is `parse_mail` over every
complete message of the corpus against bare `BytesParser(policy=default)` on the same bytes, the
two timed in turn, R rounds (3 by default), printed as median (min–max), the ratio per round
(bench/rounds.py).
"""

from __future__ import annotations

import argparse
import csv
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

from email_reply_parser import EmailReplyParser

from bench.rounds import Spread, add_runs_argument, interleave, ratios
from channels.email.mail import UnparseableMail
from channels.email.parse import parse_mail
from channels.email.quotes import strip_reply

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = PROJECT_ROOT.parent / "shared" / "corpus" / "email"
DEFAULT_PAIRS = PROJECT_ROOT / "bench" / "data" / "email_quotes"
SIGNATURE_MARK = "%% signature"  # in a new pair's expected text: the sender's signature follows
MIN_FORBIDDEN_CHARS = 12  # shorter removed lines ("Thanks", ">") say nothing about leaks

Stripper = Callable[[str], tuple[str, str]]

COMMON = (
    "Fusce bibendum, quam hendrerit sagittis tempor, dui turpis tempus erat, pharetra sodales "
    "ante sem sit amet metus.\nNulla malesuada, orci non vulputate lobortis, massa felis "
    "pharetra ex, convallis consectetur ex libero eget ante.\nNam vel turpis posuere, rhoncus "
    "ligula in, venenatis orci. Duis interdum venenatis ex a rutrum.\nDuis ut libero eu lectus "
    "consequat consequat ut vel lorem. Vestibulum convallis lectus urna,\net mollis ligula "
    "rutrum quis. Fusce sed odio id arcu varius aliquet nec nec nibh."
)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a test upstream (or our reading, `own=True`) says the reply of one body is."""

    path: str
    exact: str | None = None
    required: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    own: bool = False
    signature: str = ""  # the sender's signature under `exact`: right with it or without it


@dataclass(frozen=True, slots=True)
class Case:
    set_name: str
    name: str
    body: str
    expectation: Expectation


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    reply: str
    signature: str
    exact: bool | None  # None when the set states no exact reply for this body
    contains: bool


_CRISP = "crisp-email-reply-parser/fixtures/"
_MPR = "mail-parser-reply/emails/"
_WD = "willdurand-EmailReplyParser/Fixtures/"
_ZAP = "zapier-email-reply-parser/emails/"


def _common(path: str, *forbidden: str) -> Expectation:
    """The upstream tests' usual case: the reply is the shared Latin paragraph."""
    return Expectation(path, COMMON, forbidden=forbidden)


def _exact(path: str, reply: str, *forbidden: str, own: bool = False) -> Expectation:
    return Expectation(path, reply, forbidden=forbidden, own=own)


def _fragments(
    path: str, required: tuple[str, ...], forbidden: tuple[str, ...] = (), own: bool = False
) -> Expectation:
    return Expectation(path, None, required, forbidden, own)


LIBRARY_EXPECTATIONS: dict[str, tuple[Expectation, ...]] = {
    "crisp": (
        _common(_CRISP + "email_german_outlook.txt", "original message content"),
        _common(_CRISP + "email_gmail_split_line_from.txt", "The Hiring Engine"),
        _common(_CRISP + "email_ios_outlook.txt", "Chauffeur - Berlin"),
        _common(_CRISP + "email_ios_outlook_fr.txt", "Etiam non sagittis"),
        _common(_CRISP + "email_msn.txt", "Thanks for your interest"),
        _common(_CRISP + "email_original_message.txt", "revisit the proposal"),
        _common(_CRISP + "email_original_message_2.txt", "revisit the proposal"),
        _common(_CRISP + "email_outlook_split_line_from.txt", "Your company is really cool"),
        _fragments(
            _CRISP + "email_reply_header.txt",
            ("On the other hand",),
            ("On Wed, Dec 9", "Hey, Stranger"),
        ),
        _common(_CRISP + "email_russian.txt", "John Doe <doe@example.com>", "привет"),
        _exact(
            _CRISP + "email_thread.txt",
            "This is new email reply in thread from bellow.",
            "Ok. Thanks.",
            own=True,
        ),
        _common(
            _CRISP + "email_tricky_15_original_message_variations.txt", "original message content"
        ),
        _fragments(
            _CRISP + "email_tricky_17_forward_header.txt",
            ("See the forwarded message",),
            ("forwarded content that should",),
        ),
        _fragments(
            _CRISP + "email_tricky_18_inline_reply.txt",
            (
                "I think option A is great.",
                "Option B has some drawbacks.",
                "Option C is not suitable for our use case.",
            ),
            ("jane@example.com> wrote",),
        ),
        _fragments(
            _CRISP + "email_tricky_19_quote_without_header.txt",
            (
                "I wanted to respond to your points:",
                "My response to the quoted text above.",
                "And my final thoughts.",
            ),
        ),
        _fragments(
            _CRISP + "email_tricky_2_url_with_wrote.txt",
            (
                "Check out this article",
                "https://example.com/blog/on-date-someone-wrote-about-parsing",
                "Best regards,\nJohn",
            ),
        ),
        _fragments(
            _CRISP + "email_tricky_4_from_in_body.txt",
            ("from: john@example.com", "This is the actual message content."),
        ),
        _common(_CRISP + "email_tricky_5_mixed_languages.txt", "Merci pour votre message"),
        _exact(
            _CRISP + "email_tricky_9_nested_quotes.txt",
            "I agree with the points below.",
            "Thanks for forwarding",
        ),
        _exact(
            _CRISP + "email_zoho.txt",
            "What is the best way to clear a Riak bucket of all key, values after\nrunning a test?",
            "Java sucks",
        ),
    ),
    "mail-parser-reply": (
        _exact(
            _MPR + "begins_with_signature.txt",
            "Thank you, Sonya Johnson.\n\nI have sent an invite for 10:30am Monday PDT (today)."
            "  I\nhope you can join.\n\nRegards,\n\nChristopher Edwards",
            "10.30 AM pacific is good for me",
        ),
        _exact(
            _MPR + "email_3_1.txt",
            "First reply.\n\nThis is fairly common; nothing too hard here!",
            "This is my second test reply",
        ),
        _fragments(
            _MPR + "email_pl_1_2.txt", ("Czesc Anno,", "Jak się masz?"), ("Wszystko w porządku",)
        ),
        _exact(
            _MPR + "multi_header.txt",
            "No problem. I’ll just start a new order.",
            "we are unable to add items",
            own=True,
        ),
        _fragments(
            _MPR + "outlook.txt",
            ("What is the best way to clear a Riak bucket", "My number is: +00 0000 000 000"),
            own=True,
        ),
        _fragments(_MPR + "caution2.txt", ("I am trying to place an order",), own=True),
        _fragments(
            _MPR + "forward.txt",
            ("Can I get 1 Arrival Notice without PU# and invoice?",),
            own=True,
        ),
    ),
    "willdurand": (
        _common(_WD + "email_23.txt", "Ticket answered by"),
        _exact(
            _WD + "email_23_1.txt",
            COMMON.replace("\nDuis ut", "\n\nSomething wrote:\nDuis ut"),
            "Ticket answered by",
        ),
        _fragments(_WD + "email_zimbra_free_en.txt", ("Michael Scott",), ("Toby Flenderson",)),
        _fragments(_WD + "email_zimbra_free_fr.txt", ("Michael Scott",), ("Toby Flenderson",)),
        _exact(
            _WD + "email_w10_mail.txt",
            "Great thanks Bort, going for a test now.\nBraxton\n\nSent from Mail for Windows 10",
            "Here is the stuff.",
            own=True,
        ),
    ),
    "zapier": (
        _exact(
            _ZAP + "email_gmail.txt",
            "This is a test for inbox replying to a github message.",
            "That way people can tell",
        ),
        _exact(
            _ZAP + "email_headers_no_delimiter.txt",
            "And another reply!",
            "Subject: Re: New Issue",
            "This is a message.",
        ),
        _fragments(
            _ZAP + "email_partial_quote_header.txt",
            (
                "On your remote host you can run:",
                "telnet 127.0.0.1 52698",
                "This should connect to TextMate",
            ),
            ("On 9 Jan 2014", "I am having an odd issue"),
        ),
    ),
}


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def load_cases(corpus: Path) -> list[Case]:
    cases = list(_discourse_cases(corpus)) + list(_elided_cases(corpus))
    for set_name, expectations in LIBRARY_EXPECTATIONS.items():
        for expectation in expectations:
            body = _read(corpus / expectation.path)
            cases.append(Case(set_name, Path(expectation.path).name, body, expectation))
    return cases


def _discourse_cases(corpus: Path) -> Iterable[Case]:
    folder = corpus / "discourse-email_reply_trimmer"
    for path in sorted((folder / "emails").glob("*.txt")):
        body = _read(path)
        trimmed = _read(folder / "trimmed" / path.name)
        removed = _removed_lines(body, trimmed)
        yield Case(
            "discourse", path.name, body, Expectation(str(path), trimmed, (trimmed,), removed)
        )


def _elided_cases(corpus: Path) -> Iterable[Case]:
    folder = corpus / "discourse-email_reply_trimmer"
    for path in sorted((folder / "elided").glob("*.txt")):
        body = _read(folder / "emails" / path.name)
        trimmed = _read(folder / "trimmed" / path.name)
        elided = tuple(line for line in _long_lines(_read(path)))
        yield Case("elided", path.name, body, Expectation(str(path), trimmed, (trimmed,), elided))


def _removed_lines(body: str, trimmed: str) -> tuple[str, ...]:
    kept = {normalise(line) for line in trimmed.splitlines()}
    return tuple(line for line in _long_lines(body) if line not in kept)


def _long_lines(text: str) -> Iterable[str]:
    for line in text.splitlines():
        flat = normalise(line)
        if len(flat) >= MIN_FORBIDDEN_CHARS:
            yield flat


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


def evaluate(case: Case, strip: Stripper) -> Outcome:
    reply, signature = strip(case.body)
    candidates = [normalise(reply)]
    if signature and reply.endswith(signature):
        candidates.append(normalise(reply[: len(reply) - len(signature)]))
    expected = case.expectation
    exact = None
    if expected.exact is not None:
        exact = any(answer in candidates for answer in _answers(expected))
    contains = any(_contains(candidate, expected) for candidate in candidates)
    return Outcome(case, reply, signature, exact, contains)


def _answers(expected: Expectation) -> set[str]:
    """The expected reply, and with the sender's signature under it when it has one."""
    words = normalise(expected.exact or "")
    return (
        {words, normalise(f"{expected.exact} {expected.signature}")}
        if expected.signature
        else {words}
    )


def _contains(candidate: str, expected: Expectation) -> bool:
    required = expected.required or ((expected.exact,) if expected.exact else ())
    present = all(normalise(fragment) in candidate for fragment in required)
    return present and not any(normalise(f) in candidate for f in expected.forbidden)


def baseline_strip(text: str) -> tuple[str, str]:
    """The baseline: email-reply-parser's reply (it drops the signatures it finds)."""
    return str(EmailReplyParser.parse_reply(text)), ""


def load_pairs(folder: Path) -> list[Case]:
    """The new pairs: each `NAME.eml` read by parse_mail, against `NAME.txt`; a set per shape
    (the first word of the name: footer, signature, short, parts, inline, quote, top)."""
    cases = []
    for path in sorted(folder.glob("*.eml")):
        text = parse_mail(path.read_bytes()).text
        words, _, signature = _read(path.with_suffix(".txt")).partition(SIGNATURE_MARK + "\n")
        expected = f"{words}\n{signature}"
        forbidden = _removed_lines(text, expected)
        expectation = Expectation(str(path), words, (words,), forbidden, signature=signature)
        cases.append(Case(path.stem.split("_")[0], path.stem, text, expectation))
    return cases


@dataclass(frozen=True, slots=True)
class Rate:
    set_name: str
    exact: int
    exact_total: int
    contains: int
    total: int

    def exact_share(self) -> float:
        return self.exact / self.exact_total if self.exact_total else 0.0

    def contains_share(self) -> float:
        return self.contains / self.total if self.total else 0.0


def rates(outcomes: Sequence[Outcome]) -> list[Rate]:
    names = list(dict.fromkeys(o.case.set_name for o in outcomes))
    return [_rate(name, [o for o in outcomes if o.case.set_name == name]) for name in names] + [
        _rate("all", list(outcomes))
    ]


def _rate(name: str, outcomes: Sequence[Outcome]) -> Rate:
    exact = [o.exact for o in outcomes if o.exact is not None]
    contains = sum(1 for o in outcomes if o.contains)
    return Rate(name, sum(exact), len(exact), contains, len(outcomes))


def complete_messages(corpus: Path) -> list[Path]:
    """Every complete RFC 822 message of the corpus (role `message`, not tagged body-only)."""
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    return [
        corpus / row["file"]
        for row in rows
        if row["role"] == "message" and "body-only" not in row["exercises"].split()
    ]


def print_rates(ours: Sequence[Rate], baseline: Sequence[Rate]) -> None:
    """Ours and email-reply-parser ("e-r-p") side by side, set by set."""
    print(f"{'set':18} {'n':>3} {'exact':>12} {'e-r-p':>11} {'contains':>12} {'e-r-p':>11}")
    for mine, base in zip(ours, baseline, strict=True):
        print(
            f"{mine.set_name:18} {mine.total:3d} {_count(mine.exact, mine.exact_total)}"
            f" {_count(base.exact, base.exact_total)} {_count(mine.contains, mine.total)}"
            f" {_count(base.contains, base.total)}"
        )
    total, base = ours[-1], baseline[-1]
    print(
        f"ratio to email-reply-parser: exact {_ratio(total.exact, base.exact)},"
        f" contains {_ratio(total.contains, base.contains)}"
    )


def _ratio(ours: int, baseline: int) -> str:
    return f"{ours / baseline:.2f}x" if baseline else "n/a"


def _count(hits: int, total: int) -> str:
    share = f"{hits / total:4.0%}" if total else "   -"
    return f"{hits:3d}/{total:<3d}{share}"


def empty_replies(outcomes: Sequence[Outcome]) -> int:
    """Replies left empty although the text had content: never acceptable."""
    return sum(1 for o in outcomes if o.case.body.strip() and not o.reply.strip())


def print_errors(outcomes: Sequence[Outcome]) -> None:
    for outcome in outcomes:
        if outcome.exact is False or not outcome.contains:
            print(f"\n== {outcome.case.set_name}/{outcome.case.name}")
            print(outcome.reply[:600])
            print(f"-- signature: {outcome.signature[:80]!r}")


def print_parse_speed(paths: Sequence[Path], passes: int, runs: int = 1) -> None:
    raws = [path.read_bytes() for path in paths]
    bare, ours = interleave(
        runs,
        [
            lambda _: _mails_per_second(raws, passes, _bare_parse),
            lambda _: _mails_per_second(raws, passes, _parse_or_park),
        ],
    )
    megabytes = sum(len(raw) for raw in raws) / 1e6
    print(f"\nparse speed over {len(raws)} messages ({megabytes:.1f} MB), {passes} passes:")
    print(f"  BytesParser only: {Spread.of(bare).format('.1f'):>8} mails/s")
    print(
        f"  parse_mail:       {Spread.of(ours).format('.1f'):>8} mails/s  "
        f"(ratio to the bare parser {ratios(ours, bare).format('.2f')})"
    )


def _bare_parse(raw: bytes) -> object:
    return BytesParser(policy=policy.default).parsebytes(raw)


def _parse_or_park(raw: bytes) -> object:
    try:
        return parse_mail(raw)
    except UnparseableMail as exc:
        return exc


def _mails_per_second(
    raws: Sequence[bytes], passes: int, parse: Callable[[bytes], object]
) -> float:
    started = time.perf_counter()
    for _ in range(passes):
        for raw in raws:
            parse(raw)
    return len(raws) * passes / (time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--errors", action="store_true", help="print the replies that miss")
    add_runs_argument(parser)
    args = parser.parse_args(argv)
    old = load_cases(args.corpus)
    own = sum(1 for case in old if case.expectation.own)
    print(f"old pairs: {len(old)} bodies of {args.corpus}")
    print(f"({own} expectations are our own reading of fixtures no upstream test asserts on)\n")
    report(old, args.errors)
    new = load_pairs(args.pairs)
    print(f"\nnew pairs: {len(new)} mails of {args.pairs}\n")
    report(new, args.errors)
    print_parse_speed(complete_messages(args.corpus), args.passes, args.runs)


def report(cases: Sequence[Case], errors: bool) -> None:
    outcomes = [evaluate(case, strip_reply) for case in cases]
    baseline = [evaluate(case, baseline_strip) for case in cases]
    print_rates(rates(outcomes), rates(baseline))
    print(
        f"empty replies to a text with content: {empty_replies(outcomes)},"
        f" email-reply-parser {empty_replies(baseline)}"
    )
    if errors:
        print_errors(outcomes)


if __name__ == "__main__":
    main()
