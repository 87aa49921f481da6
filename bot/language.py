"""Which language to answer a message in: the message's own, unless it is too short to tell."""

from __future__ import annotations

import re

from bot.intents import detect_language
from bot.model import InboundMessage
from bot.records import Conversation

MIN_LETTERS = 4
MIN_WORDS_IN_FLOW = 4
FLOW_STATES = ("lead", "service")
# "/help", "/start@ShopBot": a command's name is Latin whatever the customer's language is.
COMMAND_NAME = re.compile(r"^/\w+(?:@\w+)?")


def language_for(message: InboundMessage, conversation: Conversation | None, default: str) -> str:
    """The reply language for `message`.

    A new conversation takes the message's language (or the sender's client language when the
    text has no letters). An ongoing one switches only on clear evidence: a few letters of one
    script in free talk, a few words inside a flow (so a name like "Anna" typed into a Russian
    lead flow does not switch it to English).
    """
    text = _without_command(message.text.strip())
    if conversation is None:
        return detect_language(text, _hint_or(message, default))
    current = conversation.current.language
    if not _clear_enough(text, in_flow=conversation.current.state in FLOW_STATES):
        return current
    return detect_language(text, current)


def _without_command(text: str) -> str:
    """The text a command carries: "/help" says nothing of the language, nor does a one-word
    deep-link payload ("/start spring_promo"); "/lead хочу 10 ноутбуков" does."""
    rest = COMMAND_NAME.sub("", text, count=1)
    if rest is text:
        return text
    return rest if len(rest.split()) > 1 else ""


def _hint_or(message: InboundMessage, default: str) -> str:
    hint = (message.sender.language_hint or "").split("-")[0].lower()
    return hint if hint in ("en", "ru") else default


def _clear_enough(text: str, *, in_flow: bool) -> bool:
    if in_flow:
        return len(text.split()) >= MIN_WORDS_IN_FLOW
    return sum(char.isalpha() for char in text[:500]) >= MIN_LETTERS
