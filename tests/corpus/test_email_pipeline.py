"""Every complete mail of ../shared/corpus/email through the email channel and the core.

Parsing, the filter chain, routing and recording: no exception escapes; each mail ends handled
(a person wrote: stored and answered), filtered (stored with a touchpoint saying why, no
reply), or parked (with the reason); every auto-reply, bounce, report and list mail gets zero
replies; Russian mail is stored without U+FFFD.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest

from bot.model import InboundKind, Outcome
from channels.email.inbound import Ours, to_inbound
from channels.email.mail import FetchedMail
from tests.conftest import SHARED, require_shared
from tests.corpus.test_email_filters import NOT_ANSWERABLE
from tests.harness import BotHarness

OURS = Ours(
    addresses=frozenset({"sales@touchpoint.example"}),
    loop_token="corpus-loop-token",
    domains=frozenset({"touchpoint.example"}),
)
INTERNAL_DATE = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
FILTERED_KINDS = (
    "bounced",
    "delayed",
    "auto_reply_ignored",
    "bulk_ignored",
    "report_ignored",
    "loop_ignored",
)


def complete_messages() -> list[tuple[str, str]]:
    """(file, tags) of every corpus mail that is a whole RFC 822 message."""
    manifest = SHARED / "corpus" / "email" / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    with manifest.open(encoding="utf-8") as rows:
        return [
            (row["file"], row["exercises"])
            for row in csv.DictReader(rows, delimiter="\t")
            if row["role"] in ("message", "excerpt") and "body-only" not in row["exercises"].split()
        ]


def test_the_corpus_is_there() -> None:
    require_shared("corpus", "email")
    assert len(complete_messages()) >= 100


@pytest.mark.parametrize(
    ("name", "tags"), complete_messages(), ids=[n for n, _ in complete_messages()]
)
async def test_a_mail_ends_handled_filtered_or_parked_and_machines_get_no_reply(
    bot: BotHarness, name: str, tags: str
) -> None:
    raw = (require_shared("corpus", "email") / name).read_bytes()
    message = to_inbound(
        FetchedMail(uidvalidity=1, uid=1, raw=raw, internal_date=INTERNAL_DATE), OURS
    )

    result = await bot.dispatcher.accept(message)
    await bot.deliver()

    sent = bot.channels["email"].sent
    kinds = await bot.kinds()
    if name in NOT_ANSWERABLE:
        assert message.kind is InboundKind.EVENT, message.reason
        assert sent == []
        assert set(kinds) & set(FILTERED_KINDS), kinds
    elif message.kind is InboundKind.MESSAGE:
        assert result.outcome is Outcome.HANDLED
        assert [m.address.value for m in sent] == [message.address.value] * len(sent)
        assert sent, "a person wrote and got no answer"
    else:
        assert result.outcome in (Outcome.HANDLED, Outcome.IGNORED, Outcome.PARKED), result
        assert sent == []
    if "russian" in tags or "cyrillic" in tags:
        assert "\ufffd" not in message.text and "\ufffd" not in message.subject


async def test_a_replayed_mail_changes_nothing(bot: BotHarness) -> None:
    [(name, _tags)] = [
        item for item in complete_messages() if item[0].endswith("multipart_text.eml")
    ][:1]
    raw = (require_shared("corpus", "email") / name).read_bytes()
    message = to_inbound(
        FetchedMail(uidvalidity=1, uid=7, raw=raw, internal_date=INTERNAL_DATE), OURS
    )
    first = await bot.dispatcher.accept(message)
    again = await bot.dispatcher.accept(message)
    assert (first.outcome, again.outcome) == (Outcome.HANDLED, Outcome.DUPLICATE)
