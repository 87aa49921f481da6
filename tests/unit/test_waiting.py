"""`eventually`, the suite's one way to wait: what it returns, and what a timeout says."""

from __future__ import annotations

import pytest

from tests.waiting import eventually


async def test_it_returns_the_first_truthy_value_of_a_plain_condition() -> None:
    polls: list[int] = []

    def third_poll() -> list[int]:
        polls.append(len(polls) + 1)
        return polls if len(polls) == 3 else []

    assert await eventually(third_poll, interval=0) == [1, 2, 3]


async def test_an_async_condition_is_awaited() -> None:
    answers = iter([None, None, 4242])

    async def waiting_pid() -> int | None:
        return next(answers)

    assert await eventually(waiting_pid, interval=0) == 4242


async def test_a_timeout_names_what_never_happened_and_shows_the_context() -> None:
    with pytest.raises(AssertionError) as failure:
        await eventually(
            lambda: False, what="the reply", timeout=0.01, context=lambda: "recent calls: none"
        )

    assert str(failure.value) == "still waiting for the reply after 0.01 s\nrecent calls: none"


async def test_without_context_the_message_is_one_line() -> None:
    with pytest.raises(AssertionError, match=r"^still waiting for the condition after 0.01 s$"):
        await eventually(lambda: 0, timeout=0.01)


async def test_a_condition_that_raises_ends_the_wait_with_its_error() -> None:
    def bot_exited() -> bool:
        raise AssertionError("the bot exited with 1")

    with pytest.raises(AssertionError, match="the bot exited with 1"):
        await eventually(bot_exited)
