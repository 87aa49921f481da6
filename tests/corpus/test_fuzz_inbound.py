"""Thousands of mutated Telegram updates and mails through normalisation and `accept`.

The updates and mails of ../shared/corpus are mutated at random (fields dropped, retyped,
nulled, filled with NUL, lone surrogates, huge numbers and long text; mail bytes cut, flipped,
given hostile headers and broken MIME) and each goes the way a real one goes: the channel's
normaliser, then the dispatcher on a real database. For every input: no exception escapes,
the input is accounted for (stored as a message or parked as a dead letter), and a good
message sent right after it is answered.

Under CI the examples are derandomised (a fixed sequence every run); every failing case found
so far is kept below as an `@example`.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from telegram import Bot

from bot.model import InboundMessage, Outcome
from bot.storing import storable
from channels.email.inbound import Ours, to_inbound
from channels.email.mail import FetchedMail
from channels.telegram.normalize import BotIdentity, normalize
from storage.tables import dead_letters, messages
from storage.uow import Database
from tests.conftest import SHARED, _truncate
from tests.harness import BotHarness, FakeClock

ME = BotIdentity(5550001, "TouchpointTestBot")
CLIENT = Bot("123:fuzz")
OURS = Ours(
    addresses=frozenset({"sales@touchpoint.example"}),
    loop_token="fuzz-loop-token",
    domains=frozenset({"touchpoint.example"}),
)
RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAX_MAIL_BYTES = 150_000  # larger corpus mails are parsed by the corpus tests, not mutated here
EXAMPLES = {"sqlite": 1000, "postgres": 300}
EMAIL_EXAMPLES = {"sqlite": 500, "postgres": 200}
FUZZ = settings(  # on the profile tests/conftest.py loads (derandomised under CI)
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


# --- the corpus, read once ---------------------------------------------------------------------


def _manifest(folder: str) -> list[dict[str, str]]:
    path = SHARED / "corpus" / folder / "MANIFEST.tsv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as rows:
        return list(csv.DictReader(rows, delimiter="\t"))


def _updates() -> list[dict[str, Any]]:
    found = []
    for row in _manifest("telegram"):
        data = json.loads((SHARED / "corpus" / "telegram" / row["file"]).read_text("utf-8"))
        kind = row["object_type"]
        if not kind.startswith("Update"):
            data = {"update_id": 1, ("channel_post" if "channel" in kind else "message"): data}
        found.append(data)
    return found


def _mails() -> list[bytes]:
    found = []
    for row in _manifest("email"):
        path = SHARED / "corpus" / "email" / row["file"]
        wanted = row["role"] in ("message", "excerpt") and "body-only" not in row["exercises"]
        if wanted and path.stat().st_size <= MAX_MAIL_BYTES:
            found.append(path.read_bytes())
    return found


UPDATES = _updates()
MAILS = _mails()


def _require_corpus() -> None:
    if UPDATES and MAILS:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{SHARED / 'corpus'} is missing: CI must run the fuzz tests")
    pytest.skip(f"../shared is absent ({SHARED / 'corpus'}); the fuzz tests mutate its samples")


# --- mutations ---------------------------------------------------------------------------------

HOSTILE_TEXT = [
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "я" * 5000,
    "/start " + "p" * 300,
    "/lead\x00",
    "😀" * 40,
    "\u202eevil",
    "\r\n\r\n",
    "-1",
    "<b>&amp;</b>",
]
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(HOSTILE_TEXT),
)
ANY_JSON = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = ["from", "chat", "text", "id", "data", "message", "date", "contact", "photo", "caption"]
KEEP, CHANGE, DROP, NULL, RETYPE = "keep", "change", "drop", "null", "retype"
# Mostly kept, so that mutations reach deep into otherwise well-formed updates.
OPERATIONS = [KEEP] * 10 + [CHANGE, CHANGE, DROP, NULL, RETYPE]


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    if isinstance(value, dict):
        return draw(_mutated_dict(value))
    if isinstance(value, list):
        items = [draw(mutated(item)) for item in value if draw(st.sampled_from(OPERATIONS)) != DROP]
        return items + draw(st.lists(ANY_JSON, max_size=1))
    operation = draw(st.sampled_from(OPERATIONS))
    if operation in (CHANGE, RETYPE):
        return draw(ANY_JSON)
    return None if operation == NULL else value


@st.composite
def _mutated_dict(draw: st.DrawFn, value: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in value.items():
        operation = draw(st.sampled_from(OPERATIONS))
        if operation == DROP:
            continue
        if operation == NULL:
            result[key] = None
        elif operation == RETYPE:
            result[key] = draw(ANY_JSON)
        else:
            result[key] = draw(mutated(item))
    extra = draw(st.dictionaries(st.sampled_from(FIELDS), ANY_JSON, max_size=1))
    return {**extra, **result}


@st.composite
def mutated_update(draw: st.DrawFn) -> dict[str, Any]:
    update = draw(mutated(draw(st.sampled_from(UPDATES))))
    if not isinstance(update, dict):
        update = {"update_id": 1, "message": update}
    # Mostly a usable id, as Telegram always sends one; sometimes not, as a broken proxy might.
    update_id = draw(st.one_of(st.integers(1, 2**31), st.integers(1, 2**31), ANY_JSON))
    return {**update, "update_id": update_id}


HOSTILE_HEADERS = [
    b"From: \x00evil <a\x00b@example.org>",
    b"From: " + b"a" * 2000 + b"@example.org",
    b"Message-ID: <" + b"m" * 3000 + b"@example.org>",
    b"In-Reply-To: <" + b"r" * 1500 + b"@example.org>",
    b"Subject: " + b"s" * 5000,
    b"Subject: =?x-unknown?B?0J/RgNC40LLQtdGC?=",
    b"Subject: =?utf-8?B?broken",
    b'Content-Type: multipart/mixed; boundary=""',
    b'Content-Type: text/plain; charset="\x00"',
    b"Content-Transfer-Encoding: base64",
    b"References: " + b"<a@b> " * 400,
    b"Date: Mon, 99 Foo 99999 99:99:99 +9999",
    b"Return-Path: <>",
]


@st.composite
def mutated_mail(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(MAILS)))
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["flip", "cut", "header", "splice", "nest", "nul"]))
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        if operation == "flip" and raw:
            raw[at] = draw(st.integers(0, 255))
        elif operation == "cut":
            del raw[at:]
        elif operation == "header":
            raw[0:0] = draw(st.sampled_from(HOSTILE_HEADERS)) + b"\r\n"
        elif operation == "splice":
            raw[at:at] = raw[draw(st.integers(0, max(0, len(raw) - 1))) :][:2000]
        elif operation == "nest":
            raw[0:0] = _nested(draw(st.integers(1, 60)))
        else:
            raw[at:at] = b"\x00"
    return bytes(raw)


def _nested(depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
        for level in range(depth)
    )
    return opening + b"Content-Type: text/plain\r\n\r\nhello\r\n"


# --- the bot under test ------------------------------------------------------------------------


class FuzzBot:
    """The dispatcher and relay on a real database, driven from hypothesis's synchronous loop."""

    def __init__(self, runner: asyncio.Runner, harness: BotHarness) -> None:
        self.runner = runner
        self.harness = harness
        self.good = 0

    def accept(self, message: InboundMessage) -> Outcome:
        return self.runner.run(self.harness.dispatcher.accept(message)).outcome

    def accounted_for(self, message: InboundMessage) -> bool:
        key = storable(message).external_id
        return self.runner.run(self._stored_or_parked(message.channel, key))

    async def _stored_or_parked(self, channel: str, key: str) -> bool:
        async with self.harness.database.transaction() as uow:
            for table in (messages, dead_letters):
                query = select(table.c.id).where(
                    table.c.channel == channel, table.c.external_id == key
                )
                if (await uow.connection.execute(query)).first() is not None:
                    return True
        return False

    def good_message_answered(self, channel: str) -> bool:
        """A plain greeting from a new customer right after: it gets the greeting back."""
        self.good += 1
        address = (
            str(9_000_000_000 + self.good) if channel == "telegram" else f"c{self.good}@ok.example"
        )
        customer = self.harness.customer(address, channel=channel)
        extra = {"header_id": f"<good{self.good}@ok.example>"} if channel == "email" else {}
        return bool(self.runner.run(customer.say("Hello there", **extra)))


