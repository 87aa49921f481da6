"""Lead slots read from free text, and answers checked against the slot they were asked for."""

from __future__ import annotations

import pytest

from handlers.budgets_and_dates import find_budget, find_timeline
from handlers.lead_scoring import score_lead
from handlers.slot_checks import QUESTION, REMARK, approves, check, declines, name_answer
from handlers.slots import (
    find_company,
    find_name,
    is_question,
    need_in,
    read_slots,
)


def test_an_english_message_that_says_everything_fills_every_slot() -> None:
    text = (
        "Good afternoon, I'm Oliver Grant from Grant & Sons Ltd. We want 14 walnut bookcases "
        "for the library, our budget is roughly £9,500 and we need them before 1 September. "
        "You can reach me on oliver@grantsons.example"
    )
    slots = read_slots(text, "en")
    assert slots == {
        "name": "Oliver Grant",
        "company": "Grant & Sons Ltd",
        "email": "oliver@grantsons.example",
        "budget": "roughly £9,500",
        "timeline": "before 1 September",
    }
    assert need_in(text, slots) == "We want 14 walnut bookcases for the library"


def test_a_russian_message_that_says_everything_fills_every_slot() -> None:
    text = (
        "Добрый день! Меня зовут Дарья Орлова, я из компании ООО «Лесная сказка». Хотим "
        "заказать 40 детских стульчиков, бюджет примерно 120 тысяч рублей, нужно до 15 мая. "
        "Телефон +7 903 555-12-34"
    )
    slots = read_slots(text, "ru")
    assert slots == {
        "name": "Дарья Орлова",
        "company": "ООО «Лесная сказка»",
        "phone": "+79035551234",
        "budget": "примерно 120 тысяч рублей",
        "timeline": "до 15 мая",
    }
    assert need_in(text, slots) == "Хотим заказать 40 детских стульчиков"


def test_a_message_that_opens_like_a_signature_line_names_the_writer() -> None:
    slots = read_slots("Nora Quist, Quist Florists. Need 200 vases by Friday.", "en")
    assert (slots["name"], slots["company"], slots["timeline"]) == (
        "Nora Quist",
        "Quist Florists",
        "by Friday",
    )


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Sure, it's Kim Novak, pleased to meet you", "Kim Novak"),
        ("my name is actually Leo Marsh", "Leo Marsh"),
        ("Меня зовут Пётр Ильин", "Пётр Ильин"),
        ("Это Ирина из бухгалтерии", "Ирина"),
        ("Добрый день, я Марина Лебедева из компании «Вектор»", "Марина Лебедева"),
        ("я Вам уже писал вчера", None),
        ("я хотел бы узнать цену", None),
        ("I'm with Northwind", None),
        ("I'm looking for chairs", None),
    ],
)
def test_names_said_in_a_sentence(text: str, name: str | None) -> None:
    assert find_name(text) == name


@pytest.mark.parametrize(
    ("answer", "name"),
    [
        ("Olga Berg", "Olga Berg"),
        ("olga", "Olga"),
        ("Ольга Берг, рада знакомству", "Ольга Берг"),
        ("Thank you, How Much Is Delivery?!", None),
        ("А оплата картой возможна?", None),
        ("Hm, I would rather not say that here", None),
        ("I don't want to say", None),
    ],
)
def test_a_name_answer_is_a_name_not_a_question_or_a_sentence(
    answer: str, name: str | None
) -> None:
    assert name_answer(answer) == name


def test_a_question_at_the_name_prompt_is_a_question() -> None:
    assert check("name", "Do you ship to Malta?", {}, "en").problem == QUESTION
    assert check("name", "12345", {}, "en").problem == "lead.bad_name"


@pytest.mark.parametrize(
    ("answer", "company"),
    [
        ("Bluefin Media", "Bluefin Media"),
        ("I work at Bluefin Media, we make podcasts", "Bluefin Media"),
        ("Мы из компании «Ромашка», небольшое кафе", "«Ромашка»"),
        ("ИП Сидоров А.В.", "ИП Сидоров А.В."),
        ("it's for my own flat, no company", ""),
        ("частное лицо", ""),
        ("I don't have a company", ""),
        ("We do not have a company", ""),
        ("не от компании", ""),
    ],
)
def test_company_answers(answer: str, company: str) -> None:
    assert check("company", answer, read_slots(answer, "en"), "en").values == {"company": company}


def test_a_company_is_not_an_email_or_a_question() -> None:
    assert check("company", "bob@bluefin.example", {}, "en").problem == "lead.bad_company"
    assert check("company", "Is VAT included?", {}, "en").problem == QUESTION


