"""The team page: a manager adds, changes, puts on duty and removes reps, and sends one a
sign-in link, the same changes as `touchpoint reps`; a rep is answered as if it were not there."""

from __future__ import annotations

import re
from typing import Any

from bot.records import Rep
from tests.web.console_client import ConsoleSite, Visitor
from tests.web.records import manager, touchpoints


async def rep(site: ConsoleSite, rep_id: int) -> Rep | None:
    async with site.bot.database.transaction() as uow:
        return await uow.reps.get(rep_id)


async def manager_on_the_page(site: ConsoleSite) -> tuple[int, Visitor]:
    maria, visitor = await manager(site)
    await visitor.get("/reps")
    return maria, visitor


NEW_REP: dict[str, Any] = {
    "name": "Olga",
    "lang_en": "1",
    "lang_ru": "1",
    "telegram": "4242",
    "email": "Olga@Shop.Example",
    "role": "rep",
    "capacity": "4",
}


async def test_a_rep_cannot_open_the_team_page(site: ConsoleSite) -> None:
    boris_id = await site.add_rep("Boris")
    boris = await site.signed_in(boris_id)
    assert (await boris.get("/reps")).status == 404
    await boris.get("/")
    assert (await boris.post("/reps", NEW_REP)).status == 404
    assert (await boris.post(f"/reps/{boris_id}/update", {"role": "manager"})).status == 404
    assert (await rep(site, boris_id)).role == "rep"  # type: ignore[union-attr]


async def test_adding_a_rep_from_the_page_registers_them_as_the_cli_does(site: ConsoleSite) -> None:
    _, maria = await manager_on_the_page(site)
    page = await maria.post("/reps", NEW_REP)
    assert "Added." in page.text
    assert "Olga" in page.text and "telegram: 4242" in page.text

    olga = await rep(site, 2)
    assert olga is not None
    assert (olga.name, olga.languages, olga.role, olga.capacity) == ("Olga", ("en", "ru"), "rep", 4)
    assert [(a.channel, a.value) for a in olga.identities] == [
        ("telegram", "4242"),
        ("email", "olga@shop.example"),
    ]
    [added] = await touchpoints(site, "rep_added")
    assert (added.actor, added.channel) == ("operator", "console")
    assert added.details["identities"] == ["telegram:4242", "email:olga@shop.example"]
    await site.bot.deliver()  # her first mail carries her secret reply address
    assert site.bot.channels["email"].texts_to("olga@shop.example")

    twin = await maria.post("/reps", {**NEW_REP, "name": "Twin", "email": ""})
    assert "belongs to another rep already" in twin.text


async def test_bad_values_are_refused_with_a_reason(site: ConsoleSite) -> None:
    _, maria = await manager_on_the_page(site)
    for change, reason in (
        ({"telegram": "abc"}, "is a number"),
        ({"email": "not-an-address"}, "not an email address"),
        ({"lang_en": "", "lang_ru": ""}, "choose English, Russian or both"),
        ({"role": "boss"}, "rep or manager"),
        ({"capacity": "0"}, "between 1 and 100"),
        ({"capacity": "many"}, "not a number"),
        ({"telegram": "", "email": ""}, "give a Telegram user id or an email"),
        ({"name": "x" * 101}, "too long"),
    ):
        page = await maria.post("/reps", {**NEW_REP, **change})
        assert page.status == 400, change
        assert reason in page.text, change
    assert not await touchpoints(site, "rep_added")


async def test_changing_duty_and_removing_a_rep(site: ConsoleSite) -> None:
    _, maria = await manager_on_the_page(site)
    olga_id = await site.add_rep("Olga", telegram="4242")
    await maria.get("/reps")

    await maria.post(
        f"/reps/{olga_id}/update", {"lang_ru": "1", "role": "manager", "capacity": "7"}
    )
    olga = await rep(site, olga_id)
    assert olga is not None
    assert (olga.languages, olga.role, olga.capacity) == (("ru",), "manager", 7)

    page = await maria.post(f"/reps/{olga_id}/duty", {"on": "1"})
    assert "On duty now" in page.text
    assert (await rep(site, olga_id)).on_duty  # type: ignore[union-attr]
    await site.bot.deliver()
    assert "Вы на смене" in site.bot.channels["telegram"].texts_to("4242")[-1]  # as /online says
    await maria.post(f"/reps/{olga_id}/duty", {"on": "0"})
    assert not (await rep(site, olga_id)).on_duty  # type: ignore[union-attr]

    removed = await maria.post(f"/reps/{olga_id}/remove")
    assert "Removed." in removed.text
    assert "Olga" not in removed.text
    again = await maria.post(f"/reps/{olga_id}/remove")
    assert "Nothing changed" in again.text
    kinds = [(t.kind, t.actor) for t in await touchpoints(site, "rep_updated")]
    assert kinds == [("rep_updated", "operator")] * 3
    assert [t.actor for t in await touchpoints(site, "rep_removed")] == ["operator"]


async def test_a_sign_in_link_goes_to_the_rep_and_never_to_the_page(site: ConsoleSite) -> None:
    maria_id, maria = await manager_on_the_page(site)
    olga_id = await site.add_rep("Olga", telegram="4242")
    await maria.get("/reps")
    page = await maria.post(f"/reps/{olga_id}/login-link")
    assert "on its way to them" in page.text
    assert "/login/" not in page.text
    await site.bot.deliver()

    [sent] = [m for m in site.bot.channels["telegram"].sent if m.address.value == "4242"]
    assert sent.link_previews is False
    found = re.search(r"/login/(\S+)", sent.text)
    assert found is not None
    [event] = await touchpoints(site, "login_link_sent")
    assert (event.actor, event.details) == (
        "operator",
        {"rep_id": olga_id, "channel": "telegram", "by_rep_id": maria_id},
    )
    assert found.group(1) not in str(event.details)
