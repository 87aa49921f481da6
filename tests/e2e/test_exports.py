"""`touchpoint leads|contacts|tickets export` as a subprocess: CSV that Python's csv module (and
a spreadsheet program) reads back as it was written, Russian text, commas, quotes, newlines
and all, with every formula-looking cell defused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from storage.repos.leads import NewLead
from tests.e2e.test_cli import prepared, touchpoint
from tests.harness import BotHarness

pytestmark = pytest.mark.slow

NEED = 'Нужны 3 сервера HP ProLiant, "срочно",\nс установкой'
COMPANY = "ООО «Ромашка», Москва"
BUDGET = "=1+2 (не знаю)"


async def a_russian_lead_and_a_complaint(bot: BotHarness) -> None:
    """Written as the bot writes them (a contact, a lead, a ticket), with awkward values."""
    now = bot.clock.now
    await bot.customer("2002", channel="telegram", name="@Иван Петров").say("привет")
    async with bot.database.transaction() as uow:
        conversation = await uow.conversations.find("telegram", "2002")
        assert conversation is not None
        contact_id = conversation.contact_id
        lead = NewLead(
            contact_id=contact_id, conversation_id=conversation.id, need=NEED, name="Иван Петров",
            company=COMPANY, email="ivan@romashka.example", phone="+79991234567",
            budget=BUDGET, timeline="к маю", source="-promo", score=40,
        )  # fmt: skip
        await uow.leads.create(lead, now)
        await uow.tickets.open(
            contact_id=contact_id, conversation_id=conversation.id, category="delivery",
            summary="Заказ 5531 пришёл повреждённым;\n-подлокотник сломан", now=now,
        )  # fmt: skip
        await uow.commit()


def read_back(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode())  # a spreadsheet program then reads UTF-8
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


def test_exports_read_back_exactly_with_formulas_defused(tmp_path: Path) -> None:
    prepared(tmp_path, a_russian_lead_and_a_complaint)
    for what in ("leads", "contacts", "tickets"):
        done = touchpoint(tmp_path, what, "export", "-o", str(tmp_path / f"{what}.csv"))
        assert done.returncode == 0, done.stderr
        assert done.stderr.endswith(f"rows written to {tmp_path / f'{what}.csv'}\n")

    [lead] = read_back(tmp_path / "leads.csv")
    assert (lead["need"], lead["name"], lead["company"]) == (NEED, "Иван Петров", COMPANY)
    assert (lead["budget"], lead["source"], lead["phone"]) == (
        "'" + BUDGET,
        "'-promo",
        "'+79991234567",
    )
    assert (lead["status"], lead["score"], lead["created_at"]) == (
        "new",
        "40",
        "2026-03-02T09:00:00+00:00",
    )
    [contact] = read_back(tmp_path / "contacts.csv")
    assert (contact["display_name"], contact["verified"]) == ("'@Иван Петров", "telegram:2002")
    assert contact["claimed"] == ""  # the lead was written directly: no typed address linked
    [ticket] = read_back(tmp_path / "tickets.csv")
    assert (ticket["number"], ticket["status"], ticket["contact_name"]) == (
        "1001",
        "open",
        "'@Иван Петров",
    )
    assert ticket["summary"] == "Заказ 5531 пришёл повреждённым;\n-подлокотник сломан"


def test_a_formula_cell_is_escaped_and_stdout_is_utf8(tmp_path: Path) -> None:
    async def formula_name(bot: BotHarness) -> None:
        await bot.customer("3003", channel="telegram", name="=1+2").say("hello")

    prepared(tmp_path, formula_name)
    done = touchpoint(tmp_path, "contacts", "export")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(done.stdout.lstrip("\ufeff").splitlines()))
    assert [r["display_name"] for r in rows] == ["'=1+2"]
    assert rows[0]["verified"] == "telegram:3003"
    bad = touchpoint(tmp_path, "leads", "export", "--since", "yesterday")
    assert (bad.returncode, bad.stderr) == (
        2,
        "touchpoint: --since 'yesterday' is not a date like 2026-12-31\n",
    )
