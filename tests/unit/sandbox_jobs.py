"""Jobs for the sandbox's tests, imported by its worker processes by name."""

from __future__ import annotations

import os
import signal
import time


def echo(item: object) -> object:
    return item


def pid(_item: object) -> int:
    return os.getpid()


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def spin(_item: object) -> None:
    while True:
        pass


def hoard(megabytes: int) -> int:
    kept = [bytearray(1024 * 1024) for _ in range(megabytes)]
    return len(kept)


def fail(item: object) -> None:
    raise ValueError(f"no good: {item}")


def die(_item: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def environment(_item: object) -> dict[str, str]:
    return dict(os.environ)
