"""Leader leases (bot/leadership.py) on both engines: one holder at a time, takeover on expiry
or at once after a clean stop, a holder taken over can renew nothing and its work is cancelled.

Time is a fake clock and every pause a fake one the test lets pass: nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from bot.leadership import LeaderLease, Leadership
from storage.uow import Database
from tests.harness import FakeClock
from tests.waiting import eventually

LENGTH = timedelta(seconds=15)
NAME = "telegram-poller/123"


class Pauses:
    """A fake `pause`: each one waits until the test lets it pass, and says how long it was
    asked to be."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._passes: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await self._passes.get()

    async def let_one_pass(self) -> None:
        """Let the pause in hand end, and wait for the next one to begin."""
        waiting = len(self.asked)
        self._passes.put_nowait(None)
        await eventually(lambda: len(self.asked) > waiting, what="the next pause")


class Instance:
    """One instance's view: its leadership, its pauses, the leases it changed."""

    def __init__(self, database: Database, holder: str, clock: FakeClock) -> None:
        self.pauses = Pauses()
        self.changes: list[tuple[str, bool]] = []
        self.leadership = Leadership(
            database,
            holder,
            LENGTH,
            clock=clock,
            pause=self.pauses,
            on_change=lambda name, held: self.changes.append((name, held)),
        )
        self.lease = self.leadership.lease(NAME)


class Work:
    """What a leader does: runs until cancelled, and says when it started and stopped."""

    def __init__(self) -> None:
        self.started = 0
        self.cancelled = 0

    async def __call__(self) -> None:
        self.started += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


@pytest.fixture
def alpha(database: Database, clock: FakeClock) -> Instance:
    return Instance(database, "alpha", clock)


@pytest.fixture
def beta(database: Database, clock: FakeClock) -> Instance:
    return Instance(database, "beta", clock)


@contextmanager
def running(lease: LeaderLease, work: Work) -> Iterator[asyncio.Task[None]]:
    task = asyncio.create_task(lease.run_while_leader(work))
    try:
        yield task
    finally:
        task.cancel()


async def test_of_two_instances_only_one_takes_the_lease(alpha: Instance, beta: Instance) -> None:
    assert await alpha.lease.take()
    assert not await beta.lease.take()
    assert alpha.leadership.held() == {NAME: True}
    assert beta.leadership.held() == {NAME: False}


async def test_racing_instances_take_it_once(database: Database, clock: FakeClock) -> None:
    instances = [Instance(database, f"node-{n}", clock) for n in range(8)]
    taken = await asyncio.gather(*(instance.lease.take() for instance in instances))
    assert taken.count(True) == 1


async def test_an_expired_lease_is_taken_over_and_not_before(
    alpha: Instance, beta: Instance, clock: FakeClock
) -> None:
    assert await alpha.lease.take()
    clock.advance(seconds=LENGTH.total_seconds() - 1)
    assert not await beta.lease.take()
    clock.advance(seconds=2)
    assert await beta.lease.take()


async def test_a_holder_whose_lease_was_taken_over_cannot_renew_it(
    alpha: Instance, beta: Instance, clock: FakeClock
) -> None:
    assert await alpha.lease.take()
    clock.advance(seconds=LENGTH.total_seconds() + 1)
    assert await beta.lease.take()

    assert not await alpha.lease.renew()
    assert alpha.leadership.held() == {NAME: False}
    clock.advance(seconds=LENGTH.total_seconds() - 1)
    assert not await alpha.lease.take(), "beta's lease still runs: alpha's renewal changed nothing"


async def test_a_renewed_lease_is_not_taken_over(
    alpha: Instance, beta: Instance, clock: FakeClock
) -> None:
    assert await alpha.lease.take()
    clock.advance(seconds=10)
    assert await alpha.lease.renew()
    clock.advance(seconds=10)  # past the first expiry, within the renewed one
    assert not await beta.lease.take()


async def test_a_released_lease_is_taken_over_at_once(alpha: Instance, beta: Instance) -> None:
    assert await alpha.lease.take()
    await alpha.lease.release()
    assert await beta.lease.take()
    assert alpha.leadership.held() == {NAME: False}
    assert beta.leadership.held() == {NAME: True}


async def test_a_restarted_instance_takes_its_own_lease_back_at_once(
    database: Database, alpha: Instance, beta: Instance, clock: FakeClock
) -> None:
    assert await alpha.lease.take()
    restarted = Instance(database, "alpha", clock)  # killed: nothing was released
    assert await restarted.lease.take()
    assert not await beta.lease.take()
    assert not await alpha.lease.renew(), "the lease of before the restart is fenced off"
    assert await restarted.lease.renew()


