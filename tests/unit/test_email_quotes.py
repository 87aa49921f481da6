"""Reply, quote and signature stripping on bodies written the way each mail client writes them.

The bodies are our own, modelled on Outlook, Gmail, Yandex, Mail.ru, Thunderbird and Apple Mail
in Russian and English; the corpus pairs of other projects are measured in tests/corpus.
"""

from __future__ import annotations

import pytest

from channels.email.quotes import MAX_CHARS, strip_reply


def test_outlook_ru_original_message_block_ends_the_reply_and_signature_is_kept() -> None:
    body = (
        "Добрый день!\n"
        "Счёт получили, оплатим завтра.\n"
        "\n"
        "С уважением,\n"
        "Иван Петров\n"
        "ООО «Ромашка»\n"
        "+7 495 123-45-67\n"
        "\n"
        "-----Исходное сообщение-----\n"
        "От: Магазин <shop@example.ru>\n"
        "Отправлено: 12 марта 2024 г. 10:15\n"
        "Кому: Иван Петров <ivan@romashka.ru>\n"
        "Тема: Счёт №123\n"
        "\n"
        "Здравствуйте! Высылаем счёт.\n"
    )
    reply, signature = strip_reply(body)
    assert reply == (
        "Добрый день!\nСчёт получили, оплатим завтра.\n\n"
        "С уважением,\nИван Петров\nООО «Ромашка»\n+7 495 123-45-67"
    )
    assert signature == "С уважением,\nИван Петров\nООО «Ромашка»\n+7 495 123-45-67"


def test_outlook_ru_rule_and_header_block_end_the_reply() -> None:
    body = (
        "Да, подходит.\n\n"
        "________________________________\n"
        "От: Магазин <shop@example.ru>\n"
        "Отправлено: 12 марта 2024 г. 10:15\n"
        "Кому: Иван Петров\n"
        "Тема: Предложение\n\n"
        "Предлагаем скидку.\n"
    )
    assert strip_reply(body) == ("Да, подходит.", "")


def test_outlook_ru_bare_header_block_with_copy_line_ends_the_reply() -> None:
    body = (
        "Нужна доставка до Казани.\n\n"
        "От: Магазин [mailto:shop@example.ru]\n"
        "Отправлено: вторник, 12 марта 2024 г. 10:15\n"
        "Кому: Иван\n"
        "Копия: Отдел продаж\n"
        "Тема: RE: Заказ\n\n"
        "Старый текст.\n"
    )
    assert strip_reply(body) == ("Нужна доставка до Казани.", "")


def test_outlook_en_bold_header_block_after_a_dashed_rule() -> None:
    body = (
        "Please send the quote.\n\n"
        " ------------------------------\n\n"
        "*From:* Shop\n*Sent:* 2024-03-12\n*To:* john@example.com\n*Subject:* Quote\n\n"
        "Old text\n"
    )
    assert strip_reply(body) == ("Please send the quote.", "")


def test_gmail_ru_attribution_and_its_quote_are_removed() -> None:
    body = (
        "Спасибо, жду звонка.\n\n"
        "вт, 12 мар. 2024 г. в 10:15, Магазин <shop@example.ru>:\n\n"
        "> Когда вам удобно?\n>\n"
    )
    assert strip_reply(body) == ("Спасибо, жду звонка.", "")


def test_gmail_ru_attribution_wrapped_over_two_lines() -> None:
    body = (
        "Хорошо.\n\n"
        "вт, 12 мар. 2024 г. в 10:15, Очень Длинное Название Магазина <\n"
        "shop@example.ru>:\n\n"
        "> Когда вам удобно?\n"
    )
    assert strip_reply(body) == ("Хорошо.", "")


def test_yandex_attribution() -> None:
    body = (
        "Добрый день, давайте в четверг.\n\n"
        '12.03.2024, 10:15, "Магазин" <shop@example.ru>:\n'
        "> Когда вам удобно?\n"
    )
    assert strip_reply(body) == ("Добрый день, давайте в четверг.", "")


def test_mail_ru_attribution_with_the_old_message_unquoted() -> None:
    body = (
        "Интересует опт.\n\n\n"
        "Понедельник, 11 марта 2024, 10:15 +03:00 от Магазин <shop@example.ru>:\n\n\n"
        "Здравствуйте!\nНовые цены во вложении.\n"
    )
    assert strip_reply(body) == ("Интересует опт.", "")


