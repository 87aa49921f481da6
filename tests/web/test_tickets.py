"""The tickets pages: the list with its filters, a ticket's status changed from the console
(the customer is told), a team note; a rep sees only tickets of the contacts they may see."""

from __future__ import annotations

from bot.records import Ticket
from tests.harness import Customer
from tests.web.console_client import ConsoleSite
from tests.web.records import manager, touchpoints

COMPLAINT = "Where is my order? It was supposed to arrive last week"


async def opens_a_ticket(site: ConsoleSite, text: str = COMPLAINT) -> Customer:
    alice = site.bot.customer("2001", channel="telegram", name="Alice")
    await alice.say(text)
    return alice


async def the_ticket(site: ConsoleSite) -> Ticket:
    [ticket] = await site.bot.tickets()
    return ticket


async def test_the_list_shows_tickets_and_filters_them(site: ConsoleSite) -> None:
    _, maria = await manager(site)
    assert "No tickets match." in (await maria.get("/tickets")).text
    await opens_a_ticket(site)

    page = await maria.get("/tickets")
    assert 'href="/tickets/1001"' in page.text
    assert COMPLAINT in page.text
    assert "Alice" in page.text
    assert "chip warning" not in page.text
    assert "No tickets match." in (await maria.get("/tickets?status=resolved")).text
    assert "#1001" in (await maria.get("/tickets?status=open")).text
    assert "No tickets match." in (await maria.get("/tickets?overdue=1")).text
    assert "#1001" in (await maria.get("/tickets?since=2026-03-02&until=2026-03-02")).text
    assert "No tickets match." in (await maria.get("/tickets?since=2026-03-03")).text


async def test_a_ticket_open_past_the_follow_up_time_is_overdue(site: ConsoleSite) -> None:
    await opens_a_ticket(site)
    site.bot.clock.advance(hours=25)  # past the follow-up time: overdue, as the report counts
    _, maria = await manager(site)
    overdue = await maria.get("/tickets?overdue=1")
    assert "#1001" in overdue.text
    assert "chip warning" in overdue.text


async def test_bad_filters_are_refused_with_a_reason(site: ConsoleSite) -> None:
    _, maria = await manager(site)
    for query, reason in (("status=lost", "not on the list"), ("since=yesterday", "2026-12-31")):
        page = await maria.get(f"/tickets?{query}")
        assert page.status == 400
        assert reason in page.text
    assert (await maria.get("/tickets/abc")).status == 404
    assert (await maria.get("/tickets/1001")).status == 404


async def test_a_status_change_tells_the_customer(site: ConsoleSite) -> None:
    maria_id, maria = await manager(site)
    alice = await opens_a_ticket(site)
    await maria.get("/tickets/1001")

    page = await maria.post("/tickets/1001/status", {"status": "resolved"})
    assert "Status changed." in page.text
    await site.bot.deliver()

    assert (await the_ticket(site)).status == "resolved"
    assert any("1001" in text and "resolved" in text for text in alice.channel.texts_to("2001"))
    [changed] = await touchpoints(site, "ticket_status_changed")
    assert changed.actor == "operator"
    assert changed.details == {"ticket": 1001, "from": "open", "to": "resolved", "rep_id": maria_id}
    assert "status changed" in (await maria.get("/tickets/1001")).text

    again = await maria.post("/tickets/1001/status", {"status": "resolved"})
    assert "already had that status" in again.text
    assert (await maria.post("/tickets/1001/status", {"status": "won"})).status == 400


async def test_a_team_note_is_kept_and_not_sent(site: ConsoleSite) -> None:
    maria_id, maria = await manager(site)
    alice = await opens_a_ticket(site)
    sent_before = len(alice.channel.texts_to("2001"))
    await maria.get("/tickets/1001")

    page = await maria.post("/tickets/1001/note", {"text": "Courier called: Monday."})
    assert "Courier called: Monday." in page.text
    assert "Maria" in page.text
    await site.bot.deliver()
    assert len(alice.channel.texts_to("2001")) == sent_before
    [noted] = await touchpoints(site, "ticket_noted")
    assert (noted.actor, noted.details["rep_id"]) == ("operator", maria_id)
    assert (await maria.post("/tickets/1001/note", {"text": ""})).status == 400


async def test_a_rep_sees_no_ticket_of_a_contact_they_never_touched(site: ConsoleSite) -> None:
    boris = await site.signed_in(await site.add_rep("Boris"))
    await opens_a_ticket(site)
    assert "No tickets match." in (await boris.get("/tickets")).text
    assert (await boris.get("/tickets/1001")).status == 404
    await boris.get("/tickets")
    assert (await boris.post("/tickets/1001/status", {"status": "closed"})).status == 404
    assert (await the_ticket(site)).status == "open"


async def test_what_a_customer_wrote_in_a_ticket_is_shown_as_text(site: ConsoleSite) -> None:
    _, maria = await manager(site)
    hostile = "My order <script>alert(1)</script> <img src=x onerror=alert(2)> never arrived"
    await opens_a_ticket(site, hostile)
    for path in ("/tickets", "/tickets/1001"):
        page = await maria.get(path)
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
