"""Contacts in the console: one timeline across channels with what was said, identities proven
and typed, what is open; a contact point logged by hand; merging two contacts and undoing it;
who may see which contact; customer text that must stay text."""

from __future__ import annotations

import re

from bot.kinds import Actor, TouchpointKind
from bot.records import TouchpointRow
from tests.web.console_client import ConsoleSite, Page, Visitor
from tests.web.scenes import on_duty, quote
from web.i18n import catalog

BROKEN = "My coffee machine arrived broken, the water tank is cracked"
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
LINK = '<a href="javascript:alert(1)">x</a>'


async def kind_rows(site: ConsoleSite, kind: str) -> list[TouchpointRow]:
    async with site.bot.database.transaction() as uow:
        return await uow.touchpoints.search(kind=kind)


async def contact_of(site: ConsoleSite, channel: str, address: str) -> int | None:
    async with site.bot.database.transaction() as uow:
        return await uow.contacts.owner_of(channel, address)


async def manager(site: ConsoleSite) -> Visitor:
    return await site.signed_in(await site.add_rep("Marina", role="manager"))


def timeline(page: Page) -> str:
    found = re.search(r'<ol class="timeline">.*?</ol>', page.text, re.S)
    assert found
    return found.group(0)


async def test_one_timeline_across_channels_with_what_was_said(site: ConsoleSite) -> None:
    await on_duty(site.bot, await site.add_rep("Olga", telegram="4242"))
    ann = site.bot.customer("1001", channel="telegram", name="Ann Lee")
    await ann.say(BROKEN)
    await ann.say("/human")
    await quote(site.bot.customer("zoe", name="Zoe"), name="Zoe Adams",
                email="zoe@beanery.example", company="Beanery")  # fmt: skip
    marina = await manager(site)

    page = await marina.get("/contacts/1")

    assert page.status == 200
    told = timeline(page)
    assert BROKEN in told  # the customer's words, in
    assert "Message in" in told and "Message out" in told and "Ticket opened" in told
    assert "Person requested" in told and "Rep notified" in told and "telegram" in told
    assert told.index("Person requested") < told.index("Ticket opened")  # newest first
    assert "Ticket #1001" in page.text and "Hand-off #1" in page.text  # open now
    assert "offered to a rep" in page.text
    assert "telegram: 1001" in page.text
    zoe = await marina.get("/contacts/2")
    assert "Lead captured" in zoe.text and "Lead #1" in zoe.text
    claimed = zoe.text.split("Only typed by them")[1]
    assert "email: zoe@beanery.example" in claimed  # typed, not proven
    found = await marina.get("/contacts?q=BEANERY.example")
    assert "Zoe" in found.text and "Ann Lee" not in found.text
    assert "Ann Lee" in (await marina.get("/contacts?q=ann")).text
    assert "No contacts found." in (await marina.get("/contacts?q=%25_nobody")).text
    assert "Zoe" in (await marina.get("/contacts?q=zo%00e")).text  # a NUL is no part of a word


async def test_a_late_message_stands_in_its_place_marked_as_not_answered(
    site: ConsoleSite,
) -> None:
    ann = site.bot.customer("1001", channel="telegram", name="Ann Lee")
    for sequence, text in ((5, "first words"), (7, "third words"), (6, "second words")):
        await ann.send(ann.message(text, external_id=f"1001:{sequence}", sequence=sequence))
        site.bot.clock.advance(seconds=1)

    told = timeline(await (await manager(site)).get("/contacts/1"))

    assert told.index("third words") < told.index("second words") < told.index("first words")
    [late] = [item for item in told.split("<li")[1:] if "not answered" in item]
    assert "second words" in late and "arrived after a newer message" in late


async def test_the_timeline_is_paged(site: ConsoleSite) -> None:
    ann = site.bot.customer("ann", name="Ann")
    for n in range(60):  # each message and its answer: 120 touchpoints and more
        await ann.say(f"hello number {n}")
    marina = await manager(site)
    first = await marina.get("/contacts/1")
    assert timeline(first).count("<li") == 100
    assert "hello number 59" in first.text and "hello number 0<" not in first.text
    assert 'href="/contacts/1?page=1"' in first.text
    older = await marina.get("/contacts/1?page=1")
    assert "hello number 0" in older.text and 'href="/contacts/1?page=0"' in older.text
    assert (await marina.get("/contacts/1?page=x")).status == 400


