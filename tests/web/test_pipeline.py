"""The pipeline board and a lead's page: leads made by customers talking to the bot, moved,
given and worked from the console, each change on the customer's timeline as the person's."""

from __future__ import annotations

import re

import pytest

from bot.records import Lead, TouchpointRow
from tests.web.console_client import ConsoleSite, Page, Visitor
from tests.web.scenes import on_duty, three_leads
from web.routes import pipeline


def column(page: Page, status: str) -> str:
    """The HTML of one column of the board."""
    found = re.search(
        rf'<section class="column" data-stage="{status}".*?</section>', page.text, re.S
    )
    assert found, f"no column {status}"
    return found.group(0)


async def lead(site: ConsoleSite, lead_id: int) -> Lead:
    async with site.bot.database.transaction() as uow:
        found = await uow.leads.get(lead_id)
    assert found is not None
    return found


async def touchpoints(site: ConsoleSite, kind: str) -> list[TouchpointRow]:
    async with site.bot.database.transaction() as uow:
        return await uow.touchpoints.search(kind=kind)


async def team(site: ConsoleSite) -> tuple[Visitor, int, int]:
    """Marina the manager (signed in), and the reps Olga and Boris."""
    marina = await site.signed_in(await site.add_rep("Marina", role="manager"))
    olga = await site.add_rep("Olga", telegram="4242")
    boris = await site.add_rep("Boris", telegram="4343")
    return marina, olga, boris


async def olga_has_zoes_lead(site: ConsoleSite) -> tuple[Visitor, int, int]:
    """Three leads; Marina gives Zoe's (lead 1) to Olga, who signs in."""
    await three_leads(site.bot)
    marina, olga_id, boris_id = await team(site)
    await give(marina, 1, olga_id)
    return await site.signed_in(olga_id), olga_id, boris_id


async def give(manager: Visitor, lead_id: int, rep_id: int) -> Page:
    await manager.get(f"/leads/{lead_id}")
    return await manager.post(f"/leads/{lead_id}/assign", {"rep": str(rep_id)})


async def test_the_board_shows_leads_in_their_columns_and_filters_them(site: ConsoleSite) -> None:
    await three_leads(site.bot)
    marina, olga, _ = await team(site)
    await give(marina, 2, olga)

    board = await marina.get("/pipeline")
    assert board.status == 200
    assert "Zoe Adams" in column(board, "waiting") and "Eve Stone" in column(board, "waiting")
    assert "Max Weber" in column(board, "new") and "Olga" in column(board, "new")
    assert "No leads here." in column(board, "won")

    only = await marina.get("/pipeline?channel=telegram")
    assert "Max Weber" in only.text and "Zoe Adams" not in only.text
    assert "Max Weber" not in (await marina.get("/pipeline?owner=none")).text
    assert "Max Weber" in (await marina.get(f"/pipeline?owner={olga}")).text
    day = await marina.get("/pipeline?since=2026-03-03&until=2026-03-03")
    assert ("Max Weber" in day.text, "Zoe Adams" in day.text, "Eve Stone" in day.text) == (
        True, False, False,
    )  # fmt: skip
    waiting = await marina.get("/pipeline?status=waiting")
    assert 'data-stage="new"' not in waiting.text and "Eve Stone" in waiting.text
    odd = await marina.get("/pipeline?source=%00%1b&channel=" + "x" * 5000)
    assert odd.status == 200 and "No leads here." in odd.text
    bad = await marina.get("/pipeline?min_score=lots&since=March")
    assert bad.status == 400 and "The minimum score is a number" in bad.text


async def test_a_rep_sees_only_their_own_leads(site: ConsoleSite) -> None:
    await three_leads(site.bot)
    marina, olga_id, boris_id = await team(site)
    await give(marina, 1, olga_id)
    await give(marina, 2, boris_id)
    olga = await site.signed_in(olga_id)

    board = await olga.get("/pipeline")
    assert "Zoe Adams" in board.text
    assert "Max Weber" not in board.text and "Eve Stone" not in board.text
    assert (await olga.get("/leads/1")).status == 200
    assert (await olga.get("/leads/2")).status == 404  # Boris's
    assert (await olga.get("/leads/3")).status == 404  # nobody's
    assert (await olga.get(f"/contacts/{(await lead(site, 2)).contact_id}")).status == 404


async def test_moving_a_lead_to_won_is_the_persons_turn(site: ConsoleSite) -> None:
    olga, olga_id, _ = await olga_has_zoes_lead(site)
    await olga.get("/pipeline")

    page = await olga.post("/leads/1/stage", {"stage": "won", "back": "/pipeline"})

    assert page.url.endswith("/pipeline")
    assert "Zoe Adams" in column(page, "won")
    assert (await lead(site, 1)).status == "won"
    [moved] = await touchpoints(site, "lead_status_changed")
    assert (moved.actor, moved.details["rep_id"], moved.details["to"]) == (
        "operator",
        olga_id,
        "won",
    )
    assert moved.conversation_id == (await lead(site, 1)).conversation_id  # Zoe's timeline


async def test_a_lost_lead_needs_a_reason_and_a_rep_cannot_move_anothers(site: ConsoleSite) -> None:
    olga, _, boris_id = await olga_has_zoes_lead(site)
    await olga.get("/leads/1")

    refused = await olga.post("/leads/1/stage", {"stage": "lost", "reason": "  "})
    assert refused.status == 400 and "A lost lead needs a reason." in refused.text
    unknown = await olga.post("/leads/1/stage", {"stage": "sold"})
    assert unknown.status == 400 and "Unknown stage." in unknown.text
    assert (await olga.post("/leads/2/stage", {"stage": "won"})).status == 404
    await olga.post("/leads/1/stage", {"stage": "lost", "reason": "bought elsewhere"})
    assert ((await lead(site, 1)).status, (await lead(site, 1)).lost_reason) == (
        "lost", "bought elsewhere",
    )  # fmt: skip
    boris = await site.signed_in(boris_id)
    assert (await boris.get("/leads/1")).status == 404


