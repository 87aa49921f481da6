"""Pacing of Telegram sends on a fake clock: what it lets through, and the wait it asks for.

A send is either admitted (`None` below) or held with the reason, the seconds to wait and
whether the whole channel waits. The numbers are binary fractions, so the waits are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.model import ThrottledSendError
from channels.telegram.pacing import OVERALL_WINDOW, Pacing


@dataclass
class Seconds:
    """A monotonic clock that moves only when the test says so."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True, slots=True)
class Held:
    reason: str
    retry_after: float
    whole_channel: bool = False


def send(pacing: Pacing, chat: str) -> Held | None:
    try:
        pacing.admit(chat)
    except ThrottledSendError as held:
        assert held.retry_after is not None
        return Held(held.reason, held.retry_after, held.whole_channel)
    return None


def sends(pacing: Pacing, chat: str, count: int) -> list[Held | None]:
    return [send(pacing, chat) for _ in range(count)]


@pytest.fixture
def clock() -> Seconds:
    return Seconds()


# --- one chat --------------------------------------------------------------------------------


def test_a_chat_sends_a_burst_of_three_then_waits_a_second(clock: Seconds) -> None:
    pacing = Pacing(per_chat=1.0, overall=0, clock=clock)

    assert sends(pacing, "ann", 3) == [None, None, None]
    assert send(pacing, "ann") == Held("pace of this chat", retry_after=1.0)


def test_the_wait_it_reports_shrinks_as_time_passes_and_then_the_send_goes(
    clock: Seconds,
) -> None:
    pacing = Pacing(per_chat=1.0, overall=0, clock=clock)
    sends(pacing, "ann", 3)

    clock.advance(0.25)
    assert send(pacing, "ann") == Held("pace of this chat", retry_after=0.75)
    clock.advance(0.5)
    assert send(pacing, "ann") == Held("pace of this chat", retry_after=0.25)
    clock.advance(0.25)
    assert send(pacing, "ann") is None
    assert send(pacing, "ann") == Held("pace of this chat", retry_after=1.0)


def test_waiting_the_reported_time_is_enough(clock: Seconds) -> None:
    pacing = Pacing(per_chat=2.0, overall=0, clock=clock)
    sends(pacing, "ann", 3)

    held = send(pacing, "ann")
    assert held == Held("pace of this chat", retry_after=0.5)
    clock.advance(held.retry_after)
    assert send(pacing, "ann") is None


def test_a_quiet_chat_gets_its_burst_back_but_no_more(clock: Seconds) -> None:
    pacing = Pacing(per_chat=1.0, overall=0, clock=clock)
    sends(pacing, "ann", 3)

    clock.advance(60)  # a minute of silence earns a burst of three, not sixty sends
    assert sends(pacing, "ann", 4) == [None, None, None, Held("pace of this chat", 1.0)]


def test_a_busy_chat_does_not_hold_the_others(clock: Seconds) -> None:
    pacing = Pacing(per_chat=1.0, overall=0, clock=clock)

    assert sends(pacing, "ann", 4)[-1] == Held("pace of this chat", 1.0)
    assert sends(pacing, "bob", 3) == [None, None, None]
    assert send(pacing, "bob") == Held("pace of this chat", 1.0)


# --- the whole bot ---------------------------------------------------------------------------


def test_the_whole_bot_is_held_at_the_overall_rate(clock: Seconds) -> None:
    pacing = Pacing(per_chat=0, overall=4.0, clock=clock)

    assert send(pacing, "chat-1") is None
    assert send(pacing, "chat-2") == Held("overall pace", 0.25, whole_channel=True)
    clock.advance(0.25)
    assert send(pacing, "chat-2") is None


def test_over_a_second_the_bot_sends_no_more_than_the_overall_rate(clock: Seconds) -> None:
    pacing = Pacing(per_chat=0, overall=4.0, clock=clock)

    admitted = 0
    for step in range(8):  # every chat tries once, eight times a second
        admitted += send(pacing, f"chat-{step}") is None
        clock.advance(0.125)

    assert admitted == 4


def test_the_defaults_allow_a_small_burst_then_thirty_a_second(clock: Seconds) -> None:
    pacing = Pacing(clock=clock)

    assert [send(pacing, f"chat-{n}") for n in range(3)] == [None, None, None]
    held = send(pacing, "chat-3")
    assert held is not None
    assert (held.reason, held.whole_channel) == ("overall pace", True)
    assert held.retry_after == pytest.approx(1 / 30)