async def test_a_rep_sees_only_the_contacts_they_work(site: ConsoleSite) -> None:
    await quote(site.bot.customer("zoe", name="Zoe"), name="Zoe Adams",
                email="zoe@beanery.example", company="Beanery")  # fmt: skip
    await quote(site.bot.customer("eve", name="Eve"), name="Eve Stone",
                email="eve@cafe.example", company="Cafe")  # fmt: skip
    marina = await manager(site)
    olga_id = await site.add_rep("Olga", telegram="4242")
    boris_id = await site.add_rep("Boris", telegram="4343")
    for lead_id, rep_id in ((1, olga_id), (2, boris_id)):
        await marina.get(f"/leads/{lead_id}")
        await marina.post(f"/leads/{lead_id}/assign", {"rep": str(rep_id)})
    olga = await site.signed_in(olga_id)

    listed = await olga.get("/contacts")
    assert "Zoe" in listed.text and "Eve" not in listed.text
    assert (await olga.get("/contacts/1")).status == 200
    assert (await olga.get("/contacts/2")).status == 404  # Boris's customer
    assert "Eve" not in (await olga.get("/contacts?q=eve")).text
    assert (await olga.get("/contacts/conflicts")).status == 404  # managers only


async def test_a_call_logged_by_hand_is_on_the_timeline(site: ConsoleSite) -> None:
    await site.bot.customer("ann", name="Ann").say(BROKEN)
    marina_id = await site.add_rep("Marina", role="manager")
    marina = await site.signed_in(marina_id)
    await marina.get("/contacts/1")

    page = await marina.post(
        "/contacts/1/log", {"medium": "call", "outcome": "Agreed to replace the tank", "when": ""}
    )

    assert page.url.endswith("/contacts/1")
    told = timeline(page)
    assert "Logged outside the channels" in told and "Phone call" in told
    assert "Agreed to replace the tank" in told and "(Marina)" in told
    [logged] = await kind_rows(site, "offline_logged")
    assert (logged.actor, logged.channel, logged.contact_id) == ("operator", "console", 1)
    assert (logged.details["medium"], logged.details["rep_id"]) == ("call", marina_id)
    empty = await marina.post("/contacts/1/log", {"medium": "call", "outcome": "  "})
    assert empty.status == 400 and "Say what came of it." in empty.text
    odd = await marina.post("/contacts/1/log", {"medium": "fax", "outcome": "sent"})
    assert odd.status == 400 and "Choose a phone call" in odd.text
    later = await marina.post(
        "/contacts/1/log", {"medium": "meeting", "outcome": "x", "when": "2030-01-01T10:00"}
    )
    assert later.status == 400 and "in the future" in later.text
    bad = await marina.post("/contacts/1/log", {"medium": "note", "outcome": "x", "when": "soon"})
    assert bad.status == 400
    assert len(await kind_rows(site, "offline_logged")) == 1
    await marina.post(
        "/contacts/1/log",
        {"medium": "meeting", "outcome": "Met at the fair", "when": "2026-03-01T15:30"},
    )
    assert "Meeting (2026-03-01 15:30)" in (await marina.get("/contacts/1")).text


async def test_a_conflict_is_merged_and_the_merge_undone(site: ConsoleSite) -> None:
    await site.bot.customer("owner@shop.example", channel="email").say("Hello there")
    await quote(site.bot.customer("mallory", name="Mallory"), name="Mallory",
                email="owner@shop.example", company="Shop")  # fmt: skip
    marina = await manager(site)

    listed = await marina.get("/contacts/conflicts")
    assert "email: owner@shop.example" in listed.text
    assert 'href="/contacts/1/merge?source=2"' in listed.text
    question = await marina.get("/contacts/1/merge?source=2")
    assert question.status == 200 and "Merge them" in question.text
    assert (await kind_rows(site, "contacts_merged")) == []  # asked, not done
    merged = await marina.post("/contacts/1/merge", {"source": "2"})

    assert merged.url.endswith("/contacts/1")
    assert "Lead #1" in merged.text  # Mallory's lead is on this contact now
    assert "Mallory" in timeline(merged)  # her words too
    [event] = await kind_rows(site, "contacts_merged")
    assert (event.actor, event.details["rep_id"], event.contact_id) == ("operator", 1, 1)
    assert await contact_of(site, "console", "mallory") == 1
    assert "No conflicts." in (await marina.get("/contacts/conflicts")).text  # settled

    undone = await marina.post("/merges/1/undo", {})
    assert undone.url.endswith("/contacts/1")
    assert await contact_of(site, "console", "mallory") == 2
    back = await kind_rows(site, "contacts_unmerged")
    assert {(t.contact_id, t.actor, t.details["rep_id"]) for t in back} == {
        (1, "operator", 1), (2, "operator", 1),
    }  # fmt: skip
    assert "Lead #1" not in (await marina.get("/contacts/1")).text
    again = await marina.post("/merges/1/undo", {})
    assert again.status == 409 and "undone already" in again.text
    same = await marina.post("/contacts/1/merge", {"source": "1"})
    assert same.status == 400 and "cannot be merged into itself" in same.text