def test_thunderbird_ru_pishet() -> None:
    body = "Подтверждаю.\n\n12.03.2024 10:15, Магазин пишет:\n> Подтвердите заказ.\n"
    assert strip_reply(body) == ("Подтверждаю.", "")


def test_apple_mail_ru_quoted_attribution_and_mobile_signature() -> None:
    body = (
        "Беру два.\n\nОтправлено с iPhone\n\n"
        "> 12 марта 2024 г., в 10:15, Магазин <shop@example.ru> написал(а):\n>\n> Сколько штук?\n"
    )
    assert strip_reply(body) == ("Беру два.\n\nОтправлено с iPhone", "Отправлено с iPhone")


def test_user_wrote_forms_of_russian_attributions() -> None:
    body = "Да.\n\nпонедельник, 11 марта 2024 г. пользователь Магазин написал:\n\n> Оформляем?\n"
    assert strip_reply(body) == ("Да.", "")


def test_english_gmail_attribution_with_closing_signature() -> None:
    body = (
        "Sounds good, send the invoice.\n\nBest regards,\nJohn\n\n"
        "On Tue, Mar 12, 2024 at 10:15 AM Shop <shop@example.com> wrote:\n"
        "> Shall we proceed?\n"
    )
    assert strip_reply(body) == (
        "Sounds good, send the invoice.\n\nBest regards,\nJohn",
        "Best regards,\nJohn",
    )


def test_english_attribution_wrapped_by_the_client() -> None:
    body = (
        "Confirmed.\n\n"
        "On Tue, Mar 12, 2024 at 10:15 AM A Very Long Shop Name <\n"
        "shop@example.com> wrote:\n\n"
        "> Shall we proceed?\n"
    )
    assert strip_reply(body) == ("Confirmed.", "")


def test_gmail_forwarded_message_keeps_only_the_comment() -> None:
    body = (
        "See below, please quote this.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Supplier <s@example.com>\nDate: Tue, Mar 12, 2024 at 10:15 AM\n"
        "Subject: Prices\nTo: <me@example.com>\n\nOld prices\n"
    )
    assert strip_reply(body) == ("See below, please quote this.", "")


def test_russian_forwarded_message_keeps_only_the_comment() -> None:
    body = (
        "Посмотрите, пожалуйста.\n\n"
        "-------- Пересылаемое сообщение --------\n"
        '12.03.2024, 10:15, "Поставщик" <s@example.ru>:\nСтарый текст\n'
    )
    assert strip_reply(body) == ("Посмотрите, пожалуйста.", "")


def test_forward_without_comment_gives_the_forwarded_text() -> None:
    body = (
        "---------- Forwarded message ----------\n"
        "From: Client <c@example.com>\nDate: Tue, Mar 12, 2024\n"
        "Subject: Order\nTo: <me@example.com>\n\n\nPlease call me back.\n"
    )
    assert strip_reply(body) == ("Please call me back.", "")


def test_inline_reply_keeps_the_customers_answers_and_the_questions_between_them() -> None:
    body = (
        "Answers below.\n\n"
        "On Tue, Mar 12, 2024 at 10:15 AM Shop <shop@example.com> wrote:\n"
        "> Which colour?\n"
        "Blue, please.\n"
        "> Which size?\n"
        "42.\n"
    )
    reply, _ = strip_reply(body)
    assert reply == "Answers below.\n\n> Which colour?\nBlue, please.\n> Which size?\n42."


def test_inline_reply_under_a_leading_attribution_keeps_every_answer() -> None:
    body = (
        '12.03.2024, 10:15, "Магазин" <shop@example.ru>:\n'
        "> Какой цвет?\nСиний.\n> Какой размер?\n42.\n"
    )
    assert strip_reply(body) == ("Синий.\n> Какой размер?\n42.", "")


def test_thread_continuing_below_the_quote_is_not_an_inline_reply() -> None:
    body = (
        "First reply.\n\n"
        "On Tue, Mar 12, 2024 at 10:15 AM Shop <shop@example.com> wrote:\n"
        "> Second message.\n\n"
        "Third message, unquoted.\n\n"
        "On Mon, Mar 11, 2024 at 9:00 AM John <john@example.com> wrote:\n\n"
        "Fourth message.\n"
    )
    assert strip_reply(body) == ("First reply.", "")


