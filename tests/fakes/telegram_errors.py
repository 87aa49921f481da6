"""Telegram's error envelope, the descriptions Telegram uses, and scripted faults."""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.telegram_chats import JSON

BLOCKED = "Forbidden: bot was blocked by the user"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: BLOCKED,
    404: "Not Found",
    409: POLL_CONFLICT,
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def envelope(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(slots=True)
class Fault:
    """A scripted error for the next `times` calls of one method (in one chat, if given),
    after `passing` such calls went through (a 429 in the middle of a long message)."""

    method: str
    code: int
    description: str
    retry_after: int | None
    times: int
    chat_id: int | None
    passing: int = 0

    def matches(self, method: str, params: JSON) -> bool:
        in_chat = self.chat_id is None or params.get("chat_id") == self.chat_id
        return self.times > 0 and self.method == method.lower() and in_chat

    def strikes(self) -> bool:
        """Whether this matching call fails (False while calls are still let through)."""
        if self.passing > 0:
            self.passing -= 1
            return False
        self.times -= 1
        return True

    def error(self) -> ApiError:
        return ApiError(self.code, self.description, self.retry_after)


def fault(
    method: str,
    code: int,
    *,
    description: str | None,
    retry_after: int | None,
    times: int,
    chat_id: int | None,
    passing: int = 0,
) -> Fault:
    if code == 429 and retry_after is None:
        retry_after = 1
    text = description or DEFAULT_DESCRIPTIONS.get(code, "Error").format(retry_after=retry_after)
    return Fault(method.lower(), code, text, retry_after, times, chat_id, passing)
