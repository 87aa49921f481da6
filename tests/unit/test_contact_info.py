"""Finding and normalising emails, phone numbers and names in what people write."""

from __future__ import annotations

import pytest

from handlers.contact_info import clean_name, find_email, find_phone, remove_contacts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to Anna.Petrova@Northwind.Example please", "anna.petrova@northwind.example"),
        ("почта: Ivan@Пример.рф", "ivan@пример.рф"),
        ("no address here", None),
        ("broken@", None),
        ("two: a@b.example and c@d.example", "a@b.example"),
    ],
)
def test_find_email(text: str, expected: str | None) -> None:
    assert find_email(text) == expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("+44 20 7946 0958", "en", "+442079460958"),
        ("call me at (415) 555-2671", "en", "+14155552671"),
        ("8 (912) 345-67-89", "ru", "+79123456789"),
        ("+7 912 345 67 89", "en", "+79123456789"),
        ("order 12345", "en", None),
        ("123", "ru", None),
    ],
)
def test_find_phone_normalises_to_e164(text: str, lang: str, expected: str | None) -> None:
    assert find_phone(text, lang) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Anna Petrova", "Anna Petrova"),
        ("my name is john smith", "John Smith"),
        ("Меня зовут Иван", "Иван"),
        ("I'm  Zoë  ", "Zoë"),
        ("12345", None),
        ("", None),
        ("x" * 101, None),
    ],
)
def test_clean_name(answer: str, expected: str | None) -> None:
    assert clean_name(answer) == expected


def test_remove_contacts_keeps_the_rest_of_the_text() -> None:
    text = "Anna, anna@example.com, +44 20 7946 0958"
    assert remove_contacts(text).strip(" ,") == "Anna"
