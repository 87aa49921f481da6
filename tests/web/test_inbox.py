"""The inbox and a hand-off's page: a customer asks for a person, a person answers from the
console, and the answer reaches the customer on their channel, recorded as the operator's."""

from __future__ import annotations

from bot.records import Handoff
from tests.harness import Customer
from tests.web.console_client import ConsoleSite
from tests.web.records import manager, touchpoints

OLGA_TELEGRAM = "4242"


async def asks_for_a_person(
    site: ConsoleSite, address: str = "1001", name: str = "Ann Lee"
) -> Customer:
    ann = site.bot.customer(address, channel="telegram", name=name)
    await ann.say("I'd like a quote for 40 standing desks")
    await ann.say("I want to talk to a human")
    return ann


async def handoff(site: ConsoleSite, handoff_id: int = 1) -> Handoff:
    async with site.bot.database.transaction() as uow:
        found = await uow.handoffs.get(handoff_id)
    assert found is not None
    return found


async def test_a_request_for_a_person_shows_in_the_managers_inbox(site: ConsoleSite) -> None:
    _, maria = await manager(site)
    empty = await maria.get("/inbox")
    assert "Nobody is waiting for a person." in empty.text
    assert 'src="/static/inbox.js' in empty.text

    await asks_for_a_person(site)
    for path in ("/inbox", "/inbox/updates"):  # the page, and what its script fetches
        page = await maria.get(path)
        assert page.status == 200
        assert "#1 · Ann Lee" in page.text
        assert "telegram" in page.text
        assert "I want to talk to a human" in page.text
        assert "the customer asked for a person" in page.text
    assert "<html" not in (await maria.get("/inbox/updates")).text


async def test_the_managers_answer_reaches_the_customer_as_the_operators(site: ConsoleSite) -> None:
    maria_id, maria = await manager(site)
    ann = await asks_for_a_person(site)
    page = await maria.get("/handoffs/1")
    assert "Take this conversation" in page.text

    sent = await maria.post("/handoffs/1/reply", {"text": "Hello Ann, Maria here."})
    assert sent.url.endswith("/handoffs/1?done=sent")
    await site.bot.deliver()

    assert ann.channel.texts_to("1001")[-1] == "Hello Ann, Maria here."
    assert (await handoff(site)).status == "claimed"
    [replied] = await touchpoints(site, "rep_replied")
    assert replied.actor == "operator"
    assert replied.details["rep_id"] == maria_id
    assert replied.channel == "telegram"  # on the customer's timeline, as the CLI's answer


async def test_closing_and_giving_back_to_the_bot_end_the_hand_off(site: ConsoleSite) -> None:
    maria_id, maria = await manager(site)
    ann = await asks_for_a_person(site)
    await maria.get("/handoffs/1")
    await maria.post("/handoffs/1/claim")
    assert (await handoff(site)).status == "claimed"

    page = await maria.post("/handoffs/1/close", {"to": "bot", "summary": "quote sent"})
    assert "Given back to the bot" in page.text
    ended = await handoff(site)
    assert (ended.status, ended.summary) == ("returned", "quote sent")
    [returned] = await touchpoints(site, "returned_to_bot")
    assert (returned.actor, returned.details["by_rep_id"]) == ("operator", maria_id)
    assert await site.bot.state_of(ann) != ("handoff", None)

    await ann.say("I want to talk to a human")  # a second one, closed this time
    await maria.get("/handoffs/2")
    closed = await maria.post("/handoffs/2/close", {"to": "closed"})
    assert "Closed: the customer is told." in closed.text
    assert (await handoff(site, 2)).status == "closed"
    again = await maria.post("/handoffs/2/close", {"to": "closed"})
    assert "Nothing changed" in again.text


async def test_a_rep_sees_only_the_hand_offs_offered_to_them(site: ConsoleSite) -> None:
    olga_id = await site.add_rep("Olga", telegram=OLGA_TELEGRAM)
    boris_id = await site.add_rep("Boris", telegram="4343")
    await site.bot.customer(OLGA_TELEGRAM, channel="telegram").say("/online")
    await asks_for_a_person(site)
    assert (await handoff(site)).rep_id == olga_id

    boris = await site.signed_in(boris_id)
    assert "Ann Lee" not in (await boris.get("/inbox")).text
    assert (await boris.get("/handoffs/1")).status == 404
    await boris.get("/inbox")
    refused = await boris.post("/handoffs/1/claim")
    assert refused.status == 404
    assert (await handoff(site)).status == "offered"

    olga = await site.signed_in(olga_id)
    assert "#1 · Ann Lee" in (await olga.get("/inbox")).text
    await olga.get("/handoffs/1")
    taken = await olga.post("/handoffs/1/claim")
    assert "The conversation is yours" in taken.text
    claimed = await handoff(site)
    assert (claimed.status, claimed.rep_id) == ("claimed", olga_id)
    [event] = await touchpoints(site, "rep_claimed")
    assert (event.actor, event.details["rep_id"]) == ("operator", olga_id)


async def test_a_rep_cannot_claim_what_is_not_offered_to_them(site: ConsoleSite) -> None:
    """A waiting hand-off in nobody's name: only a manager takes it (as from the chat)."""
    boris_id = await site.add_rep("Boris", telegram="4343")
    await asks_for_a_person(site)
    boris = await site.signed_in(boris_id)
    assert (await boris.get("/handoffs/1")).status == 404
    assert (await handoff(site)).status == "queued"


async def test_bad_answers_are_refused_with_a_reason(site: ConsoleSite) -> None:
    _, maria = await manager(site)
    await asks_for_a_person(site)
    await maria.get("/handoffs/1")
    for text, reason in (
        ("   ", "is empty"),
        ("x" * 100_000, "too long"),
        ("\x00\x07", "is empty"),  # control characters are no text
    ):
        page = await maria.post("/handoffs/1/reply", {"text": text})
        assert page.status == 400
        assert reason in page.text
    assert (await handoff(site)).status == "queued"
    assert not await touchpoints(site, "rep_replied")
    assert (await maria.get("/handoffs/abc")).status == 404
    assert (await maria.get("/handoffs/999")).status == 404


async def test_what_customers_wrote_is_shown_as_text(site: ConsoleSite) -> None:
    _, maria = await manager(site)
    ann = site.bot.customer("1001", channel="telegram", name="<script>alert('name')</script>")
    await ann.say('<img src=x onerror=alert(1)> see <a href="javascript:alert(2)">this</a>')
    await ann.say("/human")
    for path in ("/inbox", "/inbox/updates", "/handoffs/1"):
        page = await maria.get(path)
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
        assert '<a href="javascript:' not in page.text
        assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text  # the page shows more messages


async def test_a_hostile_mail_is_shown_as_text(site: ConsoleSite) -> None:
    _, maria = await manager(site)
    mail = site.bot.customer(
        "eve@evil.example", channel="email", name='Eve <img src=x onerror="alert(3)">'
    )
    subject = "<script>alert('subject')</script> [javascript:alert(4)](javascript:alert(4))"
    await mail.say(
        "I want to talk to a human <a href='javascript:alert(5)'>now</a>", subject=subject
    )
    await mail.say("Where is my order <script>alert(6)</script>? It never arrived", subject=subject)
    for path in ("/inbox", "/handoffs/1", "/tickets"):
        page = await maria.get(path)
        assert page.status == 200
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
        assert "href='javascript:" not in page.text and 'href="javascript:' not in page.text
    assert (
        "&lt;a href=&#39;javascript:alert(5)&#39;&gt;now&lt;/a&gt;"
        in (await maria.get("/handoffs/1")).text
    )
