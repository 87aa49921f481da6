"""Whether a customer sounds angry enough for a person to take over: explainable signals.

An angry customer is better served by a person than by a form, but a complaint alone is not
anger ("the chair arrived damaged" gets a ticket). A message counts as angry with an accusation
or a threat ("scammers", "мошенники"), two anger words, or one with shouting or a row of
exclamation marks, or shouting with them. The words are stems, matched at word starts, in
English and Russian; edit them here.
"""

from __future__ import annotations

import re

# Enough alone: accusations and threats.
STRONG_WORDS = (
    "furious", "outrag", "scam", "fraud", "rip-off", "ripoff", "disgust", "sue you", "wtf",
    "мошенн", "обман", "в суд", "издевательств", "возмутительн",
)  # fmt: skip
# Angry with a second signal; alone, a customer describing a bad day.
ANGER_WORDS = (
    "pathetic", "ridiculous", "useless", "worst", "terrible", "horrible", "awful",
    "unacceptable", "fed up", "sick of", "incompetent", "never again", "lawyer", "развод",
    "ужасн", "отвратительн", "безобраз", "бесит", "достали", "надоел", "позор", "хамств",
    "кошмар", "бардак", "некомпетентн", "верните деньги",
)  # fmt: skip
_STRONG = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in STRONG_WORDS) + ")", re.I)
_WORDS = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in ANGER_WORDS) + ")", re.I)
_EXCLAMATIONS = re.compile(r"!{2,}|(?:!\s*){3,}")
SHOUTING_SHARE = 0.7  # of the letters, upper case
SHOUTING_LETTERS = 12  # fewer letters than this is an acronym, not shouting


def anger_signals(text: str) -> tuple[str, ...]:
    """What in `text` sounds angry: `strong:<stem>` and `word:<stem>` for each anger word,
    `shouting`, `!!!`."""
    strong = {found.lower() for found in _STRONG.findall(text)}
    words = {found.lower() for found in _WORDS.findall(text)}
    signals = [f"strong:{word}" for word in sorted(strong)]
    signals += [f"word:{word}" for word in sorted(words)]
    if _shouting(text):
        signals.append("shouting")
    if _EXCLAMATIONS.search(text):
        signals.append("!!!")
    return tuple(signals)


def sounds_angry(signals: tuple[str, ...]) -> bool:
    if any(signal.startswith("strong:") for signal in signals):
        return True
    words = sum(signal.startswith("word:") for signal in signals)
    intensity = sum(signal in ("shouting", "!!!") for signal in signals)
    return words >= 2 or (words >= 1 and intensity >= 1) or intensity >= 2


def _shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if len(letters) < SHOUTING_LETTERS:
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= SHOUTING_SHARE
