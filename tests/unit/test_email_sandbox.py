"""The worker processes mail is read in: a job past a limit is refused with the reason and its
worker killed and replaced, other jobs go on, and the next job in the new worker is fine.

The workers are real processes (`python -m channels.email.sandbox`) running the jobs of
`tests/unit/sandbox_jobs.py`, and for the mail itself the real reader with hostile mail.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.model import InboundKind
from channels.email.inbound import Ours
from channels.email.mail import FetchedMail
from channels.email.reader import MailReader, ReadingConfig
from channels.email.sandbox import Refused, Sandbox, SandboxUnavailable
from channels.email.worker import Limits

JOBS = "tests.unit.sandbox_jobs"
PROJECT = Path(__file__).resolve().parents[2]
OURS = Ours(frozenset({"shop@example.com"}), "loop-token", frozenset({"example.com"}))
HEAD = (
    b"From: Kim Lee <kim@initech.example>\r\nTo: shop@example.com\r\nSubject: Chairs\r\n"
    b"Message-ID: <%d@initech.example>\r\nMIME-Version: 1.0\r\n"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
async def sandboxes() -> AsyncIterator[list[Sandbox]]:
    """Sandboxes a test makes, closed after it whatever happened."""
    made: list[Sandbox] = []
    yield made
    for sandbox in made:
        await sandbox.close()


async def started(made: list[Sandbox], job: str, limits: Limits, size: int = 1) -> Sandbox:
    sandbox = Sandbox(f"{JOBS}:{job}", limits, size)
    made.append(sandbox)
    await sandbox.start()
    return sandbox


# --- the pool ------------------------------------------------------------------------------


async def test_a_job_runs_in_a_worker_of_its_own(sandboxes: list[Sandbox]) -> None:
    sandbox = await started(sandboxes, "pid", Limits(seconds=5))
    [worker] = sandbox.pids()
    assert await sandbox.run(None) == worker != os.getpid()
    assert await sandbox.run(None) == worker  # one worker serves job after job


async def test_a_worker_holds_none_of_the_secrets_of_the_bot(
    sandboxes: list[Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAP_PASSWORD", "imap-secret")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:token-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://bot:db-secret@127.0.0.1/bot")
    sandbox = await started(sandboxes, "environment", Limits(seconds=5))
    seen = await sandbox.run(None)
    assert isinstance(seen, dict)
    assert not {"IMAP_PASSWORD", "TELEGRAM_BOT_TOKEN", "DATABASE_URL"} & set(seen)
    assert seen["PYTHONPATH"].split(os.pathsep)[0] == str(PROJECT)  # our code, not another


async def test_a_job_past_the_time_limit_kills_its_worker_and_a_new_one_serves(
    sandboxes: list[Sandbox],
) -> None:
    sandbox = await started(sandboxes, "nap", Limits(seconds=0.5))
    [stuck] = sandbox.pids()
    with pytest.raises(Refused, match=r"^took over 0\.5 s$"):
        await sandbox.run(30.0)
    assert not alive(stuck)  # killed, not merely left behind
    [fresh] = sandbox.pids()
    assert fresh != stuck
    assert await sandbox.run(0.01) == 0.01


async def test_a_spinning_job_is_stopped_by_the_cpu_limit_when_the_clock_is_generous(
    sandboxes: list[Sandbox],
) -> None:
    sandbox = await started(sandboxes, "spin", Limits(seconds=60, cpu_seconds=1))
    [spinning] = sandbox.pids()
    with pytest.raises(Refused, match=r"^used over 1 s of CPU$"):
        await sandbox.run(None)
    assert not alive(spinning)
    assert sandbox.pids() != [spinning]


async def test_a_job_past_the_memory_limit_is_refused_and_the_next_one_fits(
    sandboxes: list[Sandbox],
) -> None:
    sandbox = await started(sandboxes, "hoard", Limits(seconds=30, memory_mb=200))
    [hoarder] = sandbox.pids()
    with pytest.raises(Refused, match=r"^ran out of memory \(the limit is 200 MiB\)$"):
        await sandbox.run(400)
    assert not alive(hoarder)
    assert await sandbox.run(20) == 20


async def test_other_jobs_in_flight_go_on_while_one_is_killed(sandboxes: list[Sandbox]) -> None:
    sandbox = await started(sandboxes, "nap", Limits(seconds=1), size=2)
    stuck, quick = await asyncio.gather(sandbox.run(30.0), sandbox.run(0.2), return_exceptions=True)
    assert isinstance(stuck, Refused) and quick == 0.2
    assert len(sandbox.pids()) == 2


async def test_a_worker_killed_from_outside_is_replaced_and_its_job_tried_again(
    sandboxes: list[Sandbox],
) -> None:
    sandbox = await started(sandboxes, "nap", Limits(seconds=10))
    [victim] = sandbox.pids()
    running = asyncio.create_task(sandbox.run(0.5))
    await asyncio.sleep(0.1)
    os.kill(victim, 9)  # the kernel's OOM killer, an operator: not the job's doing
    assert await running == 0.5
    assert victim not in sandbox.pids()


async def test_a_job_that_kills_its_worker_twice_is_refused(sandboxes: list[Sandbox]) -> None:
    sandbox = await started(sandboxes, "die", Limits(seconds=10))
    with pytest.raises(Refused, match=r"^crashed its worker twice \(killed by SIGKILL\)$"):
        await sandbox.run(None)
    assert len(sandbox.pids()) == 1


async def test_a_job_that_raises_is_refused_and_its_worker_kept(
    sandboxes: list[Sandbox],
) -> None:
    sandbox = await started(sandboxes, "fail", Limits(seconds=10))
    [worker] = sandbox.pids()
    with pytest.raises(Refused, match=r"^failed: ValueError: no good: 7$"):
        await sandbox.run(7)
    assert sandbox.pids() == [worker]


async def test_closing_kills_every_worker_and_refuses_new_jobs(sandboxes: list[Sandbox]) -> None:
    sandbox = await started(sandboxes, "nap", Limits(seconds=30), size=2)
    workers = sandbox.pids()
    running = asyncio.create_task(sandbox.run(30.0))
    await asyncio.sleep(0.1)
    await sandbox.close()
    with pytest.raises(SandboxUnavailable):
        await running
    with pytest.raises(SandboxUnavailable):
        await sandbox.run(0.1)
    assert sandbox.pids() == [] and not any(alive(pid) for pid in workers)


async def test_a_job_that_cannot_be_loaded_leaves_the_sandbox_unavailable(
    sandboxes: list[Sandbox],
) -> None:
    sandbox = await started(sandboxes, "no_such_job", Limits(seconds=5))
    assert sandbox.pids() == []
    with pytest.raises(SandboxUnavailable, match="did not start"):
        await sandbox.run(None)


# --- mail ----------------------------------------------------------------------------------


@pytest.fixture
async def readers() -> AsyncIterator[list[MailReader]]:
    made: list[MailReader] = []
    yield made
    for reader in made:
        await reader.close()


async def reader_with(made: list[MailReader], limits: Limits) -> MailReader:
    reader = MailReader(OURS, ReadingConfig(workers=1, limits=limits))
    made.append(reader)
    await reader.start()
    return reader


def fetched(uid: int, raw: bytes) -> FetchedMail:
    return FetchedMail(uidvalidity=1, uid=uid, raw=raw)


def customer_mail(uid: int) -> bytes:
    return (
        HEAD % uid
        + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + b"--b\r\nContent-Type: text/plain\r\n\r\nTwo chairs arrived broken, photo attached.\r\n"
        + b'--b\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename="a.jpg"\r\n'
        + b"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRg==\r\n--b--\r\n"
    )


async def test_a_mail_comes_back_from_its_worker_with_its_files_and_its_bytes(
    readers: list[MailReader],
) -> None:
    reader = await reader_with(readers, Limits(seconds=10))
    raw = customer_mail(1)
    message = await reader.read(fetched(1, raw))
    assert message.kind is InboundKind.MESSAGE
    assert message.text == "Two chairs arrived broken, photo attached."
    assert [(f.name, f.mime_type, f.data) for f in message.files] == [
        ("a.jpg", "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF")
    ]
    assert message.raw == raw  # not sent back: the reader had the bytes


async def test_a_mail_the_parser_chokes_on_is_parked_and_the_next_one_is_read(
    readers: list[MailReader],
) -> None:
    """100,000 parameters in one Content-Type take the header parser minutes (no pre-scan
    catches it); the worker is killed at the limit and the mail parked with the reason."""
    reader = await reader_with(readers, Limits(seconds=1))
    params = b"; ".join(b"p%d=v" % n for n in range(100_000))
    hostile = HEAD % 2 + b"Content-Type: text/plain; " + params + b"\r\n\r\nhello\r\n"
    [worker] = reader.worker_pids()
    parked = await reader.read(fetched(2, hostile))
    assert (parked.kind, parked.reason) == (InboundKind.UNREADABLE, "parsing took over 1 s")
    assert parked.raw == hostile
    assert not alive(worker)
    assert (await reader.read(fetched(3, customer_mail(3)))).kind is InboundKind.MESSAGE


async def test_a_mail_that_needs_too_much_memory_is_parked_and_the_next_one_is_read(
    readers: list[MailReader],
) -> None:
    """20 MB of two-byte lines: the parser keeps a string per line, about 850 MiB."""
    reader = await reader_with(readers, Limits(seconds=30, memory_mb=256))
    hostile = HEAD % 4 + b"Content-Type: text/plain\r\n\r\n" + b"a\n" * 10_000_000
    parked = await reader.read(fetched(4, hostile))
    assert parked.kind is InboundKind.UNREADABLE
    assert parked.reason == "parsing ran out of memory (the limit is 256 MiB)"
    assert (await reader.read(fetched(5, customer_mail(5)))).kind is InboundKind.MESSAGE
