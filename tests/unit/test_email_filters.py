"""The loop and noise filter chain: which mail the bot may answer, and why not the rest."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from channels.email.filters import CHECKS, LOOP_HEADERS, classify
from channels.email.mail import DeliveryReport, MailKind, ParsedMail, Verdict

BOT = "sales@shop.example"
TOKEN = "touchpoint@shop.example"
OUR_IDS = "mail.shop.example"

CUSTOMER, BOUNCE, REPORT = MailKind.CUSTOMER, MailKind.BOUNCE, MailKind.REPORT
AUTO_REPLY, BULK, LOOP = MailKind.AUTO_REPLY, MailKind.BULK, MailKind.LOOP


def mail(
    subject: str = "Quote for 40 pallets",
    sender: str | None = "anna@northwind.example",
    text: str = "Hello, could you send me a quote?",
    **fields: object,
) -> ParsedMail:
    """An ordinary mail from a person; `headers={...}` and any other field override it."""
    base = ParsedMail(
        raw=b"",
        message_id="<CAB123@mail.gmail.com>",
        subject=subject,
        from_address=sender,
        from_name="Anna Petrova",
        date=datetime(2025, 3, 3, 9, 30, tzinfo=UTC),
        text=text,
        reply=text,
        return_path=sender,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def changed(**fields: object) -> ParsedMail:
    """The ordinary mail with some fields changed (a parametrised test's dict of them)."""
    return mail(**fields)  # type: ignore[arg-type]


def verdict(message: ParsedMail) -> Verdict:
    return classify(
        message,
        own_addresses=frozenset({BOT, "Info@Shop.Example"}),
        loop_token=TOKEN,
        own_domains=frozenset({OUR_IDS}),
    )


def dsn(report_type: str = "delivery-status") -> dict[str, str]:
    return {"content-type": f'multipart/report; report-type="{report_type}"; boundary="b"'}


# A person


def test_an_ordinary_mail_is_a_person() -> None:
    assert verdict(mail()) == Verdict(CUSTOMER, "a person wrote")
    assert verdict(mail()).answerable


def test_a_customer_who_is_out_of_office_in_the_body_is_a_customer() -> None:
    body = "I'm out of office next week, can you deliver on Monday?"
    assert verdict(mail("Delivery date", text=body)).kind is CUSTOMER


@pytest.mark.parametrize(
    "subject",
    [
        # Decided: a reply or forward prefix first means a person answering a thread.
        "Re: Out of office question",
        "RE: Automatic reply: your order",
        "Fwd: [AUTO GENERATED] Invoice 55",
        "Ответ: Автоответ",
        # The marker must end the subject or be followed by a colon or a dash.
        "Out of office question",
        "Absence of documentation in the box",
        "Отпуск в Турции: нужен ли заказ до 15-го?",
        "Undeliverable goods in my last order",
        "Returned mail order #55",
    ],
)
def test_a_person_writing_about_absence_or_delivery_is_a_customer(subject: str) -> None:
    assert verdict(mail(subject)).kind is CUSTOMER


# 1. Null reverse-path


@pytest.mark.parametrize("return_path", ["", "<>", " <> "])
def test_null_return_path_is_never_answered(return_path: str) -> None:
    assert verdict(mail(return_path=return_path)) == Verdict(AUTO_REPLY, "null return path")


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"headers": dsn()}, BOUNCE),
        ({"report": DeliveryReport("<m@x>", "a@b.example", "5.1.1", "failed")}, BOUNCE),
        ({"headers": dsn("disposition-notification")}, REPORT),
        ({"from_address": "MAILER-DAEMON@mx.example"}, BOUNCE),
        ({"headers": {"x-failed-recipients": "a@b.example"}}, BOUNCE),
        (
            {"subject": "Undelivered Mail Returned to Sender", "from_name": "Mail Delivery System"},
            BOUNCE,
        ),
        ({"subject": "Automatic reply: quote", "headers": {"precedence": "bulk"}}, AUTO_REPLY),
    ],
)
def test_null_return_path_says_which_kind_of_automatic_mail(
    fields: dict[str, object], kind: MailKind
) -> None:
    assert verdict(changed(return_path="", **fields)) == Verdict(kind, "null return path")


def test_an_absent_return_path_is_not_a_null_one() -> None:
    assert verdict(mail(return_path=None)).kind is CUSTOMER


# 2. Reports


