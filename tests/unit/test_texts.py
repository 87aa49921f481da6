"""The replies catalog: complete in both languages, and every text the code asks for exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.texts import Texts, TextsError
from handlers.catalog import CATALOG_DIR

PROJECT = Path(__file__).resolve().parents[2]
# ctx.say("key", ...) and button(ctx, lang, "key", ...) in the code name reply texts.
SAY = re.compile(r"""\.say\(\s*f?["']([\w.{}]+)["']""")
BUTTON = re.compile(r"""button\(ctx, [\w.]+, f?["']([\w{}]+)["']""")


def keys_used_in_code() -> set[str]:
    found: set[str] = set()
    for path in [*PROJECT.glob("handlers/*.py"), *PROJECT.glob("bot/*.py")]:
        source = path.read_text(encoding="utf-8")
        found |= set(SAY.findall(source))
        found |= {f"button.{key}" for key in BUTTON.findall(source)}
    return {key for key in found if "{" not in key}


def test_every_reply_the_code_uses_exists_in_both_languages() -> None:
    texts = Texts.load(CATALOG_DIR)
    used = keys_used_in_code()
    assert len(used) > 15  # the scan itself works
    missing = sorted(key for key in used if not texts.has(key))
    assert missing == []


def test_placeholders_are_filled_and_unknown_ones_kept() -> None:
    texts = Texts.load(CATALOG_DIR)
    assert texts.get("service.opened", "en", number=1001, hours="24").startswith(
        "Your request #1001 is open."
    )
    assert "{number}" in texts.get("service.note_added", "ru")


def test_a_text_missing_a_language_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "replies.toml").write_text('[replies.greeting]\nen = "Hi"\n', encoding="utf-8")
    with pytest.raises(
        TextsError, match=r"replies.toml: reply 'greeting' has no text for \['ru'\]"
    ):
        Texts.load(tmp_path)


def test_a_broken_catalog_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "replies.toml").write_text("[replies\n", encoding="utf-8")
    with pytest.raises(TextsError, match=r"replies\.toml"):
        Texts.load(tmp_path)


def test_asking_for_an_unknown_text_names_it() -> None:
    with pytest.raises(TextsError, match="no reply text named 'nope'"):
        Texts.load(CATALOG_DIR).get("nope", "en")
