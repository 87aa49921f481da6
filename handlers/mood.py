"""Whether a customer sounds angry enough for a person to take over: explainable signals.

An angry customer is better served by a person than by a form, but a complaint alone is not
anger ("the chair arrived damaged" gets a ticket). A message counts as angry with an accusation
or a threat ("scammers", "мошенники"), two anger words, or one with shouting or a row of
exclamation marks, or shouting with them. The words live in `catalog/mood.toml`, for an
operator to edit (CATALOG_DIR points at another catalog).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

SHOUTING_SHARE = 0.7  # of the letters, upper case
SHOUTING_LETTERS = 12  # fewer letters than this is an acronym, not shouting
_EXCLAMATIONS = re.compile(r"!{2,}|(?:!\s*){3,}")


class MoodError(ValueError):
    """mood.toml cannot be used; the message names the file and the problem."""


class AngerRules:
    def __init__(self, strong: Sequence[str], words: Sequence[str]) -> None:
        self._strong = _stems(strong)
        self._words = _stems(words)

    @classmethod
    def load(cls, folder: Path) -> AngerRules:
        path = folder / "mood.toml"
        try:
            anger = tomllib.loads(path.read_text(encoding="utf-8"))["anger"]
            strong, words = anger["strong"], anger["words"]
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as error:
            raise MoodError(f"{path}: {type(error).__name__}: {error}") from None
        if not all(isinstance(w, str) and w.strip() for w in [*strong, *words]):
            raise MoodError(f"{path}: [anger] strong and words must be lists of non-empty texts")
        return cls(strong, words)

    def signals(self, text: str) -> tuple[str, ...]:
        """What in `text` sounds angry: `strong:<stem>` and `word:<stem>` for each anger word,
        `shouting`, `!!!`."""
        found = [f"strong:{w}" for w in _found(self._strong, text)]
        found += [f"word:{w}" for w in _found(self._words, text)]
        if _shouting(text):
            found.append("shouting")
        if _EXCLAMATIONS.search(text):
            found.append("!!!")
        return tuple(found)


def sounds_angry(signals: tuple[str, ...]) -> bool:
    if any(signal.startswith("strong:") for signal in signals):
        return True
    words = sum(signal.startswith("word:") for signal in signals)
    intensity = sum(signal in ("shouting", "!!!") for signal in signals)
    return words >= 2 or (words >= 1 and intensity >= 1) or intensity >= 2


def _stems(stems: Sequence[str]) -> re.Pattern[str] | None:
    alternatives = "|".join(re.escape(stem.strip().lower()) for stem in stems)
    return re.compile(rf"(?<!\w)({alternatives})", re.IGNORECASE) if alternatives else None


def _found(pattern: re.Pattern[str] | None, text: str) -> list[str]:
    return sorted({m.lower() for m in pattern.findall(text)}) if pattern else []


def _shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if len(letters) < SHOUTING_LETTERS:
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= SHOUTING_SHARE
