"""Mailing-list footers are not the customer's words: they go, wherever the reply ends.

Bodies of our own, in the shapes list servers write: Mailman (an underscore rule, the list's
name, its address), Google Groups ("--", "You received this message because…", in English and
Russian), a newsletter's one-line "To unsubscribe…" / "Чтобы отписаться…".
"""

from __future__ import annotations

import pytest

from channels.email.footers import footer_start
from channels.email.quotes import strip_reply

GOOGLE_GROUPS = (
    "--\n"
    'You received this message because you are subscribed to the Google Groups "buyers" group.\n'
    "To unsubscribe from this group and stop receiving emails from it, send an email to "
    "buyers+unsubscribe@googlegroups.com.\n"
)
GOOGLE_GROUPS_RU = (
    "--\n"
    'Вы получили это сообщение, поскольку подписаны на группу "Закупки" в Google Группах.\n'
    "Чтобы отменить подписку на эту группу и больше не получать от нее сообщения, отправьте "
    "письмо на электронный адрес zakupki+unsubscribe@googlegroups.com.\n"
)
MAILMAN = (
    "_______________________________________________\n"
    "buyers mailing list\nbuyers@lists.example.org\n"
    "https://lists.example.org/mailman/listinfo/buyers\n"
)
MAILMAN_3 = (
    "_______________________________________________\n"
    "buyers mailing list -- buyers@lists.example.org\n"
    "To unsubscribe send an email to buyers-leave@lists.example.org\n"
)
NEWSLETTER_RU = "_____\nЧтобы отписаться от рассылки, перейдите по ссылке: https://x.example/u\n"
QUOTE = "On Tue, Mar 3, 2026 at 10:12 AM Shop <shop@example.com> wrote:\n> Shall we ship today?\n\n"


@pytest.mark.parametrize("footer", [GOOGLE_GROUPS, GOOGLE_GROUPS_RU, MAILMAN, MAILMAN_3])
def test_a_list_footer_under_the_quote_goes_with_the_quote(footer: str) -> None:
    body = "Yes, ship it.\n\n" + QUOTE + footer
    assert strip_reply(body) == ("Yes, ship it.", "")


@pytest.mark.parametrize("footer", [GOOGLE_GROUPS, GOOGLE_GROUPS_RU, MAILMAN, NEWSLETTER_RU])
def test_a_list_footer_under_the_reply_alone_goes(footer: str) -> None:
    assert strip_reply("Do you ship to Kazan?\n\n" + footer) == ("Do you ship to Kazan?", "")


def test_a_footer_under_the_signature_goes_and_the_signature_stays() -> None:
    body = "Send the catalogue, please.\n\nС уважением,\nНаталья\n\n" + MAILMAN
    assert strip_reply(body) == (
        "Send the catalogue, please.\n\nС уважением,\nНаталья",
        "С уважением,\nНаталья",
    )


def test_a_footer_paragraph_without_a_rule_goes_when_it_opens_like_a_list() -> None:
    body = (
        "Does the warranty cover the compressor?\n\nGreg Hill\nHill HVAC\n\n"
        'To unsubscribe from this list, reply with "unsubscribe" in the subject line.\n'
    )
    assert strip_reply(body)[0] == "Does the warranty cover the compressor?\n\nGreg Hill\nHill HVAC"


def test_answers_between_quotes_stay_and_the_footer_under_them_goes() -> None:
    body = (
        "On Thu, Mar 5, 2026 at 1:15 PM Chris <chris@example.com> wrote:\n"
        "> Weekend delivery?\n\nYes, Saturdays.\n\n> How many vans?\n\nTwo.\n\n" + GOOGLE_GROUPS
    )
    assert strip_reply(body) == ("Yes, Saturdays.\n\n> How many vans?\n\nTwo.", "")


@pytest.mark.parametrize(
    "body",
    [
        "Hello,\n\nHow do I unsubscribe from your newsletter?\n",
        "Hello,\n\nTo unsubscribe from the list, what should I do?\n",
        "Please unsubscribe me.\n\n--\nAnna Berg\nBerg Design\n",
        "Привет!\n\nКак отписаться от рассылки?\n",
        "Hi,\n\nYou received this message because I forgot to write the price. It is 40 EUR.\n",
    ],
)
def test_the_customers_own_words_about_lists_are_not_a_footer(body: str) -> None:
    assert footer_start(body.split("\n")) is None


def test_a_mail_that_is_only_a_footer_is_not_emptied() -> None:
    assert strip_reply(GOOGLE_GROUPS)[0] == GOOGLE_GROUPS.strip()


def test_a_footer_is_found_only_at_the_end() -> None:
    body = "Yes.\n\n" + MAILMAN + "\nAnd one more thing: we need 10 more.\n"
    assert footer_start(body.split("\n")) is None


def test_a_quoted_footer_is_part_of_the_quote_not_a_footer() -> None:
    body = "Thanks.\n\n" + "".join("> " + line + "\n" for line in GOOGLE_GROUPS.splitlines())
    assert strip_reply(body) == ("Thanks.", "")
