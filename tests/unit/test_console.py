"""The terminal channel's own behaviour, below the process: reading lines on the event loop, and
a turn in hand finished when the terminal is stopped."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import Iterator
from typing import TextIO

import pytest

from bot.model import AcceptResult, InboundKind, InboundMessage, Outcome
from channels.console import ConsoleChannel
from channels.terminal_input import LineReader


@pytest.fixture
def pipe() -> Iterator[tuple[TextIO, int]]:
    read, write = os.pipe()
    stream = os.fdopen(read, "r", encoding="utf-8")
    yield stream, write
    stream.close()
    with contextlib.suppress(OSError):
        os.close(write)


async def test_lines_are_read_whole_however_the_bytes_arrive(pipe: tuple[TextIO, int]) -> None:
    stream, write = pipe
    lines = LineReader(stream)
    os.write(write, "hello\r\nпри".encode()[:-1])  # the last letter cut in the middle
    assert await lines.readline() == "hello"
    os.write(write, "при".encode()[-1:] + "вет\nno line break at the end".encode())
    assert await lines.readline() == "привет"
    os.close(write)
    assert await lines.readline() == "no line break at the end"
    assert await lines.readline() is None


async def test_a_stream_without_a_descriptor_is_read_too() -> None:
    lines = LineReader(io.StringIO("one\ntwo\n"))
    assert [await lines.readline() for _ in range(3)] == ["one", "two", None]


async def test_a_turn_in_hand_is_finished_when_the_terminal_is_stopped(
    pipe: tuple[TextIO, int],
) -> None:
    stream, write = pipe
    console = ConsoleChannel("anna", stdin=stream, stdout=io.StringIO())
    started, may_finish = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def accept(message: InboundMessage) -> AcceptResult:
        if message.kind is InboundKind.MESSAGE:
            started.set()
            await may_finish.wait()
            finished.append(message.text)
        return AcceptResult(Outcome.HANDLED)

    os.write(write, b"I need a quote\n")
    running = asyncio.create_task(console.run(accept))
    await started.wait()
    running.cancel()  # SIGINT or SIGTERM while the turn is being committed
    await asyncio.sleep(0.05)
    assert not running.done()  # it waits for the turn instead of abandoning it

    may_finish.set()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert finished == ["I need a quote"]
