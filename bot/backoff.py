"""The one backoff of the program: exponential, capped, with full jitter.

Every loop that retries (the relay's sends, IMAP reconnects, Telegram polling, failed timers)
waits `full_jitter(...)`: a uniform draw between 0 and the capped exponential ceiling, so that
many clients failing at once come back spread out instead of together (the "full jitter" of
AWS's "Exponential Backoff And Jitter", which keeps both the total work and the completion
time low). Importable by channels: it depends on nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable

MAX_DOUBLINGS = 32  # beyond this the ceiling is the cap anyway; keeps 2**n small


def full_jitter(
    failures: int,
    *,
    base: float,
    cap: float,
    draw: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after `failures` failures in a row (1 for the first): a draw from
    [0, min(cap, base · 2^(failures - 1))]. `draw` returns a number in [0, 1)."""
    doublings = min(max(failures - 1, 0), MAX_DOUBLINGS)
    return min(cap, base * 2.0**doublings) * draw()
