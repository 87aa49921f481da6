"""A rep asks the bot for a sign-in link (/login on Telegram, "login link" by mail) and
signs in to the console with it; a customer, or a mail merely claiming a rep's address, gets
no link."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.model import Address
from storage.tables import messages, outbox
from tests.harness import Customer
from tests.web.console_client import ConsoleSite

LINK = re.compile(r"https?://\S+/login/(\S+)")


@pytest.fixture
def links_to_site(site: ConsoleSite) -> ConsoleSite:
    """The bot builds links to this test console (WEB_URL)."""
    services = site.bot.services
    site.bot.services = replace(
        services, config=replace(services.config, console_url=site.base_url)
    )
    site.bot.restart()
    return site


async def add_rep_by_mail(site: ConsoleSite, name: str, address: str) -> int:
    async with site.bot.database.transaction() as uow:
        rep_id = await uow.reps.add(
            name=name, languages=("en",), identities=[Address("email", address)], role="rep",
            capacity=5, now=site.bot.clock(),
        )  # fmt: skip
        await uow.commit()
    return rep_id


async def link_kinds(site: ConsoleSite) -> list[str]:
    async with site.bot.database.transaction() as uow:
        return [str(t.details) for t in await uow.touchpoints.search(kind="login_link_sent")]


def links_in(customer: Customer) -> list[str]:
    return [found.group(0) for text in customer.channel.texts_to(customer.address.value)
            for found in [LINK.search(text)] if found]  # fmt: skip


async def test_a_rep_on_telegram_gets_a_link_without_preview_and_signs_in(
    links_to_site: ConsoleSite, caplog: pytest.LogCaptureFixture
) -> None:
    site = links_to_site
    caplog.set_level(logging.DEBUG)
    olga_id = await site.add_rep("Olga", telegram="4242")
    olga = site.bot.customer("4242", channel="telegram", name="Olga")

    await olga.say("/login")

    [sent] = [m for m in olga.channel.sent if m.address.value == "4242"]
    assert sent.link_previews is False
    [link] = links_in(olga)
    secret = LINK.search(link).group(1)  # type: ignore[union-attr]
    assert "works once, for 10 minutes" in sent.text
    visitor = await site.visitor()
    shown = await visitor.get(link.removeprefix(site.base_url))
    assert "Sign in as Olga" in shown.text
    signed_in = await visitor.sign_in_with(link)
    assert "Signed in as Olga" in signed_in.text

    assert await link_kinds(site) == [str({"rep_id": olga_id, "channel": "telegram"})]
    async with site.bot.database.transaction() as uow:
        stored = await uow.touchpoints.search(limit=1000)
    assert all(secret not in str(t.details) for t in stored)
    assert secret not in caplog.text
    assert secret not in await kept_texts(site)  # once sent, the database keeps no usable link


async def kept_texts(site: ConsoleSite) -> str:
    """Every text the database keeps of messages and replies."""
    async with site.bot.database.transaction() as uow:
        rows = await uow.connection.execute(
            select(outbox.c.text).union_all(select(messages.c.text))
        )
        return "\n".join(str(text) for (text,) in rows)


async def test_a_customer_asking_for_a_link_gets_the_bots_usual_answer(
    links_to_site: ConsoleSite,
) -> None:
    ann = links_to_site.bot.customer("1001", channel="telegram", name="Ann")
    answer = await ann.say("/login")
    assert answer  # the bot answers as to any unknown words
    assert not links_in(ann)
    assert await link_kinds(links_to_site) == []


async def test_a_rep_by_mail_gets_a_link_only_under_their_reply_token(
    links_to_site: ConsoleSite,
) -> None:
    site = links_to_site
    ivan_id = await add_rep_by_mail(site, "Ivan", "ivan@shop.example")
    ivan = site.bot.customer("ivan@shop.example", channel="email", name="Ivan")

    await ivan.say("login link", subject="login")  # From alone: anybody can write that
    assert not links_in(ivan)
    assert await link_kinds(site) == []

    async with site.bot.database.transaction() as uow:
        token = await uow.reps.reply_token_of(ivan_id)
    await ivan.say("login link", subject="login", reply_token=token)
    [link] = links_in(ivan)
    signed_in = await (await site.visitor()).sign_in_with(link)
    assert "Signed in as Ivan" in signed_in.text
    assert await link_kinds(site) == [str({"rep_id": ivan_id, "channel": "email"})]
