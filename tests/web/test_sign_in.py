"""Signing in to the console with a one-time link, and the gate in front of every page."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.web.console_client import ConsoleSite, Visitor, free_port
from web.app import make_app


async def test_a_visitor_without_a_session_is_sent_to_sign_in(site: ConsoleSite) -> None:
    stranger = await site.visitor()
    page = await stranger.get("/", follow=False)
    assert page.status == 303
    assert page.headers["Location"] == "/login"
    assert "/login" in (await stranger.get("/")).url


async def test_opening_a_link_shows_a_button_and_only_its_post_signs_in(site: ConsoleSite) -> None:
    anna = await site.add_rep("Anna")
    link = await site.login_link(anna)
    visitor = await site.visitor()

    for _ in range(2):  # a preview or a scanner fetching the link does not use it up
        page = await visitor.get(link.removeprefix(site.base_url))
        assert page.status == 200
        assert "Sign in as Anna" in page.text
    assert (await visitor.get("/", follow=False)).status == 303  # not signed in by a GET

    signed_in = await visitor.sign_in_with(link)
    assert signed_in.status == 200
    assert signed_in.url == f"{site.base_url}/"
    assert "Signed in as Anna" in signed_in.text


async def test_the_session_cookie_is_http_only_and_same_site(site: ConsoleSite) -> None:
    anna = await site.add_rep("Anna")
    visitor = await site.visitor()
    async with visitor.session.post(await site.login_link(anna), allow_redirects=False) as reply:
        cookie = reply.cookies["touchpoint_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 12 * 3600
    assert not cookie["secure"]  # served over http here; `Secure` comes with an https address


async def test_a_used_link_is_refused(site: ConsoleSite) -> None:
    anna = await site.add_rep("Anna")
    link = await site.login_link(anna)
    await (await site.visitor()).sign_in_with(link)

    again = await site.visitor()
    page = await again.sign_in_with(link)
    assert page.status == 410
    assert "cannot be used" in page.text
    assert (await again.get("/", follow=False)).status == 303


async def test_an_expired_link_is_refused(site: ConsoleSite) -> None:
    anna = await site.add_rep("Anna")
    link = await site.login_link(anna)
    site.bot.clock.advance(minutes=11)
    visitor = await site.visitor()
    assert (await visitor.get(link.removeprefix(site.base_url))).status == 410
    assert (await visitor.sign_in_with(link)).status == 410


async def test_a_made_up_link_is_refused(site: ConsoleSite) -> None:
    visitor = await site.visitor()
    assert (await visitor.sign_in_with(f"{site.base_url}/login/not-a-secret")).status == 410


async def test_signing_out_ends_the_session(site: ConsoleSite) -> None:
    anna = await site.signed_in(await site.add_rep("Anna"))
    await anna.get("/")
    page = await anna.post("/logout")
    assert page.url.endswith("/login")
    assert (await anna.get("/", follow=False)).status == 303


async def test_a_session_ends_when_its_person_is_signed_out_or_removed(site: ConsoleSite) -> None:
    anna_id, boris_id = await site.add_rep("Anna"), await site.add_rep("Boris")
    anna, boris = await site.signed_in(anna_id), await site.signed_in(boris_id)
    async with site.bot.database.transaction() as uow:
        assert await uow.console_access.end_sessions_of(anna_id, site.bot.clock()) == 1
        await uow.reps.remove(boris_id)
        await uow.commit()
    assert (await anna.get("/", follow=False)).status == 303
    assert (await boris.get("/", follow=False)).status == 303


async def test_a_session_ends_at_its_expiry(site: ConsoleSite) -> None:
    anna = await site.signed_in(await site.add_rep("Anna"))
    site.bot.clock.advance(hours=12, seconds=1)
    assert (await anna.get("/", follow=False)).status == 303


async def test_a_form_without_its_token_is_refused(site: ConsoleSite) -> None:
    anna = await site.signed_in(await site.add_rep("Anna"))
    await anna.get("/")
    refused = await anna.post("/language", {"lang": "ru"}, token=False)
    assert refused.status == 403
    forged = await anna.post("/language", {"lang": "ru", "csrf": "guessed"}, token=False)
    assert forged.status == 403
    assert "Signed in as Anna" in (await anna.get("/")).text  # nothing changed


async def test_the_interface_speaks_the_persons_language(site: ConsoleSite) -> None:
    anna = await site.signed_in(await site.add_rep("Anna"))
    await anna.get("/")
    page = await anna.post("/language", {"lang": "ru", "back": "/"})
    assert "Вы вошли как Anna" in page.text
    assert '<html lang="ru">' in page.text


async def test_the_language_switch_goes_back_only_within_the_console(site: ConsoleSite) -> None:
    anna = await site.signed_in(await site.add_rep("Anna"))
    await anna.get("/")
    async with anna.session.post(
        f"{site.base_url}/language",
        data={"lang": "en", "back": "//evil.example/", "csrf": anna.form_token},
        allow_redirects=False,
    ) as reply:
        assert reply.headers["Location"] == "/"


async def test_sign_in_attempts_are_limited(site: ConsoleSite) -> None:
    visitor = await site.visitor()
    statuses = [(await visitor.get(f"/login/guess{n}")).status for n in range(25)]
    assert statuses[:20] == [410] * 20
    assert set(statuses[20:]) == {429}


async def test_every_page_forbids_inline_script(site: ConsoleSite) -> None:
    page = await (await site.visitor()).get("/login")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["Referrer-Policy"] == "no-referrer"


async def test_a_failure_of_ours_is_a_console_page_and_a_log_line(
    site: ConsoleSite, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("a bug with a detail nobody should see")

    app = make_app(site.console)
    app.router.add_get("/broken", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        anna = await site.add_rep("Anna")
        visitor = Visitor(f"http://127.0.0.1:{port}", await site.client())
        await visitor.sign_in_with(
            f"http://127.0.0.1:{port}/login/" + (await site.login_link(anna)).rpartition("/")[2]
        )
        page = await visitor.get("/broken")
    finally:
        await runner.cleanup()
    assert page.status == 500
    assert "Something went wrong on our side" in page.text
    assert "nobody should see" not in page.text
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert "a bug with a detail nobody should see" in caplog.text
