"""The operator-editable catalog: which phrases mean which intent, every reply text, and what
sounds angry, in English and Russian. An operator copies this folder, edits it and points
`CATALOG_DIR` at the copy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.intents import IntentMatcher
from bot.texts import Texts
from handlers.mood import AngerRules

CATALOG_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Catalog:
    texts: Texts
    matcher: IntentMatcher
    anger: AngerRules

    @classmethod
    def load(cls, folder: Path | None = None) -> Catalog:
        """The catalog in `folder` (the shipped one by default); errors name the file."""
        folder = folder or CATALOG_DIR
        return cls(
            texts=Texts.load(folder),
            matcher=IntentMatcher.from_file(folder / "intents.toml"),
            anger=AngerRules.load(folder),
        )
