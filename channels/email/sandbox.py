"""Worker processes that run one job at a time under limits: how mail is read.

The standard library's mail and HTML parsers can be made to spend minutes and hundreds of MiB
on one hostile mail (quadratic paths, CVE-2025-6069 among them). On the event loop that would
stall every channel of the process; a `Sandbox` runs such work in child processes instead:

- A worker is `python -P -m channels.email.worker`: it imports the job's module and nothing of
  the program (multiprocessing's spawn and forkserver import the parent's main module in every
  child — under the `touchpoint` script, the whole application: 2 s and 100 MiB a worker). The
  two speak length-prefixed pickles over the worker's stdin and stdout (`worker.py`). Of the
  environment it gets only Python's, the locale's and the paths: the bot's tokens and passwords
  stay out of the process that reads hostile mail.
- Before its first job a worker limits itself: its address space (RLIMIT_AS, so an allocation
  past it raises MemoryError, which it reports before it exits), no core files, and per job its
  CPU time (RLIMIT_CPU: SIGXCPU ends it even when no parent is left to).
- The parent gives every job a wall-clock limit. Past it the worker is killed (merely ceasing to
  wait would leave it spinning) and a new one started.

Guarantees: `run` never blocks the event loop. It returns the job's result, or raises `Refused`
with the reason when the job passed a limit or raised; only the worker that ran it is replaced,
and jobs in other workers go on. A worker that dies of something else (killed from outside) is
replaced and its job tried once more in the new one; when that dies too, the job is refused.
`SandboxUnavailable` means no worker could be started and nothing was tried: try again later.
Not guaranteed: anything about a job that does not return picklable data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import sys
from pathlib import Path

from channels.email.worker import HEADER, Answer, Limits, Outcome

log = logging.getLogger(__name__)

MODULE = "channels.email.worker"
ROOT = Path(__file__).resolve().parents[2]  # where `channels` is imported from
START_SECONDS = 60.0  # a worker's interpreter and imports, on a loaded machine
READ_LIMIT = 1024 * 1024
PASSED_ON = ("PYTHON", "PATH", "LANG", "LC_", "TZ", "TMPDIR")  # environment a worker gets


class Refused(Exception):
    """The job passed a limit or raised; `reason` says which ("took over 10 s")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SandboxUnavailable(Exception):
    """No worker could be started (or the sandbox is closed); the job was not tried."""


class Sandbox:
    """`size` workers running `job` ("module:function", a function of one picklable argument
    that returns picklable data) under `limits`."""

    def __init__(self, job: str, limits: Limits, size: int = 1) -> None:
        self._job = job
        self._limits = limits
        self._size = size
        self._idle: asyncio.Queue[_Worker | None] = asyncio.Queue()
        self._workers: set[_Worker] = set()
        self._closed = False

    async def start(self) -> None:
        """Start the workers; one that cannot start is tried again when a job needs it."""
        for _ in range(self._size):
            self._idle.put_nowait(await self._spawn_or_none())

    async def run(self, job: object) -> object:
        """`job` run by a worker: its result, or `Refused`, or `SandboxUnavailable`."""
        outcome = await self._attempt(job)
        if outcome.answer is Answer.DIED:
            log.warning("a mail worker died (%s): trying its job once more", outcome.value)
            outcome = await self._attempt(job)
        return self._result(outcome)

    async def close(self) -> None:
        """Kill every worker, busy or idle; `run` refuses from now on."""
        self._closed = True
        for worker in list(self._workers):
            await self._retire(worker)
        for _ in range(self._size):
            self._idle.put_nowait(None)  # whoever waits for a worker learns it is closed

    def pids(self) -> list[int]:
        """The live workers' process ids (for tests and logs)."""
        return sorted(worker.pid for worker in self._workers)

    async def _attempt(self, job: object) -> Outcome:
        worker = await self._take()
        try:
            outcome = await worker.call(job, self._limits.seconds)
        except BaseException:  # cancelled mid-job: the worker's state is unknown
            await self._retire(worker)
            self._idle.put_nowait(None)
            raise
        if outcome.answer in (Answer.DONE, Answer.FAILED):
            self._idle.put_nowait(worker)
            return outcome
        if outcome.answer is Answer.DIED:
            outcome = _died(await worker.exit_status())
        log.warning("mail worker %d %s: starting another", worker.pid, outcome.answer.value)
        await self._retire(worker)
        self._idle.put_nowait(await self._spawn_or_none())
        return outcome

    def _result(self, outcome: Outcome) -> object:
        limits = self._limits
        if outcome.answer is Answer.DONE:
            return outcome.value
        if outcome.answer is Answer.FAILED:
            raise Refused(f"failed: {outcome.value}")
        if outcome.answer is Answer.TIMED_OUT:
            raise Refused(f"took over {limits.seconds:g} s")
        if outcome.answer is Answer.OUT_OF_MEMORY:
            raise Refused(f"ran out of memory (the limit is {limits.memory_mb} MiB)")
        if outcome.answer is Answer.OUT_OF_CPU:
            raise Refused(f"used over {limits.job_cpu_seconds} s of CPU")
        raise Refused(f"crashed its worker twice ({_describe_exit(outcome.value)})")

    async def _take(self) -> _Worker:
        if self._closed:
            raise SandboxUnavailable("the mail workers are closed")
        worker = await self._idle.get()
        if worker is not None and worker.alive:
            return worker
        if worker is not None:
            await self._retire(worker)
        try:
            return await self._spawn()
        except BaseException:
            self._idle.put_nowait(None)
            raise

    async def _spawn_or_none(self) -> _Worker | None:
        try:
            return await self._spawn()
        except SandboxUnavailable as error:
            log.error("%s; it is tried again when a mail comes", error)
            return None

    async def _spawn(self) -> _Worker:
        if self._closed:
            raise SandboxUnavailable("the mail workers are closed")
        worker = await _Worker.start(self._job, self._limits)
        self._workers.add(worker)
        return worker

    async def _retire(self, worker: _Worker) -> None:
        self._workers.discard(worker)
        await worker.kill()


