"""A fetched mail read into the shared model in a worker process, never on the event loop.

`MailReader.read` sends the mail's bytes to a worker of its `Sandbox`, which runs
`inbound.to_inbound` there (the MIME structure counted first, then parsed, classified, its files
decoded) and sends the message back without the bytes, which this side already holds. A mail
that passes the worker's time or memory limit is parked as UNREADABLE with the reason
("parsing took over 10 s"); the worker is replaced and other mails go on.

`ReadingAhead` reads the next mail in the worker while the current one's turn runs in this
process: the two overlap, on two CPUs. What it reads ahead is only read: handing it over,
and the watermark after it, come in their turn.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from typing import Protocol

from bot.model import InboundMessage
from channels.email.inbound import Ours, to_inbound, unreadable_mail
from channels.email.mail import FetchedMail
from channels.email.sandbox import Refused, Sandbox
from channels.email.worker import Limits

log = logging.getLogger(__name__)

JOB = "channels.email.reader:read_in_worker"


@dataclass(frozen=True, slots=True)
class ReadingConfig:
    workers: int = 1
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True, slots=True)
class MailJob:
    fetched: FetchedMail
    ours: Ours


class MailReader:
    def __init__(self, ours: Ours, config: ReadingConfig) -> None:
        self._ours = ours
        self._sandbox = Sandbox(JOB, config.limits, config.workers)

    async def start(self) -> None:
        await self._sandbox.start()

    async def read(self, fetched: FetchedMail) -> InboundMessage:
        """The mail as the core sees it; raises only `SandboxUnavailable` (no worker could be
        started: nothing was read, the mail should come again)."""
        try:
            message = await self._sandbox.run(MailJob(fetched, self._ours))
        except Refused as refused:
            log.warning("mail UID %s: parsing %s: parked", fetched.uid, refused.reason)
            return unreadable_mail(fetched, f"parsing {refused.reason}")
        assert isinstance(message, InboundMessage)
        return replace(message, raw=fetched.raw or None)

    async def close(self) -> None:
        await self._sandbox.close()

    def worker_pids(self) -> list[int]:
        return self._sandbox.pids()


class Reads(Protocol):
    async def read(self, fetched: FetchedMail) -> InboundMessage: ...


class ReadingAhead:
    """`read` a mail, or take the reading `start` began for it."""

    def __init__(self, reader: Reads) -> None:
        self._reader = reader
        self._started: dict[tuple[int, int], asyncio.Task[InboundMessage]] = {}

    def start(self, fetched: FetchedMail) -> None:
        key = (fetched.uidvalidity, fetched.uid)
        if key not in self._started:
            self._started[key] = asyncio.create_task(self._reader.read(fetched))

    async def read(self, fetched: FetchedMail) -> InboundMessage:
        key = (fetched.uidvalidity, fetched.uid)
        self._forget_all_but_after(key)
        started = self._started.pop(key, None)
        if started is None:
            return await self._reader.read(fetched)
        return await started

    def cancel(self) -> None:
        self._forget_all_but_after((-1, 0))

    def _forget_all_but_after(self, key: tuple[int, int]) -> None:
        """Readings of mails before this one (or of another UIDVALIDITY) will not be asked for:
        the sweep that began them stopped, and the next one starts at the watermark."""
        for other in [k for k in self._started if k[0] != key[0] or k[1] < key[1]]:
            self._started.pop(other).cancel()


def read_in_worker(job: MailJob) -> InboundMessage:
    """What a worker runs: the message without its raw bytes (the parent has them)."""
    return replace(to_inbound(job.fetched, job.ours), raw=None)
