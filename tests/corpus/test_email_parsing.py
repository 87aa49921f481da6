"""The email corpus of ../shared replayed through parse_mail and strip_reply.

The corpus is read at test time, never copied (its files stay out of the product). Without it
the tests skip on a workstation and fail in CI. The reply-stripping floors are the figures this
code reaches; a change that strips worse fails here (bench/email_quotes.py prints the detail).
"""

from __future__ import annotations

import ast
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest

from bench.email_quotes import (
    DEFAULT_PAIRS,
    Outcome,
    baseline_strip,
    empty_replies,
    evaluate,
    load_cases,
    load_pairs,
    print_rates,
    rates,
)
from channels.email.mail import ParsedMail, UnparseableMail
from channels.email.parse import (
    MAX_ATTACHMENTS,
    MAX_HEADER_CHARS,
    MAX_SUBJECT_CHARS,
    MAX_TEXT_CHARS,
    parse_mail,
)
from channels.email.quotes import strip_reply
from tests.conftest import require_shared

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "email"

# (exact, contains) counts reached per set; exact counts only bodies with a whole expected reply
FLOORS = {
    "discourse": (38, 38),
    "elided": (3, 3),
    "crisp": (14, 20),
    "mail-parser-reply": (3, 7),
    "willdurand": (3, 5),
    "zapier": (2, 3),
}
OWN_PAIRS_FLOOR = (
    36  # of 37 (bench/data/email_quotes); the miss keeps a leading quote, as discourse does
)
DSN_WITH_ORIGINAL_ID_FLOOR = 8  # of 12: the others returned no Message-ID, or nothing at all
IMAP_TOOLS_AGREEMENT_FLOOR = 28  # of 29: imap_tools drops the bytes we recover in one subject
LARGE = (
    "flanker/enclosed-endless.eml",
    "flanker/long-header.eml",
    "django-mailbox/message_with_koi8r_filename_attachments.eml",
)
CONTROL = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class Row:
    path: Path
    tags: frozenset[str]
    role: str

    @property
    def complete_message(self) -> bool:
        return self.role in ("message", "excerpt") and "body-only" not in self.tags

    @property
    def russian(self) -> bool:
        return any(t.startswith("russian-") or t == "cyrillic-text" for t in self.tags)


def manifest() -> list[Row]:
    corpus = require_shared("corpus", "email")
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    return [Row(corpus / r["file"], frozenset(r["exercises"].split()), r["role"]) for r in rows]


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return manifest()


@pytest.fixture(scope="module")
def parsed(rows: list[Row]) -> dict[Path, ParsedMail | UnparseableMail]:
    outcomes: dict[Path, ParsedMail | UnparseableMail] = {}
    for row in rows:
        if row.complete_message:
            try:
                outcomes[row.path] = parse_mail(row.path.read_bytes())
            except UnparseableMail as exc:
                outcomes[row.path] = exc
    return outcomes


def mails(parsed: dict[Path, ParsedMail | UnparseableMail]) -> Iterator[tuple[Path, ParsedMail]]:
    for path, outcome in parsed.items():
        if isinstance(outcome, ParsedMail):
            yield path, outcome


def test_every_complete_message_parses_or_is_parked_with_a_reason(
    parsed: dict[Path, ParsedMail | UnparseableMail],
) -> None:
    assert len(parsed) >= 118
    parked = {p.name: str(e) for p, e in parsed.items() if isinstance(e, UnparseableMail)}
    print(f"\n{len(parsed)} messages, parked: {parked or 'none'}")
    assert all(str(reason) for reason in parked.values())


def test_parsed_fields_are_bounded_and_safe(
    parsed: dict[Path, ParsedMail | UnparseableMail],
) -> None:
    for path, mail in mails(parsed):
        assert mail.raw == path.read_bytes(), path
        assert len(mail.subject) <= MAX_SUBJECT_CHARS and not CONTROL.search(mail.subject), path
        assert not CONTROL.search(mail.from_name), path
        assert all(
            len(v) <= MAX_HEADER_CHARS and not CONTROL.search(v) for v in mail.headers.values()
        )
        assert len(mail.text) <= MAX_TEXT_CHARS and len(mail.reply) <= MAX_TEXT_CHARS, path
        assert len(mail.attachments) <= MAX_ATTACHMENTS, path
        assert mail.date.tzinfo is UTC, path
        assert bool(mail.reply.strip()) == bool(mail.text.strip()), path


def test_russian_mail_has_no_replacement_character(
    rows: list[Row], parsed: dict[Path, ParsedMail | UnparseableMail]
) -> None:
    russian = [row.path for row in rows if row.complete_message and row.russian]
    assert len(russian) >= 14
    for path in russian:
        mail = parsed[path]
        assert isinstance(mail, ParsedMail), path
        assert "\ufffd" not in mail.subject + mail.from_name + mail.text, path


def test_mislabelled_and_raw_8bit_russian_headers_are_recovered(
    parsed: dict[Path, ParsedMail | UnparseableMail],
) -> None:
    mail = parsed[CORPUS / "django-mailbox/message_with_single_byte_extended_subject_encoding.eml"]
    assert isinstance(mail, ParsedMail)
    assert mail.subject == "Узнай как зарабатывать от 1000$ в неделю!"


def test_unknown_charset_survives(parsed: dict[Path, ParsedMail | UnparseableMail]) -> None:
    mail = parsed[CORPUS / "django-mailbox/message_with_invalid_encoding.eml"]
    assert isinstance(mail, ParsedMail)
    assert mail.text.startswith("We offer loans")


