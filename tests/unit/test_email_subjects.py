"""The pure threading pieces of a reply: its subject (tag, no stacked `Re:`) and its IDs.

(The Message-ID helpers of `channels/email/ids.py` are tested here too: both build the headers
that make a customer's client thread our reply.)
"""

from __future__ import annotations

import re

import pytest

from channels.email.ids import domain_of, new_message_id, normalise_message_id, references_for
from channels.email.subjects import (
    MAX_SUBJECT,
    is_auto_reply_subject,
    is_bounce_subject,
    normalise_subject,
    reply_subject,
    strip_prefixes,
    ticket_tag,
)

# Subjects


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Quote for 40 pallets", "quote for 40 pallets"),
        ("Re: Quote", "quote"),
        ("RE: Re: re: Quote", "quote"),
        ("Fwd: FW: Fw: AW: WG: Quote", "quote"),
        ("Ответ: Отв: Пересл: Заказ", "заказ"),
        ("Re[2]: Re(3): RE^4: Quote", "quote"),
        ("Re : Quote", "quote"),
        ("Re： Quote", "quote"),
        ("Re: [#1042] Re: Quote", "quote"),
        ("[#1042] Re: Quote", "quote"),
        ("Re: Quote [#1042]", "quote"),
        ("  Re:   Quote \t for  you  ", "quote for you"),
        ("SV: VS: Antw: TR: ODP: RIF: ENC: Quote", "quote"),
        ("Reply needed", "reply needed"),
        ("Returns policy", "returns policy"),
        ("Fwd without colon", "fwd without colon"),
        ("Re:", ""),
        ("", ""),
        ("STRASSE Straße", "strasse strasse"),
        ("Re: Quote\r\nBcc: x@y.example", "quote bcc: x@y.example"),
    ],
)
def test_normalise_subject(subject: str, expected: str) -> None:
    assert normalise_subject(subject) == expected


def test_normalised_subjects_of_one_thread_are_equal() -> None:
    thread = ["Quote", "Re: [#7] Quote", "RE: Re: [#7] quote", "Ответ: Re[2]: QUOTE", "Fwd: Quote "]
    assert {normalise_subject(subject) for subject in thread} == {"quote"}


def test_strip_prefixes_keeps_the_case() -> None:
    assert strip_prefixes("RE: Fwd: [#3] Angebot für Müller") == "Angebot für Müller"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[#1042]", 1042),
        ("Re: [#1042] Quote", 1042),
        ("Re: Quote [#1042] again", 1042),
        ("Quote[#1042]", 1042),
        ("[# 1042 ]", 1042),
        ("[#0042]", 42),
        ("[#7] and [#8]", 7),
        ("#1042", None),
        ("Order #1042", None),
        ("[1042]", None),
        ("[Ticket#1042]", None),
        ("[#abc]", None),
        ("[#0]", None),
        ("[#1234567890]", None),
        ("", None),
    ],
)
def test_ticket_tag(subject: str, expected: int | None) -> None:
    assert ticket_tag(subject) == expected


@pytest.mark.parametrize(
    ("subject", "number", "expected"),
    [
        ("Quote", 1042, "Re: [#1042] Quote"),
        ("Re: [#1042] Quote", 1042, "Re: [#1042] Quote"),
        ("RE: Re: Fwd: Quote", None, "Re: Quote"),
        ("Re: Quote [#7]", None, "Re: [#7] Quote"),
        ("Re: [#7] Quote [#8]", 1042, "Re: [#1042] Quote"),
        ("Ответ: Коммерческое предложение", 3, "Re: [#3] Коммерческое предложение"),
        ("", None, "Re: (no subject)"),
        ("  Re:  ", None, "Re: (no subject)"),
        ("", 5, "Re: [#5]"),
        ("[#5]", None, "Re: [#5]"),
    ],
)
def test_reply_subject(subject: str, number: int | None, expected: str) -> None:
    assert reply_subject(subject, number) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "Quote",
        "Re: Re: Quote",
        "Ответ: Re[3]: Заказ [#9]",
        "",
        "x" * 500,
        "Automatic reply: Quote",
    ],
)
@pytest.mark.parametrize("number", [None, 1042])
def test_replying_to_our_own_reply_never_stacks(subject: str, number: int | None) -> None:
    once = reply_subject(subject, number)
    assert reply_subject(once, number) == once
    assert once.count("Re:") == 1
    assert len(re.findall(r"\[#\d+\]", once)) <= 1


@pytest.mark.parametrize(
    "subject",
    [
        "Quote\r\nBcc: evil@example.com",
        "Quote\nBcc: evil@example.com",
        "Алфавит\n",
        "Quote\x00\x1b[31m\x7f\x85",
        "Quote\u2028Bcc: evil@example.com",
        "Quote\u202eevil",
    ],
)
def test_reply_subject_has_no_line_breaks_or_control_characters(subject: str) -> None:
    result = reply_subject(subject, 1)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]", result)
    assert result.startswith("Re: [#1] ")


