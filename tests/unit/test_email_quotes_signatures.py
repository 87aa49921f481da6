"""Short signatures, and the sender's signature under a quote: neither is an inline answer.

Bodies of our own: "-Anna", "— Олег", "~Danielle", a name over "Sent from my iPhone" or
"Отправлено с iPhone", a closing ("С уважением,") placed under the quote by the client.
"""

from __future__ import annotations

import pytest

from channels.email.quotes import signature_start, strip_reply

QUOTE_EN = "On Thu, Mar 5, 2026 at 9:30 AM Chris <chris@example.com> wrote:\n> Friday at 3 pm?\n\n"
QUOTE_RU = "ср, 4 мар. 2026 г. в 18:44, Анна <anna@example.ru>:\n> Встреча в силе?\n\n"


@pytest.mark.parametrize(
    ("quote", "signature"),
    [
        (QUOTE_EN, "-Anna"),
        (QUOTE_EN, "— Anna Berg"),
        (QUOTE_EN, "Raj\nSent from my iPhone"),
        (QUOTE_EN, "Luke\nSent via mobile"),
        (QUOTE_RU, "— Олег"),
        (QUOTE_RU, "Отправлено с iPhone"),
        (QUOTE_RU, "С уважением,\nЛилия Осипова\nООО «Осипова и партнёры»"),
        (QUOTE_RU, "--\nМарина Белова\nОтправлено из мобильной Почты Mail.ru"),
    ],
)
def test_the_senders_signature_under_the_quote_is_not_an_inline_answer(
    quote: str, signature: str
) -> None:
    reply, found = strip_reply("Fine with me.\n\n" + quote + signature + "\n")
    assert reply == f"Fine with me.\n\n{signature}"
    assert found == signature


def test_an_answer_under_the_quote_is_still_an_inline_answer() -> None:
    body = "See below.\n\n" + QUOTE_EN + "Yes, Friday works.\n"
    assert strip_reply(body)[0] == "See below.\n\n> Friday at 3 pm?\n\nYes, Friday works."


@pytest.mark.parametrize(
    "signature",
    [
        "-Mia",
        "— Игорь Никитин",
        "~Danielle",
        "Дмитрий\nОтправлено с iPhone",
        "Nora\nSent from my iPad",
    ],
)
def test_short_signatures_are_found(signature: str) -> None:
    reply, found = strip_reply(f"Please resend the invoice.\n\n{signature}\n")
    assert (reply, found) == (f"Please resend the invoice.\n\n{signature}", signature)


@pytest.mark.parametrize(
    "body",
    [
        "Options:\n- Red\n- Blue",  # a list, not a name
        "We need:\n\n- 5 boxes of paper",
        "Ok\nSent from my iPhone",  # a name line needs words above it
    ],
)
def test_lists_and_lone_answers_are_not_short_signatures(body: str) -> None:
    lines = body.split("\n")
    start = signature_start(lines)
    assert start is None or lines[start].startswith("Sent")


def test_a_capitalised_answer_over_a_mobile_line_is_not_cut_from_the_reply() -> None:
    assert strip_reply("Ok\nSent from my iPhone\n")[0] == "Ok\nSent from my iPhone"
