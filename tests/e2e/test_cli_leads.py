"""Managers and reps at the terminal: `touchpoint leads` lists, shows and changes the pipeline,
`touchpoint handoffs reply` answers a customer, each change as a named person (`--as`) and on
the customer's timeline; leads nobody could be told of are offered when a rep is registered."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import create_async_engine

from storage.tables import outbox, rep_identities
from storage.uow import Database
from tests.harness import BotHarness, FakeClock

pytestmark = pytest.mark.slow


def touchpoint(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "IMAP_", "SMTP_"))}
    env.update(NO_COLOR="1", COLUMNS="220", DATABASE_URL=database_url, TIMEZONE="Europe/Moscow")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def said(database_url: str, *args: str) -> str:
    done = touchpoint(database_url, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def shown(database_url: str, *args: str) -> Any:
    return json.loads(said(database_url, *args, "--json"))


def refused(database_url: str, *args: str, code: int = 1) -> str:
    """The one line a refused command prints (nothing on stdout)."""
    done = touchpoint(database_url, *args)
    assert (done.returncode, done.stdout) == (code, ""), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    return done.stderr.strip()


def talk(database_url: str, script: Callable[[BotHarness], Awaitable[None]]) -> None:
    """What customers say to the bot, in this process, on the CLI's database."""

    async def run() -> None:
        database = Database.from_url(database_url)
        try:
            await script(BotHarness(database, FakeClock()))
        finally:
            await database.dispose()

    asyncio.run(run())


def in_database(database_url: str, statement: Any) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(statement)
                return list(result) if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def sent_to(database_url: str, address: str) -> list[str]:
    query = select(outbox.c.text).where(outbox.c.address == address).order_by(outbox.c.id)
    return [text for (text,) in in_database(database_url, query)]


async def two_leads_nobody_heard_of(bot: BotHarness) -> None:
    """Anna (terminal, English) on March 2; Иван (Telegram, Russian) a day and a half later;
    no rep is registered, so both wait."""
    anna = bot.customer("anna", name="Anna")
    await anna.say("Please send me a quote for 500 kg of coffee beans")
    for answer in ("Anna Petrova", "anna@northwind.example", "Northwind"):
        await anna.say(answer)
    await anna.press("lead:skip")
    await anna.press("lead:confirm")
    bot.clock.advance(hours=30)
    ivan = bot.customer("777", channel="telegram", name="Иван")
    for text in (
        "Здравствуйте, хочу купить",
        "Нужны 5 кофемашин для офиса",
        "Меня зовут Иван Смирнов, 8 (912) 345-67-89",
        "1",
        "около 300 тысяч рублей, в течение месяца",
        "да",
    ):
        await ivan.say(text)


def the_team(database_url: str) -> None:
    """Olga (en, ru), Вера Соколова (ru), the manager Марина, and Пётр, who is then left
    without any address to reach him on."""
    assert said(database_url, "db", "upgrade")
    talk(database_url, two_leads_nobody_heard_of)
    assert [lead["status"] for lead in shown(database_url, "leads", "list")] == [
        "waiting",
        "waiting",
    ]
    assert said(database_url, "reps", "add", "Olga", "--telegram", "4242", "--lang", "en,ru") == (
        "rep 1 added\nwaiting leads offered: 1, 2\n"
    )
    for args in (
        ("Вера Соколова", "--telegram", "5151", "--lang", "ru"),
        ("Марина", "--email", "marina@shop.example", "--lang", "ru,en", "--role", "manager"),
        ("Пётр", "--telegram", "6161", "--lang", "ru"),
    ):
        said(database_url, "reps", "add", *args)
    in_database(database_url, delete(rep_identities).where(rep_identities.c.rep_id == 4))