class _Worker:
    """The parent's side of one worker process."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.pid = process.pid

    @classmethod
    async def start(cls, job: str, limits: Limits) -> _Worker:
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-P", "-m", MODULE,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                env=_environment(), limit=READ_LIMIT,
            )  # fmt: skip
        except OSError as error:
            raise SandboxUnavailable(f"a mail worker cannot be started: {error}") from error
        worker = cls(process)
        try:
            await asyncio.wait_for(worker._greet(job, limits), START_SECONDS)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, EOFError) as error:
            await worker.kill()
            raise SandboxUnavailable(f"a mail worker did not start: {error!r}") from error
        return worker

    @property
    def alive(self) -> bool:
        return self._process.returncode is None

    async def call(self, job: object, seconds: float) -> Outcome:
        try:
            async with asyncio.timeout(seconds):
                return await self._exchange(job)
        except TimeoutError:
            return Outcome(Answer.TIMED_OUT)
        except (OSError, asyncio.IncompleteReadError, EOFError):
            return Outcome(Answer.DIED)

    async def exit_status(self) -> int | None:
        """The exit status of a worker whose pipe closed (it has exited, or is about to)."""
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self._process.wait(), 5)
        return None

    async def kill(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
        await self._process.wait()

    async def _greet(self, job: str, limits: Limits) -> None:
        await self._send((job, limits))
        outcome = await self._receive()
        if outcome.answer is not Answer.READY:
            raise EOFError(f"the worker answered {outcome.answer.value}: {outcome.value}")

    async def _exchange(self, job: object) -> Outcome:
        await self._send(job)
        return await self._receive()

    async def _send(self, item: object) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        stdin.write(HEADER.pack(len(data)) + data)
        await stdin.drain()

    async def _receive(self) -> Outcome:
        stdout = self._process.stdout
        assert stdout is not None
        (size,) = HEADER.unpack(await stdout.readexactly(HEADER.size))
        # our own worker wrote this pickle of our own types; what a mail holds is data in it
        outcome = pickle.loads(await stdout.readexactly(size))
        assert isinstance(outcome, Outcome)
        return outcome


def _died(status: int | None) -> Outcome:
    if status == -signal.SIGXCPU:
        return Outcome(Answer.OUT_OF_CPU)
    return Outcome(Answer.DIED, status)


def _environment() -> dict[str, str]:
    """What a worker needs of the parent's environment, with the parent's code first on its
    path; not the rest: the process that reads hostile mail holds no tokens or passwords."""
    kept = {name: value for name, value in os.environ.items() if name.startswith(PASSED_ON)}
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**kept, "PYTHONPATH": os.pathsep.join(paths)}


def _describe_exit(status: int | None) -> str:
    if status is None:
        return "it did not exit"
    if status < 0:
        return f"killed by {signal.Signals(-status).name}"
    return f"exit status {status}"