def test_a_long_subject_is_capped() -> None:
    result = reply_subject("Ответ: " + "очень длинная тема " * 40, 123456)
    assert MAX_SUBJECT - 2 <= len(result) <= MAX_SUBJECT
    assert result.startswith("Re: [#123456] очень длинная тема")
    assert result.endswith("…")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Automatic reply: Quote", True),
        ("automatic reply", True),
        ("AUTOMATISCHE ANTWORT: Angebot", True),
        ("Abwesenheitsnotiz", True),
        ("Автоматический ответ: Заказ", True),
        ("автоматическии ответ: Заказ", True),  # й spelt without its breve
        ("Нет на месте - до понедельника", True),
        ("Out of Office | back on Monday", True),
        ("Out of office reply: Quote", True),
        ("自动回复: 报价", True),
        ("Re: Out of office question", False),
        ("Out of office question", False),
        ("Absence of documentation", False),
        ("Automatic replies are annoying", False),
        ("Отпускная цена", False),
        ("", False),
    ],
)
def test_is_auto_reply_subject(subject: str, expected: bool) -> None:
    assert is_auto_reply_subject(subject) is expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Undelivered Mail Returned to Sender", True),
        ("Delivery Status Notification (Failure)", True),
        ("Mail delivery failed: returning message to sender", True),
        ("Undeliverable: test_bounce 8", True),
        ("Returned mail: see transcript for details", True),
        ("Недоставленное сообщение", True),
        ("Unzustellbar: Angebot", True),
        ("Fwd: Undelivered Mail Returned to Sender", False),
        ("Quote", False),
    ],
)
def test_is_bounce_subject(subject: str, expected: bool) -> None:
    assert is_bounce_subject(subject) is expected


# Message-IDs


def test_new_message_id_is_ours_and_unique() -> None:
    ids = {new_message_id("mail.shop.example") for _ in range(200)}
    assert len(ids) == 200
    for message_id in ids:
        assert re.fullmatch(r"<[^<>@\s]+@mail\.shop\.example>", message_id)
        assert domain_of(message_id) == "mail.shop.example"


def test_new_message_id_encodes_an_international_domain() -> None:
    assert new_message_id("Пример.рф").endswith("@xn--e1afmkfd.xn--p1ai>")


@pytest.mark.parametrize(
    "domain",
    ["", "shop.example\r\nBcc: x@y", "shop example", "<shop.example>", "a@b", "-x.example"],
)
def test_new_message_id_refuses_what_is_not_a_host_name(domain: str) -> None:
    with pytest.raises(ValueError, match="not a host name"):
        new_message_id(domain)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a.1@x.example>", "<a.1@x.example>"),
        ("  a.1@x.example ", "<a.1@x.example>"),
        ("<invalid.   something@bar.net>", ""),
        ("<no-at-sign>", ""),
        ("", ""),
        ("<a@b>\r\nBcc: x@y", ""),
        ("<" + "x" * 300 + "@x.example>", ""),
    ],
)
def test_normalise_message_id(value: str, expected: str) -> None:
    assert normalise_message_id(value) == expected


def test_references_are_the_parents_references_then_the_parent() -> None:
    assert references_for(["<a@x>", "<b@x>"], "<c@x>") == ("<a@x>", "<b@x>", "<c@x>")


def test_references_without_a_parent_id_keep_the_chain() -> None:
    assert references_for(["<a@x>", "b@x"], None) == ("<a@x>", "<b@x>")


def test_references_drop_junk_and_duplicates_and_end_with_the_parent() -> None:
    refs = ["<a@x>", "", "junk", "<invalid.   something@bar.net>", "<c@x>", "<b@x>", "<a@x>"]
    assert references_for(refs, "c@x") == ("<a@x>", "<b@x>", "<c@x>")


def test_long_references_keep_the_root_and_the_latest() -> None:
    refs = [f"<{n}@x>" for n in range(30)]
    result = references_for(refs, "<30@x>")
    assert result == ("<0@x>", *(f"<{n}@x>" for n in range(22, 31)))
    assert len(references_for(refs, "<30@x>", limit=3)) == 3
    assert references_for(refs, "<30@x>", limit=1) == ("<30@x>",)


def test_references_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        references_for([], "<a@x>", limit=0)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("anna@Northwind.Example", "northwind.example"),
        ("Anna <anna@northwind.example>", "northwind.example"),
        ("<abc.1@mail.shop.example>", "mail.shop.example"),
        ("anna@northwind.example.", "northwind.example"),
        ('"a@b" <anna@c.example>', "c.example"),
        ("no-at-sign", ""),
        ("", ""),
    ],
)
def test_domain_of(address: str, expected: str) -> None:
    assert domain_of(address) == expected