def test_waiting_leads_are_offered_to_a_new_rep_and_listed_with_filters(database_url: str) -> None:
    the_team(database_url)

    leads = shown(database_url, "leads", "list")
    assert [(lead["id"], lead["status"], lead["offered_rep_id"]) for lead in leads] == [
        (2, "new", 1),
        (1, "new", 1),
    ]
    assert [(lead["channel"], lead["owner"]) for lead in leads] == [
        ("telegram", None),
        ("console", None),
    ]
    cards = sent_to(database_url, "4242")
    assert [card.splitlines()[0] for card in cards] == [
        "New lead #1 for you",
        "New lead #2 for you",
    ]

    def ids(*filters: str) -> list[int]:
        return [lead["id"] for lead in shown(database_url, "leads", "list", *filters)]

    assert ids("--sort", "oldest") == [1, 2]
    assert ids("--sort", "score") == [2, 1]  # a phone and a budget score more than a company
    assert ids("--channel", "telegram") == [2]
    assert ids("--min-score", "65") == [2]
    assert ids("--since", "2026-03-03") == [2]
    assert ids("--until", "2026-03-02") == [1]  # the day named is included
    assert ids("--since", "2026-03-02T12:00", "--until", "2026-03-02T12:01") == [1]  # Moscow time
    assert ids("--status", "new", "--open", "--unowned") == [2, 1]
    said(database_url, "leads", "assign", "2", "--rep", "вера соколова", "--as", "Марина")
    assert ids("--owner", "Вера Соколова") == [2]
    assert ids("--owner", "2") == [2]
    assert ids("--unowned") == [1]

    table = said(database_url, "leads", "list", "--sort", "oldest").splitlines()
    assert "next step due" in table[1]
    [ivan] = [line for line in table if "Иван Смирнов" in line]
    for cell in ("Вера Соколова", "Нужны 5 кофемашин для офиса", "telegram", "2026-03-03 18:00"):
        assert cell in ivan
    [anna] = [line for line in table if "Anna Petrova" in line]
    assert "Please send me a quote for 500 kg of co…" in anna

    assert refused(database_url, "leads", "list", "--owner", "Nobody") == (
        "touchpoint: --owner Nobody: no rep or manager of that name (touchpoint reps list)"
    )
    bad_date = touchpoint(database_url, "leads", "list", "--since", "March")
    assert bad_date.returncode == 2 and "'March' is not a date" in bad_date.stderr


def test_a_manager_assigns_and_the_rep_works_the_lead_from_the_terminal(database_url: str) -> None:
    the_team(database_url)

    assert refused(
        database_url, "leads", "assign", "2", "--rep", "Вера Соколова", "--as", "Olga"
    ) == ("touchpoint: --as Olga: Olga is a rep; only a manager may do this")
    assert refused(database_url, "leads", "assign", "2", "--rep", "Пётр", "--as", "Марина") == (
        "touchpoint: Пётр cannot be reached: no Telegram or email address registered"
    )
    assert refused(database_url, "leads", "assign", "9", "--rep", "Olga", "--as", "Марина") == (
        "touchpoint: lead 9 not found"
    )
    assert refused(database_url, "leads", "note", "2", "hi", "--as", "Vera") == (
        "touchpoint: --as Vera: no rep or manager of that name (touchpoint reps list)"
    )
    assert said(
        database_url, "leads", "assign", "2", "--rep", "Вера Соколова", "--as", "марина"
    ) == ("lead 2 assigned to Вера Соколова\n")
    assert sent_to(database_url, "777")[-1].startswith(
        "Вашей заявкой № 2 занимается Вера Соколова из отдела продаж"
    )
    assert sent_to(database_url, "5151")[-1].startswith(
        "Заявка #2 теперь ваша: её передал вам руководитель\nИван Смирнов"
    )
    assert sent_to(database_url, "4242")[-1] == "Lead #2 was given to Вера Соколова."

    vera = ("--as", "Вера Соколова")
    assert refused(database_url, "leads", "note", "2", "Перезвонить", "--as", "Olga") == (
        "touchpoint: lead 2 is not Olga's: a rep changes only their own leads"
    )
    assert said(database_url, "leads", "note", "2", "Перезвонить после обеда", *vera) == (
        "lead 2: note added\n"
    )
    assert refused(
        database_url, "leads", "next-step", "2", "someday", "Отправить КП", *vera, code=2
    ) == ('touchpoint: cannot read WHEN \'someday\': say e.g. "tomorrow 10:00" or "in 2 hours"')
    next_step = said(
        database_url, "leads", "next-step", "2", "tomorrow 10:00", "Отправить КП", *vera
    )
    assert next_step.startswith("lead 2: next step 'Отправить КП' due ")
    assert next_step.endswith(" 10:00\n")
    assert refused(database_url, "leads", "set-status", "2", "lost", *vera, code=2) == (
        "touchpoint: a lost lead needs --reason"
    )
    assert refused(database_url, "leads", "set-status", "2", "sold", *vera, code=2) == (
        "touchpoint: unknown stage 'sold': use new, contacted, qualified, proposal, won, lost"
    )
    assert said(database_url, "leads", "set-status", "2", "qualified", *vera) == (
        "lead 2 is now qualified\n"
    )
    assert said(database_url, "leads", "set-status", "2", "qualified", *vera) == (
        "lead 2 was already qualified\n"
    )
    assert said(
        database_url, "leads", "set-status", "2", "lost", "--reason", "купили у конкурента",
        "--as", "Марина",
    ) == "lead 2 is now lost\n"  # fmt: skip

    lead = shown(database_url, "leads", "show", "2")
    assert (lead["owner"], lead["status"], lead["lost_reason"]) == (
        "Вера Соколова",
        "lost",
        "купили у конкурента",
    )
    assert lead["next_step"] == "Отправить КП"
    assert [(n["author"], n["text"]) for n in lead["notes"]] == [
        ("Вера Соколова", "Перезвонить после обеда")
    ]
    assert [(t["kind"], t["actor"], t["details"].get("rep_id")) for t in lead["history"]] == [
        ("lead_captured", "bot", None),
        ("lead_waiting", "system", None),
        ("lead_offered", "system", 1),
        ("lead_assigned", "operator", 2),
        ("lead_noted", "operator", 2),
        ("lead_next_step_set", "operator", 2),
        ("lead_status_changed", "operator", 2),
        ("lead_contacted", "operator", 2),
        ("lead_status_changed", "operator", 3),
    ]
    [assigned] = [t for t in lead["history"] if t["kind"] == "lead_assigned"]
    assert (assigned["details"]["by_rep_id"], assigned["details"]["from_rep_id"]) == (3, None)
    assert {t["conversation_id"] for t in lead["history"]} == {2}  # the customer's timeline

    page = said(database_url, "leads", "show", "2")
    assert "           owner: Вера Соколова" in page
    assert "Вера Соколова: Перезвонить после обеда" in page
    assert "operator lead_assigned" in page
    assert refused(database_url, "leads", "show", "9") == "touchpoint: lead 9 not found"


