"""What the fake records of the bot's behaviour."""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.telegram_chats import JSON


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message as the user sees it: `text` after parse_mode markup, `raw_text` as sent."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: JSON | None
    at: float
    method: str  # "sendMessage", "editMessageText" or "copyMessage"
    parse_mode: str | None
    raw_text: str
    reply_to: int | None = None  # the message of the same chat it answers


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request to the Bot API: `at` is when it arrived, `status` what it was answered;
    `abandoned` when the client had gone before the answer (a poller stopped mid-poll)."""

    method: str
    params: JSON
    at: float
    status: int
    abandoned: bool = False


def most_within(times: list[float], seconds: float = 1.0) -> int:
    """The most of `times` in any window of `seconds` (half-open: [t, t + seconds))."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - seconds:
            start += 1
        most = max(most, end - start + 1)
    return most
