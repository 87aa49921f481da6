"""parse_mail on small mails of our own: charsets, hostile headers, addresses, ids, dates,
HTML-only Outlook replies, attachments, bounces and the limits.

Mails are written as bytes, the way they arrive from IMAP, so 8-bit koi8-r and windows-1251
text reaches the parser exactly as a Russian Outlook or an old webmail sends it.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from channels.email import parse
from channels.email.charsets import decode_text
from channels.email.html_text import MAX_HTML_CHARS, MAX_UNCLOSED, html_to_text
from channels.email.mail import UnparseableMail
from channels.email.parse import (
    MAX_ATTACHMENTS,
    MAX_TEXT_CHARS,
    message_id_and_sender,
    parse_mail,
)

INTERNAL = datetime(2024, 3, 12, 7, 15, tzinfo=UTC)


def mail(headers: str, body: bytes = b"Hello\r\n", **extra: str) -> bytes:
    """A mail with CRLF endings; `headers` are the lines after From/To/Subject/Date."""
    lines = {
        "From": "Ivan <ivan@example.ru>",
        "To": "shop@example.com",
        "Subject": "Order",
        "Date": "Tue, 12 Mar 2024 10:15:00 +0300",
        "Message-ID": "<m1@example.ru>",
    }
    lines.update({name.replace("_", "-"): value for name, value in extra.items()})
    head = "".join(f"{name}: {value}\r\n" for name, value in lines.items() if value)
    return (head + headers).encode("ascii") + b"\r\n" + body


def test_a_plain_mail_is_read_field_by_field() -> None:
    parsed = parse_mail(mail("Content-Type: text/plain; charset=utf-8\r\n"), INTERNAL)
    assert parsed.message_id == "<m1@example.ru>"
    assert (parsed.from_address, parsed.from_name) == ("ivan@example.ru", "Ivan")
    assert parsed.to == ("shop@example.com",)
    assert parsed.subject == "Order"
    assert parsed.date == datetime(2024, 3, 12, 7, 15, tzinfo=UTC)
    assert (parsed.text, parsed.reply, parsed.signature) == ("Hello", "Hello", "")
    assert parsed.content_type == "text/plain"
    assert not parsed.html_only
    assert parsed.report is None
    assert parsed.headers["content-type"] == "text/plain; charset=utf-8"


# -- charsets ---------------------------------------------------------------------------


def test_koi8r_body_with_its_label() -> None:
    body = "Добрый день! Подскажите цену доставки.".encode("koi8_r")
    parsed = parse_mail(mail("Content-Type: text/plain; charset=koi8-r\r\n", body))
    assert parsed.text == "Добрый день! Подскажите цену доставки."


def test_cp1251_body_without_a_label() -> None:
    body = "Счёт получили, спасибо.".encode("cp1251")
    parsed = parse_mail(mail("Content-Type: text/plain\r\n", body))
    assert parsed.text == "Счёт получили, спасибо."


def test_koi8r_body_mislabelled_as_windows_1251() -> None:
    body = "Прошу выставить счёт на оплату".encode("koi8_r")
    parsed = parse_mail(mail("Content-Type: text/plain; charset=windows-1251\r\n", body))
    assert parsed.text == "Прошу выставить счёт на оплату"


def test_cp1251_body_mislabelled_as_latin1() -> None:
    body = "Когда будет доставка?".encode("cp1251")
    parsed = parse_mail(mail("Content-Type: text/plain; charset=iso-8859-1\r\n", body))
    assert parsed.text == "Когда будет доставка?"


def test_utf8_body_mislabelled_as_koi8r() -> None:
    body = "Нужен счёт".encode()
    parsed = parse_mail(mail("Content-Type: text/plain; charset=koi8-r\r\n", body))
    assert parsed.text == "Нужен счёт"


def test_x_mac_cyrillic_is_understood() -> None:
    body = "Привет".encode("mac_cyrillic")
    parsed = parse_mail(mail("Content-Type: text/plain; charset=x-mac-cyrillic\r\n", body))
    assert parsed.text == "Привет"


def test_unknown_charset_does_not_escape_and_the_text_is_still_read() -> None:
    body = "Цена?".encode("cp1251")
    parsed = parse_mail(mail('Content-Type: text/plain; charset="_iso-2022-jp$ESC"\r\n', body))
    assert parsed.text == "Цена?"


def test_raw_8bit_cp1251_subject_is_recovered_not_replaced() -> None:
    raw = mail(
        "Content-Type: text/plain; charset=iso-8859-1\r\n", Subject="SUBJECT_PLACEHOLDER"
    ).replace(b"SUBJECT_PLACEHOLDER", "Узнай как зарабатывать".encode("cp1251"))
    assert parse_mail(raw).subject == "Узнай как зарабатывать"


def test_encoded_word_labelled_windows_1251_that_is_koi8r() -> None:
    word = base64.b64encode("Счёт на оплату".encode("koi8_r")).decode()
    parsed = parse_mail(mail("", Subject=f"=?windows-1251?B?{word}?="))
    assert parsed.subject == "Счёт на оплату"


def test_rfc2047_display_name_and_rfc6532_utf8_headers() -> None:
    name = base64.b64encode("Иван Петров".encode()).decode()
    raw = mail("", From=f"=?utf-8?B?{name}?= <ivan@example.ru>").replace(
        b"Subject: Order", "Subject: Заказ №5".encode()
    )
    parsed = parse_mail(raw)
    assert (parsed.from_name, parsed.subject) == ("Иван Петров", "Заказ №5")


def test_koi8r_subject_word_ending_in_a_newline_loses_it() -> None:
    word = base64.b64encode("Алфавит\n".encode("koi8_r")).decode()
    assert parse_mail(mail("", Subject=f"=?koi8-r?B?{word}?=")).subject == "Алфавит"


def test_decode_text_never_raises_and_never_invents_replacement_characters() -> None:
    for data in (bytes(range(256)), b"\xff\xfe\x00", "Цена".encode() + b"\xd0"):
        assert "\ufffd" not in decode_text(data, "utf-8")


# -- header injection and control characters ---------------------------------------------


def test_encoded_word_hiding_crlf_bcc_cannot_add_a_header_line() -> None:
    parsed = parse_mail(mail("", Subject="=?utf-8?Q?Hello=0D=0ABcc:_x@y.example?="))
    assert parsed.subject == "Hello Bcc: x@y.example"
    assert "bcc" not in parsed.headers


def test_display_name_with_line_breaks_and_bidi_overrides_is_one_clean_line() -> None:
    name = base64.b64encode("Ivan\r\nBcc: x@y\u202egnp.exe".encode()).decode()
    parsed = parse_mail(mail("", From=f"=?utf-8?B?{name}?= <ivan@example.ru>"))
    assert parsed.from_name == "Ivan Bcc: x@ygnp.exe"
    assert parsed.from_address == "ivan@example.ru"


def test_long_subject_and_names_are_capped() -> None:
    parsed = parse_mail(mail("", Subject="x" * 5000, From=f'"{"n" * 500}" <a@example.ru>'))
    assert len(parsed.subject) == 998
    assert len(parsed.from_name) == 200


# -- addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    [
        "alice@example.org)<bob@example.org>",  # CVE-2023-27043
        "alice@example.com <bob@example.com>",
        "a@example.com, b@example.com",
        "undisclosed-recipients:;",
        "not an address",
        "",
    ],
)
def test_ambiguous_missing_or_empty_from_gives_no_address(sender: str) -> None:
    parsed = parse_mail(mail("", From=sender))
    assert (parsed.from_address, parsed.from_name) == (None, "")


def test_addresses_are_lower_cased_and_to_keeps_every_valid_one() -> None:
    parsed = parse_mail(
        mail("", From="Ivan <Ivan.Petrov@Example.RU>", To='A <A@x.ru>, "B, C" <b@Y.ru>, junk')
    )
    assert parsed.from_address == "ivan.petrov@example.ru"
    assert parsed.to == ("a@x.ru", "b@y.ru")


def test_reply_to_is_the_single_mailbox_or_none() -> None:
    assert parse_mail(mail("Reply-To: Sales <Sales@x.ru>\r\n")).reply_to == "sales@x.ru"
    assert parse_mail(mail("Reply-To: a@x.ru, b@x.ru\r\n")).reply_to is None
    assert parse_mail(mail("")).reply_to is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [("Return-Path: <>\r\n", ""), ("Return-Path: <Bounce@X.ru>\r\n", "bounce@x.ru"), ("", None)],
)
def test_return_path(header: str, expected: str | None) -> None:
    assert parse_mail(mail(header)).return_path == expected


# -- message ids ------------------------------------------------------------------------


def test_in_reply_to_keeps_every_id_in_order_and_drops_junk() -> None:
    raw = mail(
        "In-Reply-To: junk <a@x.ru> (comment) <b@x.ru>\r\n"
        "References: <root@x.ru>\r\n <invalid.   id@x.ru> <a@x.ru>\r\n"
        "References: <late@x.ru>\r\n",
        Message_ID="&lt;escaped@x.ru&gt;",
    )
    parsed = parse_mail(raw)
    assert parsed.in_reply_to == ("<a@x.ru>", "<b@x.ru>")
    assert parsed.references == ("<root@x.ru>", "<a@x.ru>", "<late@x.ru>")
    assert parsed.message_id == "<escaped@x.ru>"


def test_bare_message_id_is_bracketed_and_empty_ones_are_none() -> None:
    assert parse_mail(mail("", Message_ID="bare@x.ru")).message_id == "<bare@x.ru>"
    assert parse_mail(mail("", Message_ID="<>")).message_id is None
    assert parse_mail(mail("In-Reply-To: \r\n")).in_reply_to == ()


# -- dates ------------------------------------------------------------------------------


def test_date_is_utc_and_falls_back_to_internal_date_then_now() -> None:
    now = datetime(2024, 3, 13, tzinfo=UTC)
    assert parse_mail(mail(""), INTERNAL).date == datetime(2024, 3, 12, 7, 15, tzinfo=UTC)
    assert parse_mail(mail("", Date="not a date"), INTERNAL, now=now).date == INTERNAL
    assert parse_mail(mail("", Date=""), None, now=now).date == now
    naive = datetime(2024, 3, 12, 9, 0)
    assert parse_mail(mail("", Date="garbage"), naive).date == naive.replace(tzinfo=UTC)


def test_date_far_in_the_future_is_not_believed() -> None:
    parsed = parse_mail(mail("", Date="Tue, 12 Mar 2030 10:15:00 +0300"), INTERNAL)
    assert parsed.date == INTERNAL


def test_internal_date_in_another_zone_is_stored_as_utc() -> None:
    moscow = datetime(2024, 3, 12, 10, 15, tzinfo=timezone(timedelta(hours=3)))
    assert parse_mail(mail("", Date=""), moscow).date == INTERNAL


# -- bodies -----------------------------------------------------------------------------

OUTLOOK_RU_HTML = """<html><head><style>p{margin:0}</style></head><body>
<div class=WordSection1><p class=MsoNormal>Добрый день!<o:p></o:p></p>
<p class=MsoNormal>Счёт получил, оплатим в пятницу.<o:p></o:p></p>
<p class=MsoNormal>С уважением,<br>Иван Петров<br>+7 495 123-45-67<o:p></o:p></p>
<div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>
<p class=MsoNormal><b>От:</b> Магазин &lt;shop@example.com&gt;<br><b>Отправлено:</b> 12 марта
2024 г. 10:15<br><b>Кому:</b> Иван<br><b>Тема:</b> Счёт</p></div></div>
<p class=MsoNormal>Здравствуйте! Высылаем счёт.</p></div></body></html>"""


def test_outlook_ru_html_only_reply_keeps_the_reply_and_drops_the_old_message() -> None:
    body = base64.encodebytes(OUTLOOK_RU_HTML.encode("cp1251"))
    raw = mail("Content-Type: text/html; charset=windows-1251\r\n"
               "Content-Transfer-Encoding: base64\r\n", body)  # fmt: skip
    parsed = parse_mail(raw)
    assert parsed.html_only
    assert parsed.text == (
        "Добрый день!\n\nСчёт получил, оплатим в пятницу.\n\n"
        "С уважением,\nИван Петров\n+7 495 123-45-67"
    )
    assert parsed.reply == parsed.text
    assert parsed.signature == "С уважением,\nИван Петров\n+7 495 123-45-67"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        (  # Outlook on the web: the header block and everything after it is the old mail
            '<div>Беру два.</div><div id="appendonsend"></div><hr>'
            '<div id="divRplyFwdMsg"><b>От:</b> Shop</div><div>Сколько штук?</div>',
            "Беру два.",
        ),
        (  # Apple Mail
            '<div>Yes.</div><div><br><blockquote type="cite">On 12 Mar 2024 Shop wrote:'
            "<div>Deal?</div></blockquote></div>",
            "Yes.",
        ),
        (  # Thunderbird: the attribution is a div of its own before the cite blockquote
            '<p>Да.</p><div class="moz-cite-prefix">12.03.2024 10:15, Shop пишет:</div>'
            '<blockquote type="cite">Оформляем?</blockquote>',
            "Да.",
        ),
        (  # Yandex: a bare blockquote; its attribution line stays for the text stripper
            "<div>Давайте в четверг.</div><div>12.03.2024, 10:15, &quot;Shop&quot; "
            "&lt;s@x.ru&gt;:</div><blockquote><div>Когда?</div></blockquote>",
            'Давайте в четверг.\n12.03.2024, 10:15, "Shop" <s@x.ru>:',
        ),
        (  # Gmail indentation is not a quote; scripts and styles are not text
            "<style>p{color:red}</style><script>alert(1)</script><p>Hi&nbsp;&amp; thanks</p>"
            '<blockquote style="margin:0 0 0 40px;border:none;padding:0px">indented</blockquote>'
            "<ul><li>one</li><li>two</li></ul>",
            "Hi & thanks\n\nindented\n\n- one\n- two",
        ),
    ],
)
def test_html_quotes_are_removed_before_conversion(html: str, text: str) -> None:
    assert html_to_text(html) == text


def multipart(subtype: str, *parts: bytes, boundary: str = "b1") -> bytes:
    inner = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return (
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
        + inner
        + f"--{boundary}--\r\n".encode()
    )


def part(content_type: str, body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in (f"Content-Type: {content_type}", *headers))
    return head.encode() + b"\r\n" + body


def raw_mail(structure: bytes, **extra: str) -> bytes:
    """Our usual headers followed by a MIME structure (its Content-Type line first)."""
    head = mail("", b"", **extra).removesuffix(b"\r\n")
    return head + structure


def test_gmail_alternative_prefers_plain_and_strips_the_quote() -> None:
    plain = "Беру.\r\n\r\nвт, 12 мар. 2024 г. в 10:15, Shop <s@x.ru>:\r\n> Берёте?\r\n"
    html = '<div>Беру.</div><div class="gmail_quote">вт, 12 мар. ... <blockquote>Берёте?</blockquote></div>'
    raw = raw_mail(
        multipart(
            "alternative",
            part("text/plain; charset=utf-8", plain.encode()),
            part("text/html; charset=utf-8", html.encode()),
        )
    )
    parsed = parse_mail(raw)
    assert (parsed.reply, parsed.html_only) == ("Беру.", False)
    assert parsed.text.startswith("Беру.\n\nвт, 12 мар. 2024 г. в 10:15")


def test_inline_text_parts_around_a_picture_are_joined_in_order() -> None:
    png = base64.encodebytes(b"\x89PNG" + b"0" * 60)
    raw = raw_mail(
        multipart(
            "mixed",
            part("text/plain; charset=utf-8", "Вот фото брака:".encode()),
            part("image/png", png, "Content-Disposition: inline; filename=a.png",
                 "Content-Transfer-Encoding: base64"),
            part("text/plain; charset=koi8-r", "Просим заменить две вазы.".encode("koi8_r")),
            part("image/png", png, "Content-Disposition: inline; filename=b.png",
                 "Content-Transfer-Encoding: base64"),
            part("text/plain; charset=utf-8", "Ирина\r\nОтправлено с iPhone".encode()),
        )
    )  # fmt: skip
    parsed = parse_mail(raw)
    assert (
        parsed.text == "Вот фото брака:\n\nПросим заменить две вазы.\n\nИрина\nОтправлено с iPhone"
    )
    assert parsed.signature == "Ирина\nОтправлено с iPhone"


def test_a_list_footer_added_as_a_part_of_its_own_is_read_and_stripped() -> None:
    footer = (
        "_______________________________________________\r\nbuyers mailing list\r\n"
        "https://lists.example.org/mailman/listinfo/buyers\r\n"
    )
    body = "Make it 45 seats.\r\n\r\nOn Fri, Mar 6, 2026 at 9:00 AM M <m@x.org> wrote:\r\n> 40?\r\n"
    raw = raw_mail(
        multipart(
            "mixed",
            part("text/plain; charset=utf-8", body.encode()),
            part("text/plain; charset=us-ascii", footer.encode()),
        )
    )
    parsed = parse_mail(raw)
    assert parsed.text.endswith("listinfo/buyers")
    assert parsed.reply == "Make it 45 seats."


def test_text_files_and_alternatives_are_not_joined_to_the_body() -> None:
    log = b"02:00:01 ERROR timeout\r\n"
    raw = raw_mail(
        multipart(
            "mixed",
            multipart(
                "alternative",
                part("text/plain; charset=utf-8", b"The sync fails at 2 am."),
                part("text/plain; charset=utf-8", b"<div>The sync fails at 2 am.</div>"),
                boundary="b2",
            ),
            part("text/plain; charset=utf-8", log, 'Content-Disposition: attachment; filename="sync.log"'),
            part("message/rfc822", b"From: a@x.org\r\nSubject: old\r\n\r\nOld text\r\n"),
        )
    )  # fmt: skip
    assert parse_mail(raw).text == "The sync fails at 2 am."


def test_gmail_html_only_quote_is_removed_before_the_text_stripper_runs() -> None:
    html = (
        '<div dir="ltr">Да, подходит.</div><br><div class="gmail_quote">'
        '<div class="gmail_attr">вт, 12 мар. 2024 г. в 10:15, Shop &lt;s@x.ru&gt;:</div>'
        '<blockquote class="gmail_quote" style="border-left:1px solid #ccc">Подходит?'
        "</blockquote></div>"
    )
    parsed = parse_mail(mail("Content-Type: text/html; charset=utf-8\r\n", html.encode()))
    assert (parsed.text, parsed.reply, parsed.html_only) == ("Да, подходит.", "Да, подходит.", True)


@pytest.mark.parametrize("construct", ["</", "<!--", "<a\n", "<a b='", "<?", "<!--a>"])
def test_html_that_would_make_the_parser_quadratic_is_refused_with_a_reason(
    construct: str,
) -> None:
    """CVE-2025-6069: html.parser scans to the end again for every construct left open; 1 MB
    of them took 74 s and more. Refused after a linear count, on any Python."""
    body = (construct * (1_000_000 // len(construct))).encode()
    with pytest.raises(
        UnparseableMail, match=r"HTML with [\d,]+ unclosed tags \(more than 1,000\)"
    ):
        parse_mail(mail("Content-Type: text/html; charset=utf-8\r\n", body))


def test_html_with_a_few_stray_brackets_is_read() -> None:
    words = "a < b, but <b>bold</b> and <i>x" + " <broken" * (MAX_UNCLOSED - 1)
    parsed = parse_mail(mail("Content-Type: text/html; charset=utf-8\r\n", words.encode()))
    assert parsed.text.startswith("a < b, but bold and x")


def test_html_past_the_cap_is_not_read() -> None:
    read = "<p>" + "x" * (MAX_HTML_CHARS - 21) + "</p><p>the end</p>"
    assert len(read) == MAX_HTML_CHARS == 200_000
    assert html_to_text(read + "<p>never read</p>").endswith("x\n\nthe end")


def test_text_and_reply_are_capped_and_free_of_nul() -> None:
    body = b"a\x00b " * (MAX_TEXT_CHARS // 2)
    parsed = parse_mail(mail("Content-Type: text/plain\r\n", body))
    assert len(parsed.text) <= MAX_TEXT_CHARS and len(parsed.reply) <= MAX_TEXT_CHARS
    assert "\x00" not in parsed.text
    assert parsed.text.startswith("ab ab")


def test_mail_without_headers_is_read_as_a_body() -> None:
    parsed = parse_mail(b"Just some words\r\nand more\r\n")
    assert parsed.text == "Just some words\nand more"
    assert (parsed.from_address, parsed.message_id, parsed.subject) == (None, None, "")


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n", b"\n\n\n"])
def test_empty_input_is_unparseable_with_a_reason(raw: bytes) -> None:
    with pytest.raises(UnparseableMail, match="empty"):
        parse_mail(raw)


def test_broken_mime_is_parsed_and_its_defects_named() -> None:
    raw = mail('Content-Type: multipart/mixed; boundary="never"\r\n', b"no boundary here\r\n")
    parsed = parse_mail(raw)
    assert parsed.text == "no boundary here"
    assert "StartBoundaryNotFoundDefect" in parsed.defects


# -- attachments ------------------------------------------------------------------------


def test_attachments_names_types_sizes_and_inline_images() -> None:
    pdf = base64.encodebytes(b"%PDF" + b"x" * 996)
    name = "Счёт №5.pdf".encode()
    rfc2231 = "utf-8''" + "".join(f"%{b:02X}" for b in name)
    rfc2047 = "=?koi8-r?B?" + base64.b64encode("Прайс.xlsx".encode("koi8_r")).decode() + "?="
    raw = raw_mail(
        multipart(
            "mixed",
            part("text/plain; charset=utf-8", "См. счёт".encode()),
            part("application/pdf", pdf, f"Content-Disposition: attachment; filename*={rfc2231}",
                 "Content-Transfer-Encoding: base64"),
            part("application/vnd.ms-excel", b"abc", f'Content-Disposition: attachment; filename="{rfc2047}"'),
            part("image/png", base64.encodebytes(b"\x89PNG" + b"0" * 60), "Content-ID: <logo@x>",
                 "Content-Disposition: inline", "Content-Transfer-Encoding: base64"),
        )
    )  # fmt: skip
    parsed = parse_mail(raw)
    assert [(a.name, a.mime_type, a.size, a.inline) for a in parsed.attachments] == [
        ("Счёт №5.pdf", "application/pdf", 1000, False),
        ("Прайс.xlsx", "application/vnd.ms-excel", 3, False),
        ("", "image/png", 64, True),
    ]
    assert parsed.text == "См. счёт"


def test_the_files_a_person_attached_are_decoded_once_when_the_mail_is_read() -> None:
    raw = raw_mail(
        multipart(
            "mixed",
            part("text/plain; charset=utf-8", b"see the files"),
            part("application/pdf", base64.encodebytes(b"%PDF-1.4 offer"),
                 'Content-Disposition: attachment; filename="offer.pdf"',
                 "Content-Transfer-Encoding: base64"),
            part("message/rfc822", b"From: a@x.ru\r\nSubject: old\r\n\r\nold text\r\n"),
            part("image/png", b"!!! not base64 !!!", "Content-Transfer-Encoding: base64",
                 'Content-Disposition: attachment; filename="broken.png"'),
            part("image/png", base64.encodebytes(b"\x89PNG logo"), "Content-ID: <logo@x>",
                 "Content-Disposition: inline", "Content-Transfer-Encoding: base64"),
        )
    )  # fmt: skip
    found = [(a.name, a.mime_type, a.content) for a in parse_mail(raw).attachments]
    assert found[0] == ("offer.pdf", "application/pdf", b"%PDF-1.4 offer")
    assert found[1][1] == "message/rfc822" and b"Subject: old" in found[1][2]
    assert found[2][:2] == ("broken.png", "image/png")  # whatever the decoder made of it
    assert found[3] == ("", "image/png", b"")  # an inline logo is no file a person sent
    assert len(found) == 4


def test_files_beyond_the_budget_are_listed_without_their_content(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parse, "MAX_FORWARD_BYTES", 10)
    files = [part("application/octet-stream", data, f"Content-Disposition: attachment; filename={name}")
             for name, data in (("a", b"123456"), ("b", b"1234567"), ("c", b"1234"))]  # fmt: skip
    parsed = parse_mail(raw_mail(multipart("mixed", part("text/plain", b"files"), *files)))
    assert [(a.name, a.content) for a in parsed.attachments] == [
        ("a", b"123456"),
        ("b", b""),  # it would pass the budget: named in the label, not attached
        ("c", b"1234"),
    ]


def test_filenames_the_parser_mangles_are_read_from_the_raw_header() -> None:
    raw = raw_mail(
        multipart(
            "mixed",
            part("text/plain", b"files"),
            part("application/pdf; name==?utf-8?B?0KHRh9GR0YIucGRm?=", b"x",
                 "Content-Disposition: attachment; filename==?utf-8?B?0KHRh9GR0YIucGRm?="),
            part("image/png", b"x", "Content-Disposition: attachment; filename=\"PLACEHOLDER\""),
        )
    ).replace(b"PLACEHOLDER", "Фото склада.png".encode()[:-5])  # fmt: skip
    names = [a.name for a in parse_mail(raw).attachments]
    assert names == ["Счёт.pdf", "Фото склад"]  # the character cut in half is dropped


def test_at_most_fifty_attachments_are_recorded() -> None:
    files = [part("application/octet-stream", b"x", f"Content-Disposition: attachment; filename=f{i}")
             for i in range(MAX_ATTACHMENTS + 20)]  # fmt: skip
    parsed = parse_mail(raw_mail(multipart("mixed", part("text/plain", b"files"), *files)))
    assert len(parsed.attachments) == MAX_ATTACHMENTS


def test_deeply_nested_forwarded_mail_is_one_attachment_and_bounded() -> None:
    inner = b"From: a@x.ru\r\nSubject: deepest\r\n\r\nold text\r\n"
    for level in range(30):
        inner = f"From: a@x.ru\r\nSubject: level {level}\r\n".encode() + multipart(
            "mixed", part("text/plain", b"fwd"), part("message/rfc822", inner), boundary=f"n{level}"
        )
    parsed = parse_mail(raw_mail(multipart("mixed", part("text/plain", b"see below"),
                                           part("message/rfc822", inner))))  # fmt: skip
    assert parsed.text == "see below"
    assert [a.mime_type for a in parsed.attachments] == ["message/rfc822"]


# -- bounces ----------------------------------------------------------------------------


def dsn(returned: bytes, returned_type: str = "message/rfc822") -> bytes:
    status = (
        b"Reporting-MTA: dns; mx.example.com\r\n\r\n"
        b"Original-Recipient: rfc822;ghost@example.org\r\n"
        b"Final-Recipient: rfc822; <Ghost@Example.org>\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n"
    )
    return multipart(
        "report; report-type=delivery-status",
        part("text/plain", b"Delivery failed."),
        part("message/delivery-status", status),
        part(returned_type, returned),
    )


def test_dsn_gives_action_status_recipient_and_our_message_id() -> None:
    returned = b"Message-ID: <ours-1@shop.example>\r\nSubject: Offer\r\n\r\nbody\r\n"
    parsed = parse_mail(raw_mail(dsn(returned), From="MAILER-DAEMON@mx.example.com"))
    report = parsed.report
    assert report is not None
    assert (report.original_message_id, report.recipient) == (
        "<ours-1@shop.example>",
        "ghost@example.org",
    )
    assert (report.status, report.action, report.permanent) == ("5.1.1", "failed", True)
    assert parsed.text == "Delivery failed."


def test_dsn_with_returned_headers_only() -> None:
    returned = b"Message-ID: <ours-2@shop.example>\r\nSubject: Offer\r\n"
    parsed = parse_mail(raw_mail(dsn(returned, "text/rfc822-headers")))
    assert parsed.report is not None
    assert parsed.report.original_message_id == "<ours-2@shop.example>"


def test_exim_plain_text_bounce() -> None:
    body = (
        b"This message was created automatically by mail delivery software.\r\n\r\n"
        b"A message that you sent could not be delivered to one or more of its\r\n"
        b"recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        b"  ghost@example.org\r\n    host mx.example.org: 550 5.1.1 User unknown\r\n\r\n"
        b"------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        b"Message-ID: <ours-3@shop.example>\r\nSubject: Offer\r\n"
    )
    raw = mail("X-Failed-Recipients: ghost@example.org\r\n", body,
               From="Mail Delivery System <Mailer-Daemon@mx.example.com>")  # fmt: skip
    report = parse_mail(raw).report
    assert report is not None
    assert (report.recipient, report.status, report.action) == (
        "ghost@example.org",
        "5.1.1",
        "failed",
    )
    assert report.original_message_id == "<ours-3@shop.example>"


def test_qmail_bounce_from_a_null_sender() -> None:
    body = (
        b"Hi. This is the qmail-send program at mx.example.org.\r\n"
        b"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n"
        b"<ghost@example.org>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n"
    )
    report = parse_mail(
        mail("Return-Path: <>\r\n", body, From="MAILER-DAEMON@mx.example.org")
    ).report
    assert report is not None
    assert (report.recipient, report.status) == ("ghost@example.org", "5.1.1")


def test_a_customer_complaining_about_delivery_is_not_a_bounce() -> None:
    body = b"My order was undelivered, I paid 450 rubles. Call me: ivan@example.ru"
    parsed = parse_mail(mail("", body, Subject="Undelivered order"))
    assert parsed.report is None


def test_headers_for_the_filter_chain_are_lower_case_first_values() -> None:
    raw = mail(
        "Auto-Submitted: auto-replied\r\nPrecedence: bulk\r\nX-Autoreply: yes\r\n"
        "List-Id: <news.example.com>\r\nX-Loop: tp-1\r\nX-Loop: tp-2\r\n"
    )
    headers = parse_mail(raw).headers
    assert headers["auto-submitted"] == "auto-replied"
    assert (headers["precedence"], headers["x-autoreply"]) == ("bulk", "yes")
    assert (headers["list-id"], headers["x-loop"]) == ("<news.example.com>", "tp-1")


# -- a block of header lines on its own (a mailbox's catch-up reads only those) ----------


def test_a_header_block_reads_as_the_whole_mail_does() -> None:
    block = (
        b"From: =?utf-8?B?0JjQstCw0L0=?= <Ivan.Petrov@Bean.Example>\r\n"
        b"Message-ID:\r\n <20240312.1015@bean.example>\r\n\r\n"
    )
    whole = parse_mail(block.replace(b"\r\n\r\n", b"\r\nSubject: x\r\n\r\nHello\r\n"))

    assert message_id_and_sender(block) == (
        "<20240312.1015@bean.example>",
        "ivan.petrov@bean.example",
    )
    assert message_id_and_sender(block) == (whole.message_id, whole.from_address)


@pytest.mark.parametrize(
    "block",
    [
        b"From: kim@initech.example\r\nMessage-ID: <a@initech.exa",  # cut off at HEADER_BYTES
        b"From: kim@initech.example\r\nMessage-ID: <a@initech.example>\r\n",  # no blank line
        b"\r\n",  # neither header
        b"",
    ],
)
def test_a_header_block_that_may_be_cut_off_or_is_empty_says_nothing(block: bytes) -> None:
    assert message_id_and_sender(block) == (None, None)
