"""Waiting for what the system under test does in its own time: one helper, `eventually`.

    await eventually(lambda: len(fake.sent) >= 2, what="two replies")
    await eventually(lambda: stored(database), what="the mail stored", context=bot.log_tail)
    pid = await eventually(waiting_pid, what="a turn blocked on the lock")

The condition is a plain or an async function; it is polled every `interval` seconds until it
returns something truthy, which `eventually` then returns. After `timeout` seconds the
AssertionError names `what` and adds `context()`: what the test can show about why (the fake's
last calls, the tail of a bot process's log). A condition that raises ends the wait with its
error. The timeout is a bound for a loaded machine, never a measurement: no test asserts how
long anything took.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")

TIMEOUT = 30.0  # seconds: generous, so a slow machine never fails a test that would pass


# The `timeout` parameters (ASYNC109) are a bound for polling, not a cancellation scope.
@overload
async def eventually(
    condition: Callable[[], Awaitable[T]],
    *,
    timeout: float = ...,  # noqa: ASYNC109
    what: str = ...,
    interval: float = ...,
    context: Callable[[], str] = ...,
) -> T: ...


@overload
async def eventually(
    condition: Callable[[], T],
    *,
    timeout: float = ...,  # noqa: ASYNC109
    what: str = ...,
    interval: float = ...,
    context: Callable[[], str] = ...,
) -> T: ...


async def eventually(
    condition: Callable[[], object],
    *,
    timeout: float = TIMEOUT,  # noqa: ASYNC109
    what: str = "the condition",
    interval: float = 0.02,
    context: Callable[[], str] = lambda: "",
) -> object:
    """Poll `condition` until it is truthy and return that value; fail after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (found := await outcome(condition)):
        if loop.time() > deadline:
            raise AssertionError(_still_waiting(what, timeout, context()))
        await asyncio.sleep(interval)
    return found


async def outcome(condition: Callable[[], object]) -> object:
    """One look at a condition: its value, awaited when the condition is async."""
    value = condition()
    return await value if inspect.isawaitable(value) else value


def _still_waiting(what: str, timeout: float, context: str) -> str:
    message = f"still waiting for {what} after {timeout:g} s"
    return f"{message}\n{context}" if context else message
