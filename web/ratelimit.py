"""Sign-in attempts per client address in a sliding minute.

Kept in this process's memory: several console processes each allow the limit (a sign-in
secret has 256 bits, so the limit slows scanners and floods, it is not what keeps links safe).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000  # beyond this many addresses, the oldest are forgotten


@dataclass(slots=True)
class AttemptLimit:
    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, address: str) -> bool:
        """Count an attempt from `address`; False when it is one too many."""
        now = self.clock()
        attempts = self._seen.pop(address, None) or deque()
        while attempts and attempts[0] <= now - WINDOW_SECONDS:
            attempts.popleft()
        allowed = len(attempts) < self.per_minute
        if allowed:
            attempts.append(now)
        self._seen[address] = attempts  # most recent last: the first key is the stalest
        if len(self._seen) > MAX_ADDRESSES:
            del self._seen[next(iter(self._seen))]
        return allowed
