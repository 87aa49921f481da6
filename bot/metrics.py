"""What one instance reports to Prometheus, and its health.

Counters and histograms are counted as things happen (a turn, a send); the backlog gauges are
read from the database when `/metrics` is scraped, so every instance of a shared PostgreSQL
reports the same backlog. A registry of our own per instance (never the process-wide default)
keeps tests and several apps in one process apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from storage.repos.health import Backlog
from storage.uow import Database

TURN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(slots=True)
class Metrics:
    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )
    turns: Counter = field(init=False)
    turn_seconds: Histogram = field(init=False)
    sends: Counter = field(init=False)
    unsent: Gauge = field(init=False)
    oldest_unsent: Gauge = field(init=False)
    parked: Gauge = field(init=False)
    timers_due: Gauge = field(init=False)
    leader: Gauge = field(init=False)

    def __post_init__(self) -> None:
        registry = self.registry
        self.turns = Counter(
            "touchpoint_turns", "Inbound messages taken, by channel and outcome.",
            ["channel", "outcome"], registry=registry,
        )  # fmt: skip
        self.turn_seconds = Histogram(
            "touchpoint_turn_seconds", "Seconds from taking an inbound message to its commit.",
            ["channel"], buckets=TURN_BUCKETS, registry=registry,
        )  # fmt: skip
        self.sends = Counter(
            "touchpoint_relay_sends", "Outbox rows the relay tried, by channel and outcome.",
            ["channel", "outcome"], registry=registry,
        )  # fmt: skip
        self.unsent = Gauge("touchpoint_outbox_unsent", "Replies not sent yet.", registry=registry)
        self.oldest_unsent = Gauge(
            "touchpoint_outbox_oldest_unsent_seconds",
            "Age of the oldest due unsent reply.",
            registry=registry,
        )
        self.parked = Gauge(
            "touchpoint_dead_letters", "Messages parked as dead letters.", registry=registry
        )
        self.timers_due = Gauge(
            "touchpoint_timers_due", "Timers due and not fired yet.", registry=registry
        )
        self.leader = Gauge(
            "touchpoint_leader", "1 while this instance holds the leader lease, 0 otherwise.",
            ["lease"], registry=registry,
        )  # fmt: skip

    def turn(self, channel: str, outcome: str, seconds: float) -> None:
        self.turns.labels(channel, outcome).inc()
        self.turn_seconds.labels(channel).observe(seconds)

    def sent(self, channel: str, outcome: str) -> None:
        self.sends.labels(channel, outcome).inc()

    def lease(self, name: str, held: bool) -> None:
        self.leader.labels(name).set(1 if held else 0)

    def backlog(self, found: Backlog, now: datetime) -> None:
        self.unsent.set(found.unsent)
        oldest = found.oldest_unsent_at
        self.oldest_unsent.set((now - oldest).total_seconds() if oldest else 0.0)
        self.parked.set(found.parked)
        self.timers_due.set(found.timers_due)

    async def exposition(self, database: Database, now: datetime) -> bytes:
        """The text `/metrics` answers, its gauges read from the database now."""
        self.backlog(await database.run(lambda uow: uow.health.backlog(now)), now)
        return generate_latest(self.registry)


TurnObserver = Callable[[str, str, float], None]
SendObserver = Callable[[str, str], None]


def ignore_turn(channel: str, outcome: str, seconds: float) -> None:
    """The observer of a dispatcher nobody watches (the CLI's, the tests')."""


def ignore_send(channel: str, outcome: str) -> None:
    """The observer of a relay nobody watches."""


def seconds_since(start: float) -> float:
    return time.perf_counter() - start