async def test_only_a_manager_merges_and_forms_need_their_token(site: ConsoleSite) -> None:
    await site.bot.customer("owner@shop.example", channel="email").say("Hello there")
    await quote(site.bot.customer("mallory", name="Mallory"), name="Mallory",
                email="owner@shop.example", company="Shop")  # fmt: skip
    marina = await manager(site)
    await marina.get("/contacts/1")

    assert (await marina.post("/contacts/1/merge", {"source": "2"}, token=False)).status == 403
    assert (await marina.post("/contacts/1/log", {"medium": "call", "outcome": "x"},
                              token=False)).status == 403  # fmt: skip
    assert await kind_rows(site, "contacts_merged") == []
    for path in ("/contacts/99", "/contacts/abc", "/contacts/1.5"):
        assert (await marina.get(path)).status == 404, path
    for path in ("/merges/7/undo", "/merges/x/undo"):
        assert (await marina.post(path, {})).status == 404, path
    assert (await marina.post("/contacts/99/log", {"medium": "call", "outcome": "x"})).status == 404
    assert (await marina.get("/contacts/1/merge?source=abc")).status == 400
    assert (await marina.get("/contacts/1/merge?source=99")).status == 400


async def test_what_a_customer_wrote_stays_text(site: ConsoleSite) -> None:
    hacker = site.bot.customer("hacker", name=SCRIPT)
    await hacker.say(IMAGE)
    await hacker.say(LINK)
    await quote(site.bot.customer("joe", name="Joe"), name="Joe Black", email="j@example.org",
                company=IMAGE, need=f"Please send me a quote for 5 chairs {LINK}")  # fmt: skip
    marina = await manager(site)
    [lead] = await site.bot.leads()
    assert lead.company == IMAGE and LINK in lead.need

    for path in ("/contacts", "/contacts/1", "/contacts/2", "/pipeline", "/leads/1"):
        page = await marina.get(path)
        assert page.status == 200, path
        assert SCRIPT not in page.text and "<img" not in page.text, path
        assert 'href="javascript' not in page.text and '<a href="javascript' not in page.text
    contact = await marina.get("/contacts/1")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in contact.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in contact.text
    assert "&lt;a href=&#34;javascript:alert(1)&#34;&gt;x&lt;/a&gt;" in contact.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in (await marina.get("/pipeline")).text


UNTRANSLATED = re.compile(r"\b(?:pipeline|lead|contacts|kind|actor|form|common)\.[a-z_.]+\b")


async def test_the_pages_have_their_words_in_english_and_russian(site: ConsoleSite) -> None:
    await on_duty(site.bot, await site.add_rep("Olga", telegram="4242"))
    ann = site.bot.customer("1001", channel="telegram", name="Ann Lee")
    await ann.say(BROKEN)
    await ann.say("/human")
    await quote(site.bot.customer("zoe", name="Zoe"), name="Zoe Adams",
                email="zoe@beanery.example", company="Beanery")  # fmt: skip
    marina = await manager(site)
    await marina.get("/contacts/2")
    await marina.post("/contacts/2/log", {"medium": "note", "outcome": "Prefers mail"})
    pages = ("/pipeline", "/leads/1", "/contacts", "/contacts/1", "/contacts/2",
             "/contacts/conflicts", "/contacts/1/merge?source=2")  # fmt: skip

    for lang, word in (("en", "Timeline"), ("ru", "История")):
        await marina.post("/language", {"lang": lang, "back": "/"})
        for path in pages:
            page = await marina.get(path)
            assert page.status == 200, path
            missing = [key for key in UNTRANSLATED.findall(page.text) if key != "pipeline.js"]
            assert missing == [], (lang, path)
        assert word in (await marina.get("/contacts/1")).text


def test_every_touchpoint_kind_and_actor_has_its_words() -> None:
    words = catalog()
    keys = [f"kind.{kind.value}" for kind in TouchpointKind]
    keys += [f"actor.{actor.value}" for actor in Actor]
    assert [key for key in keys if key not in words] == []
    assert [key for key in keys if words[key]["ru"] == words[key]["en"]] == []