def test_a_second_after_a_burst_the_cap_holds_what_the_bucket_would_let_through(
    clock: Seconds,
) -> None:
    pacing = Pacing(per_chat=0, overall=4.0, clock=clock)
    for _ in range(4):  # one from the burst, then one a quarter-second
        assert send(pacing, "ann") is None
        clock.advance(0.25)

    held = send(pacing, "bob")  # the bucket has a token, but 4 went out in the last second
    assert held is not None
    assert (held.reason, held.whole_channel) == ("overall pace", True)
    assert held.retry_after == pytest.approx(OVERALL_WINDOW - 1.0)
    clock.advance(held.retry_after)
    assert send(pacing, "bob") is None


def test_no_second_holds_more_than_the_overall_rate_however_often_the_relay_asks(
    clock: Seconds,
) -> None:
    pacing = Pacing(clock=clock)  # the defaults: 30 a second, a burst of 3
    admitted: list[float] = []
    for _ in range(3):  # busy for a second and a half, then quiet long enough to refill
        for _ in range(1500):
            if send(pacing, f"chat-{len(admitted)}") is None:
                admitted.append(clock.now)
            clock.advance(0.001)
        clock.advance(2.0)

    most = max(sum(1 for t in admitted if at <= t < at + 1.0) for at in admitted)
    assert most == 30
    # each busy spell: the burst of 3, then about 30 a second for a second and a half
    assert 3 * 40 <= len(admitted) <= 3 * (3 + 45)


def test_a_send_held_for_its_chat_takes_no_slot_from_the_others(clock: Seconds) -> None:
    pacing = Pacing(per_chat=1.0, overall=4.0, clock=clock)
    for _ in range(3):  # ann spends her burst at the overall rate
        assert send(pacing, "ann") is None
        clock.advance(0.25)

    assert send(pacing, "ann") == Held("pace of this chat", 0.25)
    assert send(pacing, "bob") is None  # the overall slot ann was refused is still there


def test_when_both_limits_are_reached_the_whole_channel_waits(clock: Seconds) -> None:
    pacing = Pacing(per_chat=1.0, overall=4.0, clock=clock)
    for _ in range(3):
        send(pacing, "ann")
        clock.advance(0.25)
    assert send(pacing, "ann") == Held("pace of this chat", 0.25)
    assert send(pacing, "bob") is None

    # four sends in the last 0.75 s: the cap's wait is longer than the bucket's 0.25 s
    held = send(pacing, "ann")
    assert held is not None
    assert (held.reason, held.whole_channel) == ("overall pace", True)
    assert held.retry_after == pytest.approx(OVERALL_WINDOW - 0.75)


# --- limits lifted, and Telegram's 429 ---------------------------------------------------------


def test_limits_of_zero_let_everything_through(clock: Seconds) -> None:
    pacing = Pacing(per_chat=0, overall=0, clock=clock)

    assert sends(pacing, "ann", 1000) == [None] * 1000


def test_a_chat_limit_of_zero_still_keeps_the_overall_one(clock: Seconds) -> None:
    pacing = Pacing(per_chat=0, overall=4.0, clock=clock)

    assert sends(pacing, "ann", 2) == [None, Held("overall pace", 0.25, whole_channel=True)]


def test_an_overall_limit_of_zero_still_keeps_the_chat_one(clock: Seconds) -> None:
    pacing = Pacing(per_chat=1.0, overall=0, clock=clock)

    assert sends(pacing, "ann", 4)[-1] == Held("pace of this chat", 1.0)
    assert sends(pacing, "bob", 3) == [None, None, None]


def test_a_pause_after_a_429_holds_every_chat_until_it_ends(clock: Seconds) -> None:
    pacing = Pacing(per_chat=0, overall=0, clock=clock)

    pacing.pause(2.0)
    assert send(pacing, "ann") == Held("flood control", 2.0, whole_channel=True)
    clock.advance(1.5)
    assert send(pacing, "bob") == Held("flood control", 0.5, whole_channel=True)
    pacing.pause(0.25)  # a shorter pause does not end the longer one early
    assert send(pacing, "bob") == Held("flood control", 0.5, whole_channel=True)
    clock.advance(0.5)
    assert send(pacing, "ann") is None