def test_large_and_deeply_nested_mail_stays_within_limits(
    parsed: dict[Path, ParsedMail | UnparseableMail],
) -> None:
    for name in LARGE:
        mail = parsed[CORPUS / name]
        assert isinstance(mail, ParsedMail), name
        assert len(mail.attachments) <= MAX_ATTACHMENTS
    koi8 = parsed[CORPUS / LARGE[2]]
    assert isinstance(koi8, ParsedMail)
    assert koi8.subject == "Предложения от НИУ ВШЭ на 2016 год"
    assert all("\ufffd" not in a.name for a in koi8.attachments)


def test_delivery_status_notifications_map_back_to_our_message(
    rows: list[Row], parsed: dict[Path, ParsedMail | UnparseableMail]
) -> None:
    bounces = [row.path for row in rows if row.complete_message and "bounce-dsn" in row.tags]
    reports = [_mail(parsed, path).report for path in bounces]
    assert all(report is not None for report in reports)
    ids = [r.original_message_id for r in reports if r is not None and r.original_message_id]
    print(f"\n{len(bounces)} DSNs, {len(ids)} with the original Message-ID")
    assert len(ids) >= DSN_WITH_ORIGINAL_ID_FLOOR


def test_plain_text_bounces_name_the_failed_recipient(
    rows: list[Row], parsed: dict[Path, ParsedMail | UnparseableMail]
) -> None:
    bounces = [row.path for row in rows if row.complete_message and "bounce-non-dsn" in row.tags]
    for path in bounces:
        report = _mail(parsed, path).report
        assert report is not None and report.recipient, path


def test_mail_that_is_not_a_bounce_has_no_report(
    rows: list[Row], parsed: dict[Path, ParsedMail | UnparseableMail]
) -> None:
    bounce_tags = {"bounce-dsn", "bounce-non-dsn"}
    others = [r.path for r in rows if r.complete_message and not (r.tags & bounce_tags)]
    assert [p.name for p in others if _mail(parsed, p).report is not None] == []


def test_subjects_and_senders_agree_with_imap_tools() -> None:
    folder = require_shared("corpus", "email", "imap_tools")
    agree = total = 0
    for expected in sorted((folder / "messages_data").rglob("*.py")):
        message = folder / "messages" / expected.relative_to(folder / "messages_data")
        mail = parse_mail(message.with_suffix(".eml").read_bytes())
        subject, sender = _imap_tools_fields(expected)
        total += 1
        agree += (
            _flat(mail.subject) == _flat(subject) and (mail.from_address or "") == sender.lower()
        )
    print(f"\nimap_tools agreement on subject and sender: {agree}/{total}")
    assert agree >= IMAP_TOOLS_AGREEMENT_FLOOR


def test_reply_stripping_rates_do_not_regress() -> None:
    cases = load_cases(require_shared("corpus", "email"))
    outcomes = [evaluate(case, strip_reply) for case in cases]
    baseline = [evaluate(case, baseline_strip) for case in cases]
    print()
    print_rates(rates(outcomes), rates(baseline))
    print(f"misses: {_misses(outcomes) or 'none'}")
    for rate in rates(outcomes)[:-1]:
        exact_floor, contains_floor = FLOORS[rate.set_name]
        assert rate.exact >= exact_floor and rate.contains >= contains_floor, rate


def test_reply_stripping_on_our_own_pairs_does_not_regress() -> None:
    cases = load_pairs(DEFAULT_PAIRS)
    outcomes = [evaluate(case, strip_reply) for case in cases]
    print()
    print_rates(rates(outcomes), rates([evaluate(case, baseline_strip) for case in cases]))
    print(f"misses: {_misses(outcomes) or 'none'}")
    assert len(cases) >= 37
    assert sum(1 for o in outcomes if o.exact) >= OWN_PAIRS_FLOOR
    assert empty_replies(outcomes) == 0


def test_reply_is_never_empty_when_the_body_has_content(rows: list[Row]) -> None:
    bodies = [r.path for r in rows if r.role == "message" and "body-only" in r.tags]
    assert len(bodies) >= 60
    for path in bodies:
        text = path.read_bytes().decode("utf-8", "replace")
        reply, signature = strip_reply(text)
        assert reply.strip() or not text.strip(), path
        assert reply.endswith(signature), path


def test_inline_reply_keeps_the_customers_lines() -> None:
    path = require_shared("corpus", "email", "crisp-email-reply-parser", "fixtures")
    reply, _ = strip_reply((path / "email_tricky_18_inline_reply.txt").read_text())
    for answer in ("I think option A is great.", "Option B has some drawbacks.", "Option C is not"):
        assert answer in reply


def _mail(parsed: dict[Path, ParsedMail | UnparseableMail], path: Path) -> ParsedMail:
    mail = parsed[path]
    assert isinstance(mail, ParsedMail), path
    return mail


def _imap_tools_fields(path: Path) -> tuple[str, str]:
    """subject= and from_= of the DATA dict in an imap_tools expectation module."""
    call = next(
        node
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict"
    )
    values = {k.arg: k.value for k in call.keywords}
    return ast.literal_eval(values["subject"]), ast.literal_eval(values["from_"])


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _misses(outcomes: list[Outcome]) -> list[str]:
    return [
        f"{o.case.set_name}/{o.case.name}" for o in outcomes if o.exact is False or not o.contains
    ]
