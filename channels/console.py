"""The terminal channel: type as a customer, read the bot's answers.

Each session is one contact (`--as NAME` picks a stable one). Options are shown as a numbered
list: answer with the number or the label. Colour when the terminal supports it (rich honours
NO_COLOR), plain text otherwise.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import TextIO

from rich.console import Console

from bot.model import (
    Accept,
    Address,
    Capabilities,
    InboundMessage,
    OutboundMessage,
    Sender,
    SendReceipt,
)

REPLY_WAIT_SECONDS = 15.0


class ConsoleChannel:
    name = "console"
    # Plain lines: options are numbered; whoever types at the terminal is the session's person.
    capabilities = Capabilities(proves_sender=True)

    def __init__(
        self,
        session: str,
        display_name: str = "",
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self._session = session
        self._display_name = display_name
        self._stdin = stdin or sys.stdin
        self._out = Console(file=stdout or sys.stdout, highlight=False, soft_wrap=True)
        self._printed = 0
        self._printed_changed = asyncio.Condition()
        self._interactive = self._stdin.isatty()

    @property
    def address(self) -> Address:
        return Address(self.name, self._session)

    async def run(self, accept: Accept) -> None:
        self._banner()
        while (line := await self._read_line()) is not None:
            before = self._printed
            result = await accept(self._inbound(line))
            await self._wait_until_printed(before + result.replies)

    async def send(self, message: OutboundMessage) -> SendReceipt:
        self._show(message)
        async with self._printed_changed:
            self._printed += 1
            self._printed_changed.notify_all()
        return SendReceipt(external_id=uuid.uuid4().hex)

    async def close(self) -> None:
        return None

    def _inbound(self, line: str) -> InboundMessage:
        return InboundMessage(
            external_id=uuid.uuid4().hex,
            address=self.address,
            sender=Sender(external_id=self._session, display_name=self._display_name),
            text=line,
        )

    async def _read_line(self) -> str | None:
        if self._interactive:
            self._out.print("[bold cyan]you>[/] ", end="")
        line: str = await asyncio.to_thread(self._stdin.readline)
        if not line:
            return None
        line = line.rstrip("\r\n")
        if not self._interactive:  # piped input: echo it so the output reads as a transcript
            self._out.print("[bold cyan]you>[/] ", end="")
            self._out.print(line, markup=False)
        return line

    async def _wait_until_printed(self, count: int) -> None:
        async with self._printed_changed:
            try:
                await asyncio.wait_for(
                    self._printed_changed.wait_for(lambda: self._printed >= count),
                    REPLY_WAIT_SECONDS,
                )
            except TimeoutError:
                self._out.print("[dim](the answer is taking longer than usual)[/]")

    def _banner(self) -> None:
        self._out.print(
            f"[dim]Touchpoint terminal — you are '{self._session}'. "
            "Write as a customer; Ctrl-D to leave.[/]"
        )

    def _show(self, message: OutboundMessage) -> None:
        self._out.print("[bold green]bot>[/] ", end="")
        self._out.print(message.text, markup=False)
        for number, option in enumerate(message.options, start=1):
            self._out.print(f"     [bold]{number})[/] ", end="")
            self._out.print(option.label, markup=False)