async def anna_asks_for_a_person(bot: BotHarness) -> None:
    await bot.customer("anna", name="Anna").say("/human", external_id="anna-human")


def test_a_handoff_is_answered_from_the_terminal(database_url: str) -> None:
    the_team(database_url)
    talk(database_url, anna_asks_for_a_person)  # nobody is on duty: it waits
    [handoff] = shown(database_url, "handoffs", "list")
    assert (handoff["id"], handoff["status"]) == (1, "queued")

    assert refused(database_url, "handoffs", "reply", "1", "Hello Anna", "--as", "Olga") == (
        "touchpoint: hand-off 1 is not Olga's: a rep answers only the hand-offs they hold"
    )
    assert refused(database_url, "handoffs", "reply", "7", "Hello", "--as", "Olga") == (
        "touchpoint: hand-off 7 not found"
    )
    assert said(
        database_url, "handoffs", "reply", "1", "Hello Anna, Марина here", "--as", "Марина"
    ) == ("hand-off 1: Марина's answer goes to the customer\n")
    [handoff] = shown(database_url, "handoffs", "list")
    assert (handoff["status"], handoff["rep_id"]) == ("claimed", 3)
    assert sent_to(database_url, "anna")[-2:] == [
        "Марина from our team has joined and will answer you here.",
        "Hello Anna, Марина here",
    ]

    timeline = shown(database_url, "contacts", "show", "1")["timeline"]
    replied = [t for t in timeline if t["kind"] in ("rep_claimed", "rep_replied")]
    assert [(t["kind"], t["actor"], t["details"]["rep_id"]) for t in replied] == [
        ("rep_claimed", "operator", 3),
        ("rep_replied", "operator", 3),
    ]
    said(database_url, "handoffs", "close", "1")
    assert refused(database_url, "handoffs", "reply", "1", "Still there?", "--as", "Марина") == (
        "touchpoint: hand-off 1 is not open"
    )
