"""The lead-dialogue simulator's own logic (bench/dialogues): how it recognises the bot's
questions, what it counts as asked again, how a prospect answers, and how a lead is judged."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.dialogues.figures import field_checks, median, p90
from bench.dialogues.mailer import MailClient, parse_raw
from bench.dialogues.phrases import Phrases
from bench.dialogues.policy import Prospect, already_given, asked_fields
from bench.dialogues.profiles import (
    MailStyle,
    Move,
    Profile,
    ProfileError,
    Utterance,
    load_profiles,
    render,
)
from bench.dialogues.questions import Heard, Recogniser, Said, template_pattern
from bench.dialogues.service_mail import load_cases
from bench.lead_dialogues import DATA
from bot.records import Lead
from bot.texts import LANGUAGES, Texts
from handlers.catalog import CATALOG_DIR

TEXTS = Texts.load(CATALOG_DIR)
RECOGNISER = Recogniser(TEXTS)
PHRASES = Phrases.load(DATA / "answers.toml")
MARTIN = Profile(
    key="martin",
    lang="en",
    channel="terminal",
    style="plain",
    opener="I need {need}",
    name="Martin Kessler",
    company="Kessler Bakery",
    email="martin@kessler.example",
    need="25 office chairs",
    product="chairs",
)


def bot_says(*keys: str, lang: str = "en", options: tuple[str, ...] = ()) -> Heard:
    """What the prospect hears when the bot sends these catalog texts."""
    return RECOGNISER.hear([TEXTS.get(key, lang) for key in keys], options, lang)


def button(key: str, lang: str = "en") -> str:
    return TEXTS.get(f"button.{key}", lang)


# --- recognising the bot ------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("field", ["need", "name", "company", "contact", "budget", "timeline"])
def test_each_lead_question_is_recognised_in_both_languages(lang: str, field: str) -> None:
    [reply] = RECOGNISER.recognise(TEXTS.get(f"lead.ask_{field}", lang), prefer="en")

    assert (reply.said, reply.asks, reply.lang) == (Said.ASK, (field,), lang)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(
    ("key", "fields"),
    [
        ("lead.ask_budget_timeline", ("budget", "timeline")),
        ("lead.ask_name_contact", ("name", "contact")),
    ],
)
def test_a_question_for_two_fields_is_recognised_as_asking_both(
    lang: str, key: str, fields: tuple[str, ...]
) -> None:
    [reply] = RECOGNISER.recognise(TEXTS.get(key, lang), prefer="en")

    assert (reply.said, reply.asks) == (Said.ASK, fields)


def test_a_filled_in_template_is_recognised_by_its_fixed_words() -> None:
    saved = TEXTS.get("lead.saved", "ru", name="Ольга")

    [reply] = RECOGNISER.recognise(saved, prefer="ru")

    assert (reply.key, reply.said) == ("lead.saved", Said.SAVED)


def test_a_mail_is_split_back_into_the_turns_replies_and_its_form_read() -> None:
    questions = "\n".join(
        f"{n}. {TEXTS.get(f'lead.email_question.{f}', 'en')}"
        for n, f in enumerate(("need", "name", "budget"), 1)
    )
    mail = (
        TEXTS.get("lead.intro", "en")
        + "\n\n"
        + TEXTS.get("lead.email_form", "en", questions=questions)
    )

    intro, form = RECOGNISER.recognise(mail, prefer="en")

    assert (intro.said, form.said) == (Said.NOTE, Said.FORM)
    assert form.asks == ("need", "name", "budget")


def test_text_the_catalog_does_not_hold_is_unknown_and_decides_nothing() -> None:
    heard = RECOGNISER.hear(["Our prices start at 10 euros."], [], "en")

    assert [reply.said for reply in heard.replies] == [Said.UNKNOWN]
    assert heard.last is not None and heard.last.said is Said.UNKNOWN


def test_the_question_after_a_remark_is_what_the_prospect_answers() -> None:
    heard = bot_says("lead.bad_contact", "lead.ask_contact")

    assert heard.last is not None and heard.last.asks == ("contact",)


def test_a_question_decides_over_a_text_the_catalog_does_not_hold() -> None:
    heard = RECOGNISER.hear(
        [TEXTS.get("lead.ask_budget", "en"), "Prices start at 10 euros a chair."], [], "en"
    )

    assert heard.last is not None and heard.last.asks == ("budget",)


def test_texts_the_catalog_no_longer_has_are_not_looked_for() -> None:
    entries = {"lead.ask_name": {"en": "Your name?", "ru": "Ваше имя?"}}
    recogniser = Recogniser(Texts(entries, "a smaller catalog"))

    [name] = recogniser.recognise("Ваше имя?", prefer="en")

    assert (name.said, name.asks, name.lang) == (Said.ASK, ("name",), "ru")
    assert recogniser.label_of(["Skip"], "button.skip") is None


def test_a_placeholder_used_twice_must_hold_the_same_text() -> None:
    pattern = template_pattern("Request #{number} is open. Ask about #{number}.")

    assert pattern.fullmatch("Request #7 is open. Ask about #7.")
    assert not pattern.fullmatch("Request #7 is open. Ask about #8.")


def test_an_option_is_found_by_its_catalog_label_in_either_language() -> None:
    options = (button("confirm", "ru"), button("edit", "ru"), button("skip", "ru"))

    assert RECOGNISER.label_of(options, "button.skip") == (3, button("skip", "ru"))
    assert RECOGNISER.label_of(options, "button.lead") is None


# --- counting what was already given --------------------------------------------------------


def test_already_given_are_the_asked_fields_stated_before_in_the_order_asked() -> None:
    assert already_given(["need", "name", "budget"], {"budget", "need"}) == ["need", "budget"]
    assert already_given(["name"], set()) == []


def test_only_questions_and_forms_ask_for_fields() -> None:
    [summary] = RECOGNISER.recognise(TEXTS.get("lead.summary", "en"), prefer="en")
    [question] = RECOGNISER.recognise(TEXTS.get("lead.ask_name", "en"), prefer="en")

    assert asked_fields(summary) == ()
    assert asked_fields(question) == ("name",)


def test_the_fields_a_message_states_are_its_placeholders() -> None:
    said = render("Hi, I'm {name}, we need {need}. Call {phone}.", MARTIN.values)

    assert said.states == {"name", "need", "contact"}
    assert render("how much are your {product}?", MARTIN.values).states == frozenset()


def test_a_need_asked_after_the_opener_stated_it_counts_as_asked_again() -> None:
    martin = Prospect(MARTIN, PHRASES, RECOGNISER)
    martin.opener()

    martin.reply_to(bot_says("lead.intro", "lead.ask_need"))
    martin.reply_to(bot_says("lead.ask_name"))
    martin.reply_to(bot_says("lead.ask_need"))

    assert martin.repeated == ["need", "need"]


def test_a_question_about_a_field_never_stated_is_not_counted() -> None:
    asking = Prospect(replace(MARTIN, opener="how much?"), PHRASES, RECOGNISER)
    asking.opener()

    asking.reply_to(bot_says("lead.intro", "lead.ask_need"))

    assert asking.repeated == []


# --- answering --------------------------------------------------------------------------------


def test_a_prospect_answers_in_its_style_then_tersely_when_asked_the_same_again() -> None:
    martin = Prospect(MARTIN, PHRASES, RECOGNISER)
    martin.opener()

    first = martin.reply_to(bot_says("lead.ask_name"))
    second = martin.reply_to(bot_says("lead.bad_name", "lead.ask_name"))

    assert first is not None and first.text == "My name is Martin Kessler."
    assert second is not None and second.text == "Martin Kessler"


def test_a_terse_prospect_without_a_budget_presses_skip() -> None:
    terse = Prospect(replace(MARTIN, style="terse"), PHRASES, RECOGNISER)
    terse.opener()

    said = terse.reply_to(bot_says("lead.ask_budget", options=(button("skip"),)))

    assert said == Utterance(button("skip"), frozenset({"budget"}))


def test_a_question_for_two_fields_is_answered_with_both_in_one_message() -> None:
    martin = Prospect(replace(MARTIN, budget="6,000 euros", timeline="in May"), PHRASES, RECOGNISER)
    martin.opener()

    said = martin.reply_to(bot_says("lead.ask_budget_timeline", options=(button("skip"),)))

    assert said == Utterance("Around 6,000 euros. in May", frozenset({"budget", "timeline"}))


def test_a_terse_prospect_with_neither_field_presses_skip_once() -> None:
    terse = Prospect(replace(MARTIN, style="terse"), PHRASES, RECOGNISER)
    terse.opener()

    said = terse.reply_to(bot_says("lead.ask_budget_timeline", options=(button("skip"),)))

    assert said == Utterance(button("skip"), frozenset({"budget", "timeline"}))


def test_a_prospect_picks_the_offer_from_a_menu_then_restates_its_need() -> None:
    martin = Prospect(MARTIN, PHRASES, RECOGNISER)
    martin.opener()
    menu = bot_says("not_understood", options=(button("lead"), button("human")))

    picked, restated = martin.reply_to(menu), martin.reply_to(menu)

    assert picked is not None and picked.text == button("lead")
    assert restated is not None and "25 office chairs" in restated.text


def test_the_dialogue_ends_when_the_lead_is_saved_and_after_twelve_messages() -> None:
    saved = Prospect(MARTIN, PHRASES, RECOGNISER)
    saved.opener()
    assert saved.reply_to(bot_says("lead.saved")) is None
    assert saved.ended == "lead saved"

    waiting = Prospect(MARTIN, PHRASES, RECOGNISER)  # saved with no rep to tell of it
    waiting.opener()
    assert waiting.reply_to(bot_says("lead.saved_waiting")) is None
    assert waiting.ended == "lead saved"

    nobody = Prospect(MARTIN, PHRASES, RECOGNISER)  # no rep to hand over to
    nobody.opener()
    assert nobody.reply_to(bot_says("handoff.nobody_available")) is None
    assert nobody.ended == "handed to a person"

    stuck = Prospect(MARTIN, PHRASES, RECOGNISER)
    stuck.opener()
    while stuck.reply_to(bot_says("lead.ask_name")) is not None:
        pass
    assert (stuck.turns, stuck.ended) == (12, "gave up after 12 messages")


def test_a_refusal_is_said_once_insisted_once_and_the_questions_after_it_are_kept() -> None:
    refusing = Prospect(
        replace(MARTIN, wants_lead=False, moves=(Move("name", "not buying, sorry", stop=True),)),
        PHRASES,
        RECOGNISER,
    )
    refusing.opener()

    said = refusing.reply_to(bot_says("lead.ask_name"))
    insisted = refusing.reply_to(bot_says("lead.ask_company"))
    last = refusing.reply_to(bot_says("lead.ask_contact"))

    assert said is not None and said.text == "not buying, sorry"
    assert insisted is not None and insisted.text == "No thanks, I'm not buying anything."
    assert last is None
    assert refusing.after_refusal == ["lead.ask_company", "lead.ask_contact"]


def test_a_move_the_bot_gave_no_chance_to_is_said_at_the_summary() -> None:
    correcting = Prospect(
        replace(MARTIN, moves=(Move("budget", "actually my email is {email}"),)),
        PHRASES,
        RECOGNISER,
    )
    correcting.opener()

    said = correcting.reply_to(bot_says("lead.summary"))

    assert said is not None and said.text == "actually my email is martin@kessler.example"


def test_replies_in_the_other_language_are_counted() -> None:
    martin = Prospect(MARTIN, PHRASES, RECOGNISER)
    martin.opener()

    martin.reply_to(bot_says("lead.intro", "lead.ask_need", lang="ru"))

    assert martin.wrong_language == 2


def test_a_mail_form_is_answered_field_by_field_with_the_signature_below() -> None:
    mail = MailStyle(subject="Chairs", answers="numbered", signature=("Regards,", "{name}"))
    writer = Prospect(replace(MARTIN, channel="email", mail=mail), PHRASES, RECOGNISER)
    writer.opener()
    questions = "\n".join(
        f"{n}. {TEXTS.get(f'lead.email_question.{f}', 'en')}"
        for n, f in enumerate(("name", "company"), 1)
    )

    said = writer.reply_to(
        RECOGNISER.hear([TEXTS.get("lead.email_form", "en", questions=questions)], [], "en")
    )

    assert said is not None
    assert said.text == "1. Martin Kessler\n2. Kessler Bakery"
    assert said.signature == "Regards,\nMartin Kessler"
    assert said.parts == (("name", "Martin Kessler"), ("company", "Kessler Bakery"))


# --- mail and judging ---------------------------------------------------------------------


def test_a_reply_mail_threads_under_the_bots_mail_and_quotes_it() -> None:
    bot = parse_raw(
        b"From: Touchpoint Sales <sales@touchpoint.example>\r\nSubject: Re: Chairs\r\n"
        b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nMessage-ID: <b1@tp.touchpoint.example>\r\n"
        b"References: <m1@kessler.example>\r\n\r\nWhat is your name?\r\n"
    )
    client = MailClient(MARTIN, MailStyle(subject="Chairs", quote="outlook"))

    raw = client.reply(Utterance("Martin Kessler"), bot, datetime(2026, 3, 2, 10, tzinfo=UTC))

    mail = parse_raw(raw)
    assert mail["In-Reply-To"] == "<b1@tp.touchpoint.example>"
    assert mail["References"] == "<m1@kessler.example> <b1@tp.touchpoint.example>"
    assert mail["Subject"] == "RE: Chairs"
    body = mail.get_content()
    assert body.startswith("Martin Kessler\n\n-----Original Message-----\nFrom: Touchpoint Sales")
    assert body.rstrip().endswith("What is your name?")


def lead(
    *,
    need: str = "We need 25 office chairs.",
    name: str = "Martin Kessler",
    company: str | None = "Kessler Bakery",
    email: str | None = "martin@kessler.example",
    phone: str | None = None,
) -> Lead:
    return Lead(
        id=1,
        contact_id=1,
        conversation_id=1,
        status="new",
        need=need,
        name=name,
        company=company,
        email=email,
        phone=phone,
        budget=None,
        timeline=None,
        source=None,
        score=0,
        created_at=datetime(2026, 3, 2, tzinfo=UTC),
    )


def test_fields_are_compared_without_case_and_spaces_and_the_need_by_its_product() -> None:
    assert field_checks(MARTIN, lead(name="martin  KESSLER")) == {
        "name": True,
        "contact": True,
        "need": True,
        "company": True,
    }
    wrong = field_checks(MARTIN, lead(name="My name is Martin Kessler", need="Get an offer"))
    assert (wrong["name"], wrong["need"]) == (False, False)


def test_a_phone_is_the_same_number_however_it_is_written() -> None:
    calling = replace(MARTIN, contact="phone", phone="8 (912) 345-67-89", company="")

    checks = field_checks(calling, lead(email=None, phone="+79123456789", company=None))

    assert checks["contact"] and checks["company"]


def test_the_median_and_the_nearest_rank_p90() -> None:
    assert median([3, 1, 2, 10]) == 2.5
    assert p90(list(range(1, 11))) == 9
    assert p90([4]) == 4
    assert (median([]), p90([])) == (None, None)


# --- the shipped prospects ------------------------------------------------------------------


def test_the_shipped_prospects_cover_both_languages_and_mail() -> None:
    profiles = load_profiles(DATA)

    by_lang = {lang: [p for p in profiles if p.lang == lang] for lang in LANGUAGES}
    assert len(profiles) >= 60
    assert all(len(group) >= 25 for group in by_lang.values())
    assert sum(p.channel == "email" for p in profiles) >= 20
    for profile in profiles:  # every template they say fills from their own profile
        for template in (
            profile.opener,
            *profile.answers.values(),
            *(m.text for m in profile.moves),
        ):
            render(template, profile.values)


def test_the_service_threads_load_in_both_languages() -> None:
    cases = load_cases(DATA)
    assert len(cases) >= 8
    assert {case.lang for case in cases} == {"en", "ru"}
    assert all(case.complaint and case.followup for case in cases)


def test_a_service_thread_with_a_wrong_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "service-mail.toml").write_text(
        '[[case]]\nkey = "x"\nlang = "en"\nmood = "cross"\n', encoding="utf-8"
    )
    with pytest.raises(ProfileError, match="case 'x'"):
        load_cases(tmp_path)