@pytest.fixture(params=["sqlite", "postgres"])
def fuzz_bot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FuzzBot]:
    _require_corpus()
    with asyncio.Runner() as runner:
        database = runner.run(_database(request, tmp_path))
        harness = BotHarness(database, FakeClock())
        yield FuzzBot(runner, harness)
        runner.run(database.dispose())


async def _database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        path = tmp_path / "fuzz.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Database.from_url(f"sqlite+aiosqlite:///{path}")
    database = Database.from_url(request.getfixturevalue("postgres_url"))
    await _truncate(database)
    return database


def _examples(engine: str, counts: dict[str, int]) -> settings:
    return settings(FUZZ, max_examples=counts[engine])


# --- the properties ----------------------------------------------------------------------------


CALLBACK_WITHOUT_SENDER = {
    "update_id": 7,
    "callback_query": {
        "id": "77",
        "chat_instance": "1",
        "data": "menu:lead",
        "message": {"message_id": 3, "date": 1700000000, "chat": {"id": 42, "type": "private"}},
    },
}


def test_mutated_telegram_updates_are_all_accounted_for(fuzz_bot: FuzzBot) -> None:
    engine = "postgres" if not fuzz_bot.harness.database.is_sqlite else "sqlite"

    @_examples(engine, EXAMPLES)
    @given(update=mutated_update())
    @example(update=CALLBACK_WITHOUT_SENDER)
    @example(update={"update_id": 8, "message": {"message_id": "x", "text": "\ud800\x00"}})
    @example(update={"update_id": 9, "edited_message": None, "message": [1, {"a": None}]})
    @example(update={"update_id": True, "message": {"chat": {"id": 2**70}}})
    def check(update: dict[str, Any]) -> None:
        message = normalize(update, ME, CLIENT).message
        outcome = fuzz_bot.accept(message)
        assert outcome in Outcome
        assert fuzz_bot.accounted_for(message), message
        assert fuzz_bot.good_message_answered("telegram")

    check()


def test_mutated_mails_are_all_accounted_for(fuzz_bot: FuzzBot) -> None:
    engine = "postgres" if not fuzz_bot.harness.database.is_sqlite else "sqlite"
    uids = iter(range(1, 10**9))

    @_examples(engine, EMAIL_EXAMPLES)
    @given(raw=mutated_mail())
    @example(raw=HOSTILE_HEADERS[2] + b"\r\nFrom: a@example.org\r\n\r\nhello\r\n")
    @example(raw=HOSTILE_HEADERS[1] + b"\r\nSubject: hi\r\n\r\nhello\r\n")
    @example(raw=b"From: a\x00b@example.org\r\nSubject: \x00\r\n\r\n\x00hello\r\n")
    def check(raw: bytes) -> None:
        fetched = FetchedMail(uidvalidity=1, uid=next(uids), raw=raw, internal_date=RECEIVED)
        message = to_inbound(fetched, OURS)
        outcome = fuzz_bot.accept(message)
        assert outcome in Outcome
        assert fuzz_bot.accounted_for(message), message.external_id
        assert fuzz_bot.good_message_answered("email")

    check()