@pytest.mark.parametrize(
    "fields",
    [
        {"headers": dsn()},
        {"headers": dsn("global-delivery-status")},
        {"content_type": "multipart/report", "headers": dsn()},
        {"content_type": "message/delivery-status"},
        {"report": DeliveryReport(None, "a@b.example", "5.1.1", "failed")},
    ],
)
def test_delivery_status_notifications_are_bounces(fields: dict[str, object]) -> None:
    assert verdict(changed(subject="Delivery Status Notification", **fields)) == Verdict(
        BOUNCE, "delivery status notification"
    )


def test_a_dsn_that_also_says_auto_submitted_still_goes_to_the_bounce_handler() -> None:
    headers = {**dsn(), "auto-submitted": "auto-replied"}
    assert verdict(mail(headers=headers)).reason == "delivery status notification"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (dsn("feedback-report"), "ARF feedback report"),
        (
            {**dsn("feedback-report"), "precedence": "list", "x-loop": "scomp"},
            "ARF feedback report",
        ),
        (dsn("disposition-notification"), "read receipt (MDN)"),
        ({"content-type": "multipart/report; boundary=x"}, "report: unknown"),
        ({"content-type": "message/disposition-notification"}, "read receipt (MDN)"),
    ],
)
def test_other_reports_are_reports(headers: dict[str, str], reason: str) -> None:
    assert verdict(mail(headers=headers)) == Verdict(REPORT, reason)


# 3. Mail servers


@pytest.mark.parametrize(
    "fields",
    [
        {"from_address": "MAILER-DAEMON@aol.com"},
        {"from_address": "postmaster@example.no"},
        {"from_address": "Mailer-Daemon@example.com", "subject": "Delayed Mail"},
        {"return_path": "MAILER-DAEMON@imap01.example.net"},
    ],
)
def test_mailer_daemon_and_postmaster_senders_are_bounces(fields: dict[str, object]) -> None:
    assert verdict(changed(**fields)) == Verdict(BOUNCE, "mailer-daemon sender")


def test_x_failed_recipients_is_a_bounce() -> None:
    message = mail(headers={"x-failed-recipients": "someone@example.comm"})
    assert verdict(message) == Verdict(BOUNCE, "X-Failed-Recipients")


# 4. Automatic and bulk mail by header


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("auto-replied", "Auto-Submitted: auto-replied"),
        ("auto-generated", "Auto-Submitted: auto-generated"),
        ("Auto-Generated (failure)", "Auto-Submitted: auto-generated"),
        ("auto-notified", "Auto-Submitted: auto-notified"),
        ("vacation", "Auto-Submitted: vacation"),
        ("auto-replied; owner-email=a@b.example", "Auto-Submitted: auto-replied"),
    ],
)
def test_auto_submitted_other_than_no_is_an_auto_reply(value: str, reason: str) -> None:
    assert verdict(mail(headers={"auto-submitted": value})) == Verdict(AUTO_REPLY, reason)


@pytest.mark.parametrize("value", ["no", "No", " no ", ""])
def test_auto_submitted_no_is_a_person(value: str) -> None:
    assert verdict(mail(headers={"auto-submitted": value})).kind is CUSTOMER


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("x-autoreply", "yes", "X-Autoreply"),
        ("x-autorespond", "Thank you", "X-Autorespond"),
        ("x-autoresponder", "true", "X-Autoresponder"),
        ("x-fc-machinegenerated", "true", "X-FC-MachineGenerated"),
    ],
)
def test_autoreply_headers(name: str, value: str, reason: str) -> None:
    assert verdict(mail(headers={name: value})) == Verdict(AUTO_REPLY, reason)


@pytest.mark.parametrize("value", ["no", "false", "0"])
def test_autoreply_header_set_to_no_is_a_person(value: str) -> None:
    assert verdict(mail(headers={"x-autoreply": value})).kind is CUSTOMER


def test_x_auto_response_suppress_alone_is_only_a_request() -> None:
    assert verdict(mail(headers={"x-auto-response-suppress": "All"})).kind is CUSTOMER


