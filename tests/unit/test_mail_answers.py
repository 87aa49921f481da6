"""Answers to the bot's lead mail, read however they are written."""

from __future__ import annotations

from bot.records import LeadField
from handlers.leads_email import read_answers

ASKED = ("name", "company", "budget", "timeline")
QUESTIONS: dict[str, LeadField] = {
    "your name": "name",
    "your company (if any)": "company",
    "budget (optional)": "budget",
}


def test_labelled_lines_are_checked_against_their_field() -> None:
    text = "Name: Ivo Marek\nCompany: none, private purchase\nDeadline: next week"
    assert read_answers(text, "en", ASKED) == {
        "name": "Ivo Marek",
        "company": "",
        "timeline": "next week",
    }


def test_numbered_answers_follow_the_order_asked() -> None:
    text = "1. Ivo Marek\n2. Marek Print s.r.o.\n3. about 2k\n4. in April"
    answers = read_answers(text, "en", ASKED)
    assert (answers["name"], answers["company"], answers["budget"]) == (
        "Ivo Marek",
        "Marek Print s.r.o",
        "about 2k",
    )


def test_sentences_are_read_for_each_field() -> None:
    text = "I'm Ivo Marek, I work at Marek Print. We could spend up to 2,000 euros, by April."
    assert read_answers(text, "en", ASKED) == {
        "name": "Ivo Marek",
        "company": "Marek Print",
        "budget": "up to 2,000 euros",
        "timeline": "by April",
    }


def test_lines_under_each_quoted_question_answer_it() -> None:
    text = (
        "Ivo Marek\n\n> 2. Your company (if any)\n\nMarek Print\n\n> 3. Budget (optional)\n\n"
        "2k\n\n> A few words on each line are enough.\n\nIvo"
    )
    answers = read_answers(text, "en", ASKED, QUESTIONS)
    assert (answers["name"], answers["company"], answers["budget"]) == (
        "Ivo Marek",
        "Marek Print",
        "2k",
    )


def test_a_russian_answer_in_prose() -> None:
    text = "Меня зовут Ива Маркова, работаю в компании «Печатник». Бюджета нет, нужно к маю."
    assert read_answers(text, "ru", ASKED) == {
        "name": "Ива Маркова",
        "company": "«Печатник»",
        "budget": "Бюджета нет",
        "timeline": "к маю",
    }