async def test_assigning_sends_the_rep_the_card(site: ConsoleSite) -> None:
    await three_leads(site.bot)
    marina, olga_id, _ = await team(site)

    page = await give(marina, 2, olga_id)
    await site.bot.deliver()

    assert page.status == 200 and page.url.endswith("/leads/2")
    assert "Lead assigned · person at the console or CLI (Marina) → Olga" in page.text
    assert (await lead(site, 2)).owner_rep_id == olga_id
    cards = site.bot.channels["telegram"].texts_to("4242")
    assert cards and "#2" in cards[-1] and "Max Weber" in cards[-1]
    [assigned] = await touchpoints(site, "lead_assigned")
    assert (assigned.actor, assigned.details["rep_id"], assigned.details["by_rep_id"]) == (
        "operator", olga_id, 1,
    )  # fmt: skip
    olga = await site.signed_in(olga_id)
    await olga.get("/leads/2")
    assert (await olga.post("/leads/2/assign", {"rep": str(olga_id)})).status == 404  # managers


async def test_a_note_and_a_next_step_are_kept(site: ConsoleSite) -> None:
    olga, olga_id, _ = await olga_has_zoes_lead(site)
    await olga.get("/leads/1")

    await olga.post("/leads/1/note", {"text": "Call back after lunch\x00\x1b[2J"})
    unreadable = await olga.post("/leads/1/next-step", {"when": "someday", "text": "Offer"})
    assert unreadable.status == 400 and "could not be read" in unreadable.text
    page = await olga.post(
        "/leads/1/next-step", {"when": "tomorrow 10:00", "text": "Send the offer"}
    )

    assert [note.text for note in await site.bot.lead_notes(1)] == ["Call back after lunch"]
    found = await lead(site, 1)
    assert found.next_step == "Send the offer" and found.next_step_due_at is not None
    assert "Call back after lunch" in page.text and "Send the offer" in page.text
    kinds = {(t.kind, t.actor, t.details["rep_id"]) for t in await touchpoints(site, "lead_noted")}
    assert kinds == {("lead_noted", "operator", olga_id)}
    too_long = await olga.post("/leads/1/note", {"text": "x" * 5000})
    assert too_long.status == 400 and "too long" in too_long.text


async def test_a_form_without_its_token_is_refused_and_bad_ids_are_not_found(
    site: ConsoleSite,
) -> None:
    await three_leads(site.bot)
    marina, olga_id, _ = await team(site)
    await marina.get("/leads/1")

    refused = await marina.post("/leads/1/assign", {"rep": str(olga_id)}, token=False)
    assert refused.status == 403
    assert (await lead(site, 1)).owner_rep_id is None
    for path in ("/leads/99", "/leads/abc", "/leads/-1", "/leads/1e3"):
        assert (await marina.get(path)).status == 404, path
    assert (await marina.post("/leads/99/stage", {"stage": "won"})).status == 404
    assert (await marina.post("/leads/1/assign", {"rep": "x"})).status == 400
    assert (await marina.post("/leads/1/assign", {"rep": "77"})).status == 400


async def test_the_board_script_and_buttons_are_there_without_inline_code(
    site: ConsoleSite,
) -> None:
    await three_leads(site.bot)
    marina, olga_id, _ = await team(site)
    await give(marina, 1, olga_id)
    board = await marina.get("/pipeline")
    assert '<script src="/static/pipeline.js' in board.text
    assert '<meta name="csrf"' in board.text
    assert 'action="/leads/1/stage"' in board.text and 'draggable="true"' in board.text
    assert "onclick" not in board.text and "style=" not in board.text
    script = await marina.get("/static/pipeline.js")
    assert script.status == 200 and "X-CSRF-Token" in script.text


async def test_a_lead_offered_to_a_rep_is_shown_to_them_but_not_theirs_to_move(
    site: ConsoleSite,
) -> None:
    olga_id = await site.add_rep("Olga", telegram="4242")
    await on_duty(site.bot, olga_id)
    await three_leads(site.bot)  # each offered to Olga, accepted by nobody
    olga = await site.signed_in(olga_id)

    board = await olga.get("/pipeline")
    assert "Zoe Adams" in column(board, "new")
    assert 'action="/leads/1/stage"' not in board.text and 'draggable="true"' not in board.text
    page = await olga.get("/leads/1")
    assert page.status == 200 and "This lead is not yours" in page.text
    refused = await olga.post("/leads/1/stage", {"stage": "won"})
    assert refused.status == 403 and (await lead(site, 1)).status == "new"


async def test_a_full_column_says_how_many_more_and_narrows_to_itself(
    site: ConsoleSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "CARD_LIMIT", 2)  # three leads stand for a full column
    await three_leads(site.bot)
    marina, _, _ = await team(site)

    board = await marina.get("/pipeline?source=")
    waiting = column(board, "waiting")
    assert waiting.count('class="lead-card"') == 2 and "1 more not shown." in waiting
    assert "Eve Stone" in waiting and "Zoe Adams" not in waiting  # the newest first
    assert 'href="/pipeline?status=waiting"' in waiting
    narrowed = await marina.get("/pipeline?status=waiting")
    assert "Narrow the filters" in narrowed.text