@pytest.mark.parametrize(
    ("subject", "headers"),
    [
        ("Quote", {"x-auto-response-suppress": "All", "x-ms-exchange-inbox-rules-loop": BOT}),
        (
            "Quote",
            {"x-auto-response-suppress": "OOF, AutoReply", "x-ms-exchange-inbox-rules-loop": BOT},
        ),
        ("Automatic reply: Quote", {"x-auto-response-suppress": "All"}),
    ],
)
def test_exchange_out_of_office(subject: str, headers: dict[str, str]) -> None:
    assert verdict(mail(subject, headers=headers)) == Verdict(AUTO_REPLY, "Exchange out-of-office")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("bulk", BULK),
        ("Junk", BULK),
        ("list", BULK),
        ("auto_reply", AUTO_REPLY),
        ("auto-reply", AUTO_REPLY),
        ("first-class", CUSTOMER),
        ("normal", CUSTOMER),
    ],
)
def test_precedence(value: str, kind: MailKind) -> None:
    assert verdict(mail(headers={"precedence": value})).kind is kind


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("list-id", "Announcements <news.shop.example>"),
        ("list-unsubscribe", "<mailto:leave@lists.example>"),
        ("list-post", "<mailto:dev@lists.example>"),
    ],
)
def test_list_headers_mean_a_list(name: str, value: str) -> None:
    reason = {
        "list-id": "List-Id",
        "list-unsubscribe": "List-Unsubscribe",
        "list-post": "List-Post",
    }
    assert verdict(mail(headers={name: value})) == Verdict(BULK, reason[name])


@pytest.mark.parametrize(
    ("return_path", "kind"),
    [
        ("owner-rrga-l@list.rtowest.org", BULK),
        ("dev-bounces@lists.example", BULK),
        ("dev-bounces+anna=northwind.example@lists.example", BULK),
        ("bounces+123@sendgrid.example", CUSTOMER),
        ("owner@northwind.example", CUSTOMER),
        ("SRS0=JyPW=K7=yahoo.com=user2@bounce.secureserver.net", CUSTOMER),
    ],
)
def test_a_list_servers_envelope_sender_means_a_list(return_path: str, kind: MailKind) -> None:
    assert verdict(mail(return_path=return_path)).kind is kind


# 5. Our own mail


@pytest.mark.parametrize("name", LOOP_HEADERS)
@pytest.mark.parametrize("value", [TOKEN, TOKEN.upper(), f"  {TOKEN} "])
def test_our_loop_header_means_our_own_mail(name: str, value: str) -> None:
    message = mail(headers={name.lower(): value})
    assert verdict(message) == Verdict(LOOP, "our own loop header")


def test_we_read_the_loop_header_our_smtp_sender_writes() -> None:
    compose = pytest.importorskip("channels.email.compose")
    assert compose.LOOP_HEADER in LOOP_HEADERS


@pytest.mark.parametrize("name", ["x-loop", "x-touchpoint-loop"])
def test_someone_elses_loop_header_is_not_ours(name: str) -> None:
    assert verdict(mail(headers={name: "helpdesk@northwind.example"})).kind is CUSTOMER


def test_an_empty_loop_token_matches_nothing() -> None:
    message = mail(headers={"x-loop": ""})
    loose = classify(message, own_addresses=frozenset(), loop_token="", own_domains=frozenset())
    assert loose.kind is CUSTOMER


@pytest.mark.parametrize("sender", [BOT, "SALES@shop.example", "info@shop.example"])
def test_mail_from_our_own_address_is_a_loop(sender: str) -> None:
    assert verdict(mail(sender=sender)) == Verdict(LOOP, "sent from our own address")


def test_a_colleague_in_our_domain_is_a_person() -> None:
    assert verdict(mail(sender="boss@shop.example")).kind is CUSTOMER


@pytest.mark.parametrize(
    ("message_id", "kind"),
    [
        (f"<abc.123@{OUR_IDS}>", LOOP),
        ("<abc.123@MAIL.SHOP.EXAMPLE>", LOOP),
        (f"<abc@eu.{OUR_IDS}>", LOOP),
        (f"<abc@not{OUR_IDS}>", CUSTOMER),
        ("<abc@shop.example>", CUSTOMER),  # the company's own mail server, not the bot
        (None, CUSTOMER),
        ("junk", CUSTOMER),
    ],
)
def test_a_message_id_of_our_domain_on_mail_not_from_us_is_a_loop(
    message_id: str | None, kind: MailKind
) -> None:
    assert verdict(mail(message_id=message_id)).kind is kind


# 6. Subjects