async def test_the_leader_renews_its_lease_every_third_while_it_works(
    alpha: Instance, beta: Instance, clock: FakeClock
) -> None:
    work = Work()
    with running(alpha.lease, work):
        await eventually(lambda: work.started, what="the work started")
        await eventually(lambda: alpha.pauses.asked, what="the first heartbeat's pause")
        assert alpha.pauses.asked == [LENGTH.total_seconds() / 3]
        for _ in range(6):  # two lengths, renewed every third
            clock.advance(seconds=LENGTH.total_seconds() / 3)
            await alpha.pauses.let_one_pass()
        assert not await beta.lease.take()
        assert work.cancelled == 0
        assert alpha.leadership.held() == {NAME: True}


async def test_the_work_of_a_leader_taken_over_is_cancelled_and_it_stands_by(
    database: Database, alpha: Instance, clock: FakeClock
) -> None:
    # Beta's clock runs a lease ahead of alpha's: beta takes the lease over while alpha still
    # believes it holds it, as after a long pause of alpha's process.
    ahead = FakeClock(clock.now + LENGTH + timedelta(seconds=1))
    beta = Instance(database, "beta", ahead)
    work = Work()
    with running(alpha.lease, work) as task:
        await eventually(lambda: work.started, what="the work started")
        assert await beta.lease.take()

        await alpha.pauses.let_one_pass()  # the heartbeat: the renewal is refused

        await eventually(lambda: work.cancelled, what="the work cancelled")
        assert not task.done(), "alpha stands by"
        assert alpha.leadership.held() == {NAME: False}
        assert alpha.changes == [(NAME, False), (NAME, True), (NAME, False)]
        assert work.started == 1


