"""The terminal channel: type as a customer, read the bot's answers.

Each terminal is one customer (`--as NAME` picks one; `touchpoint run` talks as the database's
own terminal customer) and delivers only that customer's messages: it declares its address
(`served_addresses`) and the relay leases no other, so a reply for another terminal waits for
that terminal. When it opens, the bot may speak first (a greeting, the pending question of an
unfinished flow). Options are shown as a
numbered list: answer with the number or the label. Colour when the terminal supports it (rich
honours NO_COLOR), plain text otherwise. Ctrl-D leaves; so do Ctrl-C and SIGTERM, at once
(the input is read without a thread), after the turn in hand is committed.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable
from typing import TextIO, TypeVar

from rich.console import Console

from bot.model import (
    Accept,
    AcceptResult,
    Address,
    Capabilities,
    InboundKind,
    InboundMessage,
    OutboundMessage,
    Sender,
    SendReceipt,
    ThrottledSendError,
)
from channels.terminal_input import LineReader

T = TypeVar("T")
REPLY_WAIT_SECONDS = 15.0
PROMPT = "[bold cyan]you>[/] "
CLEAR_LINE = "\r\x1b[2K"


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
        stdin = stdin or sys.stdin
        self._lines = LineReader(stdin)
        self._out = Console(file=stdout or sys.stdout, highlight=False, soft_wrap=True)
        self._printed = 0
        self._printed_changed = asyncio.Condition()
        self._interactive = stdin.isatty()
        self._prompting = False

    @property
    def address(self) -> Address:
        return Address(self.name, self._session)

    @property
    def served_addresses(self) -> frozenset[str]:
        """This terminal's customer only (`bot.model.ServesAddresses`): another terminal's
        replies wait for it, and are shown when that customer opens a terminal again."""
        return frozenset({self._session})

    async def run(self, accept: Accept) -> None:
        self._banner()
        try:
            await self._turn(accept, self._message(kind=InboundKind.OPENED))
            while (line := await self._read_line()) is not None:
                if line.strip():  # an empty line is no message: the prompt comes back
                    await self._turn(accept, self._message(line))
        finally:
            self._leave_prompt_line()

    async def send(self, message: OutboundMessage) -> SendReceipt:
        if message.address != self.address:
            # The relay leases no such row for us (served_addresses); should one come anyway,
            # it goes back to the outbox, unspent, for the terminal it is addressed to.
            raise ThrottledSendError("addressed to another terminal", retry_after=1.0)
        self._show(message)
        async with self._printed_changed:
            self._printed += 1
            self._printed_changed.notify_all()
        return SendReceipt(external_id=uuid.uuid4().hex)

    async def close(self) -> None:
        return None

    async def _turn(self, accept: Accept, message: InboundMessage) -> None:
        before = self._printed
        result: AcceptResult = await _to_the_end(accept(message))
        await self._wait_until_printed(before + result.replies)

    def _message(self, text: str = "", kind: InboundKind = InboundKind.MESSAGE) -> InboundMessage:
        return InboundMessage(
            external_id=uuid.uuid4().hex,
            address=self.address,
            sender=Sender(external_id=self._session, display_name=self._display_name),
            text=text,
            kind=kind,
        )

    async def _read_line(self) -> str | None:
        if self._interactive:
            self._out.print(PROMPT, end="")
        self._prompting = True
        line = await self._lines.readline()
        if line is None:
            return None  # Ctrl-D: still on the prompt's line, which leaving ends
        self._prompting = False
        if not self._interactive and line.strip():
            # piped input: echo it so the output reads as a transcript
            self._out.print(PROMPT, end="")
            self._out.print(line, markup=False)
        return line

    def _leave_prompt_line(self) -> None:
        # Ctrl-D or Ctrl-C at the prompt: the shell's prompt must start on a line of its own.
        if self._prompting and self._interactive:
            self._out.print()
        self._prompting = False

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
        waiting = self._prompting and self._interactive
        if waiting:  # a message nobody typed for (a rep, a follow-up): over the prompt
            self._out.file.write(CLEAR_LINE)
        self._out.print("[bold green]bot>[/] ", end="")
        self._out.print(message.text, markup=False)
        for number, option in enumerate(message.options, start=1):
            self._out.print(f"     [bold]{number})[/] ", end="")
            self._out.print(option.label, markup=False)
        if waiting:
            self._out.print(PROMPT, end="")


async def _to_the_end(work: Awaitable[T]) -> T:
    """`work` finished even when the caller is cancelled (Ctrl-C during a turn): the turn is
    committed or rolled back whole, its replies are delivered by the relay's drain, and then
    the cancellation goes on."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise
