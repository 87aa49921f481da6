from __future__ import annotations

from handlers.lead_scoring import score_lead


def test_empty_answers_score_zero() -> None:
    assert score_lead({}) == 0


def test_each_answer_adds_its_points() -> None:
    assert score_lead({"need": "a quote"}) == 20
    assert score_lead({"need": "a quote for forty standing desks for our new office"}) == 30
    assert score_lead({"need": "x", "company": "Acme"}) == 35
    assert score_lead({"need": "x", "email": "a@b.example", "phone": "+4420"}) == 50
    assert score_lead({"budget": "not sure"}) == 15
    assert score_lead({"budget": "about 5000 EUR"}) == 20
    assert score_lead({"timeline": "next year"}) == 10
    assert score_lead({"timeline": "ASAP"}) == 15
    assert score_lead({"timeline": "срочно"}) == 15


def test_score_is_capped_at_100() -> None:
    answers = {
        "need": "forty standing desks with cable trays and monitor arms for the office",
        "company": "Acme",
        "email": "a@b.example",
        "phone": "+442079460958",
        "budget": "20000",
        "timeline": "this month",
    }
    assert score_lead(answers) == 100