@pytest.mark.parametrize(
    "subject",
    [
        "Auto reply: Quote",
        "Auto-Reply: Quote",
        "AutoReply: Quote",
        "Automatic reply: Re: [#1042] Quote",
        "Out of Office: Quote",
        "Out of Office AutoReply: Quote",
        "Out of office",
        "[AUTO GENERATED] Your request",
        "Your request [Auto-Reply]",
        "Автоматический ответ: Коммерческое предложение",
        "Автоответ: Заказ",
        "Нет на месте",
        "Вне офиса: Заказ",
        "Отпуск",
        "Отпуск - до 15 августа",
        "Автоматична відповідь: Замовлення",
        "Abwesenheitsnotiz: Angebot",
        "Automatische Antwort: Angebot",
        "Réponse automatique : Devis",
        "Reponse automatique: Devis",
        "Absence: Devis",
        "Respuesta automática: Presupuesto",
        "Risposta automatica: Preventivo",
        "Automatyczna odpowiedź: Piotrze, test z 6 miesięcy nauki ciągle na Ciebie czeka",
        "Resposta automática: Orçamento",
        "Automatisch antwoord: Offerte",
    ],
)
def test_localised_auto_reply_subjects(subject: str) -> None:
    assert verdict(mail(subject)) == Verdict(AUTO_REPLY, "localised auto-reply subject")


def test_polish_outlook_auto_reply_with_no_headers_and_no_sender() -> None:
    """php-mime-mail-parser `issue212`: no From, no auto header; only the subject tells."""
    subject = "Automatyczna odpowiedź: Piotrze, test z 6 miesięcy nauki ciągle na Ciebie czeka"
    message = mail(subject, sender=None, message_id=None, return_path=None)
    assert verdict(message) == Verdict(AUTO_REPLY, "localised auto-reply subject")


@pytest.mark.parametrize(
    ("subject", "sender", "name"),
    [
        (
            "Undelivered Mail Returned to Sender",
            "bounce-handler@mx.example",
            "Mail Delivery System",
        ),
        ("Delivery Status Notification (Failure)", "noreply@mx.example", "Mail Delivery Subsystem"),
        ("Mail delivery failed: returning message to sender", None, ""),
        ("Недоставленное сообщение", "robot@mx.example", "Почтовый робот"),
        ("failure notice", "mailer@mx.example", "MAILER-DAEMON"),
        ("Returned mail: see transcript for details", "relay@mx.example", "Mail Administrator"),
    ],
)
def test_bounce_subjects_from_mail_systems_are_bounces(
    subject: str, sender: str | None, name: str
) -> None:
    message = mail(subject, sender=sender, from_name=name, return_path="relay@mx.example")
    assert verdict(message) == Verdict(BOUNCE, "bounce subject")


def test_a_bounce_subject_from_a_person_is_a_person() -> None:
    assert verdict(mail("Undelivered Mail Returned to Sender")).kind is CUSTOMER


# The order of the chain


def test_the_chain_runs_in_the_documented_order() -> None:
    assert [check.__name__ for check in CHECKS] == [
        "null_return_path",
        "delivery_status_notification",
        "other_report",
        "mailer_daemon_sender",
        "failed_recipients_header",
        "auto_submitted",
        "autoreply_header",
        "exchange_out_of_office",
        "precedence",
        "list_headers",
        "list_envelope_sender",
        "own_loop_header",
        "own_sender",
        "own_message_id",
        "auto_reply_subject",
        "bounce_subject",
    ]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"return_path": "", "headers": {"precedence": "bulk"}}, "null return path"),
        (
            {"from_address": "MAILER-DAEMON@x.example", "headers": dsn()},
            "delivery status notification",
        ),
        (
            {"from_address": "postmaster@x.example", "headers": {"auto-submitted": "auto-replied"}},
            "mailer-daemon sender",
        ),
        (
            {"headers": {"auto-submitted": "auto-replied", "list-id": "<l.example>"}},
            "Auto-Submitted: auto-replied",
        ),
        ({"headers": {"precedence": "bulk", "list-id": "<l.example>"}}, "Precedence: bulk"),
        ({"from_address": BOT, "headers": {"list-id": "<l.example>"}}, "List-Id"),
        ({"from_address": BOT, "subject": "Automatic reply: Quote"}, "sent from our own address"),
        ({"headers": {"x-loop": TOKEN}, "from_address": BOT}, "our own loop header"),
    ],
)
def test_the_first_check_that_matches_decides(fields: dict[str, object], reason: str) -> None:
    assert verdict(changed(**fields)).reason == reason


def test_our_own_reply_coming_back_is_never_answered() -> None:
    """Regression guard: what our SMTP sender sets is enough to stop our own mail."""
    ours = mail(
        "Re: [#1042] Quote",
        sender=BOT,
        message_id=f"<1.2@{OUR_IDS}>",
        headers={"auto-submitted": "auto-replied", "x-touchpoint-loop": TOKEN},
    )
    assert not verdict(ours).answerable