@pytest.mark.parametrize(
    ("answer", "lang"),
    [
        ("my order 5531 has not arrived", "en"),
        ("the parcel hasn't come yet", "en"),
        ("the desk came broken", "en"),
        ("заказ 5531 не пришёл", "ru"),
        ("посылка так и не пришла", "ru"),
        ("стол пришёл сломанный", "ru"),
    ],
)
def test_a_sentence_about_an_order_or_a_problem_is_no_company(answer: str, lang: str) -> None:
    assert check("company", answer, read_slots(answer, lang), lang).problem == REMARK


@pytest.mark.parametrize(
    "answer", ["Not Just Coffee Ltd", "Order Logistics", "Stone & Partners", "ООО «Неон»"]
)
def test_a_company_name_with_such_words_is_still_a_company(answer: str) -> None:
    assert check("company", answer, read_slots(answer, "en"), "en").values == {"company": answer}


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("about 5-7k", "about 5-7k"),
        ("we can spend up to $12,000", "up to $12,000"),
        ("around 40 000 руб", "around 40 000 руб"),
        ("в районе 2 млн", "в районе 2 млн"),
        ("budget is 3000", "3000"),
        ("No set budget yet", "No set budget yet"),
        ("бюджета пока нет", "бюджета пока нет"),
        ("by 15 May", None),
        ("we need 30 chairs", None),
    ],
)
def test_a_budget_is_an_amount_a_range_or_none(text: str, budget: str | None) -> None:
    assert find_budget(text) == budget


@pytest.mark.parametrize(
    ("text", "timeline"),
    [
        ("sometime in Q3", "in Q3"),
        ("by the end of next month ideally", "by the end of next month"),
        ("ASAP, this week", "ASAP, this week"),
        ("к концу сентября", "к концу сентября"),
        ("через две недели", "через две недели"),
        ("не срочно", "не срочно"),
        ("we may order more later", None),
        ("3 weeks of training", None),
    ],
)
def test_a_date_is_said_as_written(text: str, timeline: str | None) -> None:
    assert find_timeline(text) == timeline


def test_budget_and_date_come_from_one_answer_and_either_may_be_missing() -> None:
    said = read_slots("roughly 4k, by June", "en")
    assert check("budget_timeline", "roughly 4k, by June", said, "en").values == {
        "budget": "roughly 4k",
        "timeline": "by June",
    }
    only_date = read_slots("next week please", "en")
    assert check("budget_timeline", "next week please", only_date, "en").values == {
        "budget": "",
        "timeline": "next week",
    }
    assert check("budget_timeline", "no idea yet", {}, "en").values == {
        "budget": "",
        "timeline": "",
    }
    assert check("budget", "cheap please", {}, "en").problem == "lead.bad_budget"


def test_a_correction_gives_the_field_not_the_words_around_it() -> None:
    assert read_slots("actually my email is ana@new.example", "en") == {"email": "ana@new.example"}
    assert read_slots("ой, почта другая: ana@new.example", "ru") == {"email": "ana@new.example"}
    assert read_slots("my name is actually Ana Lima", "en") == {"name": "Ana Lima"}


def test_an_opener_that_only_asks_for_an_offer_names_no_need() -> None:
    assert need_in("Hi, could you send me a quote?") == ""
    assert need_in("Сколько стоит?") == ""
    assert need_in("Нужны стеллажи") == "Нужны стеллажи"


@pytest.mark.parametrize(
    "reply", ["yes", "Looks fine, go ahead", "👍", "✅✅", "Да, всё верно", "ок, отправляйте"]
)
def test_agreeing_at_the_summary(reply: str) -> None:
    assert approves(reply)


@pytest.mark.parametrize("reply", ["no", "👎", "not yet, the company is wrong", "нет, ошибка"])
def test_not_agreeing_at_the_summary(reply: str) -> None:
    assert not approves(reply)


def test_declining_an_offer() -> None:
    assert declines("Thanks, I'm just browsing")
    assert declines("Мы передумали")
    assert declines("No thanks")
    assert not declines("No thanks", strongly=True)  # an answer to an optional question
    assert not declines("Tom Becker")


def test_questions() -> None:
    assert is_question("Do you deliver on Saturdays")
    assert is_question("а доставка есть?")
    assert not is_question("Will Smith")


def test_saying_there_is_no_budget_or_deadline_earns_no_points() -> None:
    base = {"need": "12 chairs"}
    assert score_lead({**base, "budget": "no budget yet", "timeline": "no rush"}) == score_lead(
        base
    )
    assert score_lead({**base, "budget": "5k"}) == score_lead(base) + 20


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("We're with Delta Optics, a small lab", "Delta Optics"),
        ("This is Sam Reid from Reid Joinery.", "Reid Joinery"),
        ("работаю в компании «Вектор», отдел закупок", "«Вектор»"),
        ("Write to info@delta.example", None),
        ("from March on", None),
    ],
)
def test_companies_said_in_a_sentence(text: str, company: str | None) -> None:
    assert find_company(text) == company
