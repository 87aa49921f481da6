"""One worker process of the mail sandbox (`sandbox.py`): `python -P -m channels.email.worker`.

It reads frames from stdin — an 8-byte length, then a pickle — and answers each on stdout the
same way. The first frame names the job ("module:function") and the `Limits`; the worker then
confines itself (its address space, no core files), imports the job's module and answers READY.
Every later frame is one job's argument, answered with an `Outcome`: DONE with the result,
FAILED with what the job raised, or OUT_OF_MEMORY, after which the worker exits rather than go on
with a heap that just ran dry. Before each job the CPU limit moves to what the worker has used
plus the job's allowance: past it, SIGXCPU ends the worker even if no parent is left to.
"""

from __future__ import annotations

import importlib
import math
import os
import pickle
import resource
import signal
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import IO, Any

MiB = 1024 * 1024
HEADER = struct.Struct(">Q")  # the length of the pickle that follows
CPU_GRACE_SECONDS = 5  # the CPU limit backs the wall clock up; it is not meant to come first


@dataclass(frozen=True, slots=True)
class Limits:
    seconds: float = 10.0  # wall clock for one job
    memory_mb: int = 512  # a worker's whole address space
    cpu_seconds: int | None = None  # CPU time of one job; by default a little over `seconds`

    @property
    def job_cpu_seconds(self) -> int:
        return self.cpu_seconds or math.ceil(self.seconds) + CPU_GRACE_SECONDS


class Answer(Enum):
    """What became of a job (or of a worker's start)."""

    # what a worker answers
    READY = "ready"
    DONE = "done"
    FAILED = "failed"  # the job raised: the text says what
    OUT_OF_MEMORY = "ran out of memory"
    # what the parent finds
    TIMED_OUT = "timed out"
    OUT_OF_CPU = "ran out of CPU time"
    DIED = "died"  # the worker's pipe closed without an answer, for no reason of the job's


@dataclass(frozen=True, slots=True)
class Outcome:
    """An answer, with the job's result (DONE), what it raised (FAILED) or an exit status."""

    answer: Answer
    value: Any = None


def serve(reader: IO[bytes], writer: IO[bytes]) -> None:
    """Run jobs from `reader` until it closes; the first frame names the job and the limits."""
    work, limits = _start(reader, writer)
    while (outcome := _next(reader, work, limits)) is not None:
        _answer(writer, outcome)
        if outcome.answer is Answer.OUT_OF_MEMORY:
            return  # a fresh process for the next job, not a heap that just ran dry


def _start(reader: IO[bytes], writer: IO[bytes]) -> tuple[Callable[[object], object], Limits]:
    greeting = _read(reader)  # the parent's first frame: (job, limits)
    assert isinstance(greeting, tuple) and len(greeting) == 2
    job, limits = greeting
    assert isinstance(job, str) and isinstance(limits, Limits)
    _confine(limits)
    work = _load(job)
    _write(writer, Outcome(Answer.READY))
    return work, limits


def _next(reader: IO[bytes], work: Callable[[object], object], limits: Limits) -> Outcome | None:
    """The outcome of the next job; None when the parent closed the pipe (or is gone)."""
    try:
        item = _read(reader)
    except EOFError:
        return None
    except MemoryError:  # the job's argument alone is over the limit
        return Outcome(Answer.OUT_OF_MEMORY)
    _limit_cpu(limits.job_cpu_seconds)
    return _run(work, item)


def _run(work: Callable[[object], object], item: object) -> Outcome:
    try:
        return Outcome(Answer.DONE, work(item))
    except MemoryError:
        return Outcome(Answer.OUT_OF_MEMORY)
    except Exception as error:  # reported with the job; the worker goes on
        return Outcome(Answer.FAILED, f"{type(error).__name__}: {error}"[:500])


def _answer(writer: IO[bytes], outcome: Outcome) -> None:
    try:
        _write(writer, outcome)
    except MemoryError:  # the result was too large to pickle within the limit
        _write(writer, Outcome(Answer.OUT_OF_MEMORY))


def _confine(limits: Limits) -> None:
    memory = limits.memory_mb * MiB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Ctrl+C in a terminal reaches the whole process group: the parent stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _limit_cpu(seconds: int) -> None:
    """Let the next job use `seconds` of CPU more than the worker has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime) + seconds
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _load(job: str) -> Callable[[object], object]:
    module, _, name = job.partition(":")
    function = getattr(importlib.import_module(module), name)
    if not callable(function):
        raise TypeError(f"{job} is not a function")
    return function  # type: ignore[no-any-return]


def _read(reader: IO[bytes]) -> object:
    header = reader.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError
    (size,) = HEADER.unpack(header)
    data = reader.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def _write(writer: IO[bytes], outcome: Outcome) -> None:
    data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(HEADER.pack(len(data)) + data)
    writer.flush()


def main() -> None:
    reader = sys.stdin.buffer
    writer = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not break a frame
    serve(reader, writer)


if __name__ == "__main__":
    # run as the module's own name, so that pickles name its types the way the parent does
    from channels.email.worker import main as serve_as_module

    serve_as_module()
