"""Lines typed at the terminal (or piped in), read on the event loop without a thread.

A read waiting in a thread cannot be cancelled: Ctrl-C used to leave the process waiting for
Enter, since Python waits for its threads before it exits. Here the wait for input is
`loop.add_reader`, which a cancellation ends at once. Input redirected from a regular file is
always readable and is read directly; a stream without a file descriptor (a test's StringIO)
too.
"""

from __future__ import annotations

import asyncio
import io
import os
from typing import TextIO

CHUNK = 65536


class LineReader:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._fd = _fd_of(stream)
        self._encoding = getattr(stream, "encoding", None) or "utf-8"
        self._buffer = b""
        self._ended = False

    async def readline(self) -> str | None:
        """The next line without its line break; None at the end of input (Ctrl-D)."""
        if self._fd is None:
            text = self._stream.readline()
            return text.rstrip("\r\n") if text else None
        while b"\n" not in self._buffer and not self._ended:
            chunk = await self._read()
            self._ended = not chunk
            self._buffer += chunk
        if not self._buffer:
            return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(self._encoding, errors="replace").rstrip("\r")

    async def _read(self) -> bytes:
        assert self._fd is not None
        await _readable(self._fd)
        return os.read(self._fd, CHUNK)


async def _readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    try:
        loop.add_reader(fd, wake)
    except PermissionError:  # a regular file (or /dev/null): readable without waiting
        return
    try:
        await ready
    finally:
        loop.remove_reader(fd)


def _fd_of(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (io.UnsupportedOperation, AttributeError, ValueError):
        return None
