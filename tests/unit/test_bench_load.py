"""The open-loop load benchmark's bookkeeping: when updates are due, and which reply is whose."""

from __future__ import annotations

import pytest

from bench.load import (
    FIRST_CHAT,
    Figures,
    Posted,
    achieved_rate,
    chat_of,
    reply_delays,
    report,
    schedule,
)
from bench.rounds import percentile
from tests.fakes.telegram import SentMessage


def posted(chat_id: int, due: float, late: float = 0.0) -> Posted:
    return Posted(chat_id, due, late, answered=due + 0.01, status=200)


def reply(chat_id: int, at: float) -> SentMessage:
    return SentMessage(chat_id, 1, "ok", None, at, "sendMessage", None, "ok")


def test_updates_are_due_evenly_at_the_rate() -> None:
    assert schedule(4, 2) == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def test_chats_take_turns() -> None:
    assert [chat_of(n, 3) - FIRST_CHAT for n in range(7)] == [0, 1, 2, 0, 1, 2, 0]


def test_a_chats_replies_answer_its_updates_in_order() -> None:
    updates = [posted(1, 0.0), posted(2, 0.5), posted(1, 1.0)]
    replies = [reply(1, 0.2), reply(2, 0.6), reply(1, 1.5)]
    assert reply_delays(updates, replies) == pytest.approx([0.2, 0.1, 0.5])


def test_replies_are_matched_whatever_order_the_chats_were_answered_in() -> None:
    updates = [posted(1, 0.0), posted(2, 0.1)]
    assert reply_delays(updates, [reply(2, 0.3), reply(1, 0.4)]) == pytest.approx([0.4, 0.2])


def test_an_unanswered_update_fails_the_run() -> None:
    with pytest.raises(RuntimeError, match="replies ≠ updates in 1 chats"):
        reply_delays([posted(1, 0.0), posted(1, 1.0)], [reply(1, 0.5)])


def test_a_second_reply_fails_the_run() -> None:
    with pytest.raises(RuntimeError, match="replies ≠ updates in 1 chats"):
        reply_delays([posted(1, 0.0)], [reply(1, 0.5), reply(1, 0.6)])


def test_a_reply_to_a_chat_never_written_to_fails_the_run() -> None:
    with pytest.raises(RuntimeError, match="1 chats never written to"):
        reply_delays([posted(1, 0.0)], [reply(1, 0.5), reply(9, 0.6)])


def test_the_achieved_rate_counts_from_the_first_send_to_the_last_as_they_left() -> None:
    assert achieved_rate([posted(1, 0.0), posted(1, 0.5), posted(1, 1.0, late=1.0)]) == 1.0
    assert achieved_rate([posted(1, 0.0)]) == 0.0


def test_percentiles_are_values_that_were_measured() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0


def test_a_percentile_on_a_rank_boundary_is_the_value_at_that_rank() -> None:
    assert percentile([float(n) for n in range(1, 21)], 0.95) == 19.0
    assert percentile([float(n) for n in range(1, 101)], 0.07) == 7.0


def test_the_report_has_a_figure_under_every_heading(capsys: pytest.CaptureFixture[str]) -> None:
    figures = Figures([0.01, 0.02], [0.5, 0.6], 100.0, 0.002, 250.0, 280.0)
    report(["empty database"], [[figures, figures, figures]])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["empty", "database", "10.0"]
    assert lines[1].endswith("250 (250–250) MB  280 (280–280) MB")