async def test_a_leader_that_cannot_renew_stops_when_its_lease_runs_out(
    alpha: Instance, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = Work()
    with running(alpha.lease, work):
        await eventually(lambda: work.started, what="the work started")

        async def database_away() -> bool:
            raise ConnectionError("the database is away")

        monkeypatch.setattr(alpha.lease, "renew", database_away)
        third = LENGTH.total_seconds() / 3
        for _ in range(2):  # a renewal fails: it is tried again while time is left
            clock.advance(seconds=third)
            await alpha.pauses.let_one_pass()
            assert work.cancelled == 0
        clock.advance(seconds=third - 1)
        await alpha.pauses.let_one_pass()
        assert alpha.pauses.asked[-1] == 1.0, "the last try comes as the lease ends"
        assert work.cancelled == 0
        clock.advance(seconds=1)
        await alpha.pauses.let_one_pass()

        await eventually(lambda: work.cancelled, what="the work cancelled")
        # The database answers takes again (only renewals were failing here): alpha, whose
        # name the lease still bears, takes it back at once and works again.
        await eventually(lambda: work.started == 2, what="the work started again")
        assert alpha.changes == [(NAME, False), (NAME, True), (NAME, False), (NAME, True)]


async def test_a_standby_takes_over_when_the_leaders_lease_expires(
    alpha: Instance, beta: Instance, clock: FakeClock
) -> None:
    assert await alpha.lease.take()  # and then alpha crashes: nothing renews or releases it
    clock.advance(seconds=5)
    work = Work()
    with running(beta.lease, work):
        await eventually(lambda: beta.pauses.asked, what="beta standing by")
        # Beta looks again a third of the length later, or when the lease runs out if sooner.
        assert beta.pauses.asked == [5.0]
        clock.advance(seconds=5)
        await beta.pauses.let_one_pass()
        assert work.started == 0
        assert beta.pauses.asked[-1] == 5.0
        clock.advance(seconds=5.5)  # the lease ran out half a second ago
        await beta.pauses.let_one_pass()

        await eventually(lambda: work.started, what="beta's work started")
        assert beta.leadership.held() == {NAME: True}


async def test_a_clean_stop_hands_the_lease_over_at_once(alpha: Instance, beta: Instance) -> None:
    work = Work()
    with running(alpha.lease, work) as task:
        await eventually(lambda: work.started, what="the work started")
    with pytest.raises(asyncio.CancelledError):
        await task
    assert work.cancelled == 1
    assert alpha.leadership.held() == {NAME: False}
    assert await beta.lease.take()


async def test_work_that_fails_lets_the_lease_go_and_its_error_surfaces(
    alpha: Instance, beta: Instance
) -> None:
    async def failing() -> None:
        raise RuntimeError("the bot token is invalid")

    with pytest.raises(RuntimeError, match="invalid"):
        await alpha.lease.run_while_leader(failing)
    assert await beta.lease.take()


async def test_several_leases_are_held_apart(alpha: Instance, beta: Instance) -> None:
    mailbox = beta.leadership.lease("imap/sales@example.com@mail.example.com/INBOX")
    assert await alpha.lease.take()
    assert await mailbox.take()
    assert beta.leadership.held() == {NAME: False, mailbox.name: True}


async def test_two_running_instances_of_one_name_are_told_and_stop_taking_from_each_other(
    database: Database, alpha: Instance, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    twin = Instance(database, "alpha", clock)  # a second process with the same INSTANCE_NAME
    assert await alpha.lease.take()
    assert await twin.lease.take()  # "its own from before a restart", as far as it can tell

    assert not await alpha.lease.renew()  # alpha is alive: a restart's process would not renew

    [told] = [r for r in caplog.records if "INSTANCE_NAME" in r.getMessage()]
    assert told.levelname == "ERROR" and "telegram-poller/123" in told.getMessage()
    assert not await alpha.lease.take(), "alpha no longer takes the twin's unexpired lease"
    assert await twin.lease.renew()
    clock.advance(seconds=LENGTH.total_seconds() + 1)  # the twin died: alpha takes over
    assert await alpha.lease.take()


async def test_a_lease_lost_to_another_name_is_taken_back_when_free_and_nothing_is_said(
    alpha: Instance, beta: Instance, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    assert await alpha.lease.take()
    clock.advance(seconds=LENGTH.total_seconds() + 1)
    assert await beta.lease.take()
    assert not await alpha.lease.renew()
    await beta.lease.release()
    assert await alpha.lease.take()
    assert not [r for r in caplog.records if "INSTANCE_NAME" in r.getMessage()]


PRESENCE = "instance/alpha"


async def test_a_presence_of_a_dead_process_is_taken_once_it_ran_out(
    database: Database, clock: FakeClock
) -> None:
    """A restart after a crash finds its predecessor's presence unexpired: unlike other leases
    it does not take it as its own, but once it ran out."""
    crashed = Leadership(database, "alpha", LENGTH, clock=clock).lease(PRESENCE, free_only=True)
    restarted = Leadership(database, "alpha", LENGTH, clock=clock).lease(PRESENCE, free_only=True)
    assert await crashed.take()
    assert not await restarted.take()
    clock.advance(seconds=LENGTH.total_seconds() + 1)
    assert await restarted.take()


async def test_a_running_twin_keeps_the_other_waiting_and_is_named_in_the_log(
    database: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = Instance(database, "alpha", clock), Instance(database, "alpha", clock)
    first.lease = first.leadership.lease(PRESENCE, free_only=True)
    second.lease = second.leadership.lease(PRESENCE, free_only=True)
    work = Work()
    with running(first.lease, Work()), running(second.lease, work):
        await eventually(lambda: first.lease.holding, what="the first holds its presence")
        await eventually(lambda: len(second.pauses.asked) == 1, what="the second standing by")
        for _ in range(3):  # the first renews while the second looks again
            clock.advance(seconds=LENGTH.total_seconds() / 3)
            await first.pauses.let_one_pass()
            await second.pauses.let_one_pass()
        assert work.started == 0 and not second.lease.holding
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "another running instance is named 'alpha'" in errors[0]


async def test_no_lease_is_taken_as_its_own_before_the_presence_is_held(
    database: Database, clock: FakeClock
) -> None:
    """A process under a name another may be running under takes none of the name's leases
    from it: not the poller's, not the sender's, until it holds its presence."""
    running = Leadership(database, "alpha", LENGTH, clock=clock)
    assert await running.presence(PRESENCE).take()
    its_poller = running.lease(NAME)
    assert await its_poller.take()

    started = Leadership(database, "alpha", LENGTH, clock=clock)
    presence, poller = started.presence(PRESENCE), started.lease(NAME)
    assert not await presence.take()
    assert not await poller.take(), "taken from a process that may be running"

    # The first renews its poller's lease, then dies: its presence runs out first.
    clock.advance(seconds=LENGTH.total_seconds() / 2)
    assert await its_poller.renew()
    clock.advance(seconds=LENGTH.total_seconds() / 2 + 1)
    assert await presence.take()
    assert await poller.take(), "unexpired, and now surely its own from before a restart"
