"""Every Telegram sample of ../shared/corpus/telegram through the adapter and the core.

None may crash anything; each ends as a handled message, a parked dead letter (an update the
client cannot parse) or a recorded ignore, and a replay changes nothing.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bot.model import Outcome
from channels.telegram.normalize import BotIdentity, normalize
from tests.conftest import SHARED, require_shared
from tests.harness import BotHarness

ME = BotIdentity(5550001, "TouchpointTestBot")
HANDLED, PARKED, IGNORED = Outcome.HANDLED, Outcome.PARKED, Outcome.IGNORED

# The expected outcome of each development sample, and why.
EXPECTED = {
    # python-telegram-bot 22.8 rejects media without file_unique_id and a dice without emoji
    "aiogram-v2/msg_audio.json": PARKED,
    "aiogram-v2/msg_dice.json": PARKED,
    "aiogram-v2/msg_document.json": PARKED,
    "aiogram-v2/msg_media_group.json": PARKED,
    "aiogram-v2/msg_photo.json": PARKED,
    "aiogram-v2/msg_sticker.json": PARKED,
    "aiogram-v2/msg_video.json": PARKED,
    "aiogram-v2/msg_video_note.json": PARKED,
    "aiogram-v2/msg_voice.json": PARKED,
    # posts in channels, service messages, messages without a person behind them
    "aiogram-v2/msg_channel_post_from_null.json": IGNORED,
    "aiogram-v2/msg_migrate_to_chat_id.json": IGNORED,
    "teloxide/msg_channel_forward_in_supergroup.json": IGNORED,
    "teloxide/msg_channel_giveaway.json": IGNORED,
    "teloxide/msg_inaccessible_date0.json": IGNORED,
    "teloxide/msg_migrate_from_chat_id.json": IGNORED,
    "teloxide/msg_migrate_to_chat_id.json": IGNORED,
    "teloxide/msg_minimal_empty.json": IGNORED,
    "teloxide/msg_venue_location.json": IGNORED,
    # groups that do not address the bot, reactions, an update kind newer than the client
    "teloxide/msg_forum_topic_message.json": IGNORED,
    "teloxide/update_supergroup_command_reply_thread.json": IGNORED,
    "teloxide/update_supergroup_dice.json": IGNORED,
    "teloxide/update_supergroup_pinned.json": IGNORED,
    "teloxide/update_supergroup_story.json": IGNORED,
    "teloxide/update_message_reaction.json": IGNORED,
    "teloxide/update_unknown_kind.json": IGNORED,
}


def samples() -> list[tuple[str, str]]:
    """(file, object type) of every sample; none (a skip, or a failure under CI) without ../shared."""
    manifest = SHARED / "corpus" / "telegram" / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    with manifest.open(encoding="utf-8") as rows:
        return [(row["file"], row["object_type"]) for row in csv.DictReader(rows, delimiter="\t")]


def as_update(path: Path, object_type: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if object_type.startswith("Update"):
        return data
    key = "channel_post" if "channel" in object_type else "message"
    return {"update_id": 1, key: data}


def test_the_corpus_is_there() -> None:
    assert len(samples()) == len(list(require_shared("corpus", "telegram").rglob("*.json")))


@pytest.mark.parametrize(("name", "object_type"), samples(), ids=[name for name, _ in samples()])
async def test_a_sample_ends_handled_parked_or_ignored_and_a_replay_changes_nothing(
    bot: BotHarness, name: str, object_type: str
) -> None:
    root = require_shared("corpus", "telegram")
    item = normalize(as_update(root / name, object_type), ME, Bot("123:corpus"))

    outcome = (await bot.dispatcher.accept(item.message)).outcome
    replay = (await bot.dispatcher.accept(item.message)).outcome
    await bot.deliver()

    assert outcome is EXPECTED.get(name, HANDLED)
    assert replay is (Outcome.PARKED if outcome is PARKED else Outcome.DUPLICATE)
    async with bot.database.transaction() as uow:
        parked = await uow.dead_letters.search()
        ignored = await uow.touchpoints.search(kind="ignored")
    assert len(parked) == (outcome is PARKED)  # parked once, even when delivered twice
    assert all(letter.error.startswith("unreadable: TypeError") for letter in parked)
    assert len(ignored) == (outcome is IGNORED)
    if outcome is HANDLED and item.message.kind.value == "message":
        assert bot.channels["telegram"].texts_to(item.message.address.value), "no reply"


async def test_the_blocked_sample_makes_the_customer_unreachable(bot: BotHarness) -> None:
    root = require_shared("corpus", "telegram")
    raw = json.loads((root / "teloxide/update_my_chat_member_private_kicked.json").read_text())
    chat_id = str(raw["my_chat_member"]["chat"]["id"])
    customer = bot.customer(chat_id, channel="telegram")
    await customer.say("hello")

    item = normalize(raw, ME, Bot("123:corpus"))
    assert (await bot.dispatcher.accept(item.message)).outcome is Outcome.HANDLED

    async with bot.database.transaction() as uow:
        assert not await uow.contacts.is_reachable("telegram", chat_id)
    assert "blocked" in await bot.kinds()


@pytest.mark.parametrize("name", ["litegram/callback_query.json"])
async def test_a_forged_button_from_the_corpus_gets_the_polite_rejection(
    bot: BotHarness, name: str
) -> None:
    root = require_shared("corpus", "telegram")
    item = normalize(json.loads((root / name).read_text()), ME, Bot("123:corpus"))
    assert item.callback_query_id
    await bot.dispatcher.accept(item.message)
    await bot.deliver()
    sent = bot.channels["telegram"].texts_to(item.message.address.value)
    assert sent[0] == "Эта кнопка уже неактивна."  # the sender's Telegram client is Russian
