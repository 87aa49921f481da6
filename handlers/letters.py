"""What a mail is about, when its courtesies outweigh its request.

A letter is framed: "Hi there," above, "Regards" or "Всего хорошего" below, and often a closing
"What can you do?". Matched as a whole, such a frame can win over the sentence that says what
the customer wants ("Hi there, could you send me a price for 12 treadmills?" reads as a
greeting). So when a mail as a whole matches only small talk, or nothing, its sentences are
matched one by one, and the strongest one that asks for something (an offer, a service matter,
a person) decides.
"""

from __future__ import annotations

import re

from bot.intents import IntentMatch, IntentMatcher

# Sentence ends, and line breaks: a greeting or a signature is a line of its own.
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
ASKING_ROUTES = frozenset({"lead", "service", "human"})


def sentences(text: str) -> list[str]:
    return [part.strip() for part in SENTENCE_END.split(text) if part.strip()]


def what_it_asks(match: IntentMatch, text: str, matcher: IntentMatcher, lang: str) -> IntentMatch:
    """`match` for the whole mail, or, when that is small talk or nothing, the best match of
    one of its sentences that asks for something."""
    if match.route in ASKING_ROUTES:
        return match
    parts = sentences(text)
    if len(parts) < 2:
        return match
    found = [matcher.match(part, lang) for part in parts]
    asking = [found_match for found_match in found if found_match.route in ASKING_ROUTES]
    return max(asking, key=lambda found_match: found_match.score, default=match)