def test_senders_own_signature_under_the_quote_is_kept() -> None:
    body = (
        "Agreed.\n\n"
        "On Tue, Mar 12, 2024 at 10:15 AM Shop <shop@example.com> wrote:\n"
        "> Deal?\n\n"
        "-- \nJohn Smith\n+1 555 0100\n"
    )
    assert strip_reply(body) == (
        "Agreed.\n\n--\nJohn Smith\n+1 555 0100",
        "--\nJohn Smith\n+1 555 0100",
    )


def test_trailing_quote_goes_but_a_quote_followed_by_an_answer_stays() -> None:
    assert strip_reply("> Ready?\n\nYes.\n") == ("> Ready?\n\nYes.", "")
    assert strip_reply("Yes.\n\n> Ready?\n") == ("Yes.", "")


@pytest.mark.parametrize("answer", ["ок", "+", "Да", "спасибо"])
def test_short_answers_survive(answer: str) -> None:
    body = f"{answer}\n\nOn Tue, Mar 12, 2024 at 10:15 AM Shop <shop@example.com> wrote:\n> Ok?\n"
    assert strip_reply(body) == (answer, "")


def test_quote_only_body_falls_back_to_the_full_text() -> None:
    assert strip_reply("> Подтверждаете?\n> Да?\n") == ("> Подтверждаете?\n> Да?", "")


def test_customer_sentences_with_attribution_words_are_kept() -> None:
    body = "Вот что он написал: приезжайте завтра.\nSomething wrote:\nИ ещё: привезите документы."
    assert strip_reply(body) == (body, "")


def test_two_header_like_lines_without_mail_data_are_the_customers_text() -> None:
    body = "Hello,\nFrom: Moscow\nTo: Kazan\nHow much is shipping?"
    assert strip_reply(body) == (body, "")


def test_subject_and_date_lines_alone_do_not_make_an_outlook_block() -> None:
    body = "Добрый день!\nТема: заказ 123\nДата: 12.03\nПрошу выставить счёт."
    assert strip_reply(body) == (body, "")


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        ("Жду ответа.\n\nС уважением,\nИван", "С уважением,\nИван"),
        (
            "Жду ответа.\n\nОтправлено из мобильной Почты Mail.ru",
            "Отправлено из мобильной Почты Mail.ru",
        ),
        (
            "Жду ответа.\n\nОтправлено из Яндекс Почты для Android",
            "Отправлено из Яндекс Почты для Android",
        ),
        ("Call me.\n\nSent from my iPhone", "Sent from my iPhone"),
        ("Call me.\n\nGet Outlook for Android", "Get Outlook for Android"),
        ("Call me.\n\nThanks,\nJohn\n+1 555 0100", "Thanks,\nJohn\n+1 555 0100"),
        (
            "Call me.\n\nBest regards,\nJohn\n-- \nACME Ltd\n+1 555 0100",
            "--\nACME Ltd\n+1 555 0100",
        ),
    ],
)
def test_signatures_are_detected_and_kept_in_the_reply(body: str, signature: str) -> None:
    reply, found = strip_reply(body)
    assert found == signature
    assert reply.endswith(signature)


@pytest.mark.parametrize(
    "body", ["Спасибо!", "Thanks", "Call me.\n\nThanks!", "Sent from my phone"]
)
def test_thanks_or_a_lone_line_are_not_signatures(body: str) -> None:
    assert strip_reply(body) == (body, "")


def test_windows_and_old_mac_line_endings() -> None:
    body = "Да.\r\n\r\nOn Tue, Mar 12, 2024 at 10:15 AM Shop <shop@example.com> wrote:\r\n> Ok?\r"
    assert strip_reply(body) == ("Да.", "")


def test_trailing_delimiters_are_dropped() -> None:
    assert strip_reply("Order two.\n\n--\n____\n") == ("Order two.", "")


def test_empty_and_blank_bodies() -> None:
    assert strip_reply("") == ("", "")
    assert strip_reply("\n \n") == ("", "")


def test_huge_body_is_capped() -> None:
    reply, _ = strip_reply("слово " * 50_000)
    assert len(reply) <= MAX_CHARS
    assert reply.startswith("слово слово")


def test_hostile_long_lines_are_read_without_backtracking_blowup() -> None:
    body = "\n".join(["1 " + "<" * 300 + " a@b.c написал"] * 500 + ["a" * 398 + "@b"] * 500)
    reply, _ = strip_reply(body)
    assert reply.startswith("1 <<<")
