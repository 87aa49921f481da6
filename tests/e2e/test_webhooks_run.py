"""`touchpoint run` posts webhook events: a lead saved over Telegram reaches the CRM's endpoint
(a receiver on 127.0.0.1), signed with the secret `webhooks add` printed, and a rep's Accept
follows as `lead.updated` with the rep's name."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot_process import BotProcess
from tests.e2e.test_handoff_restart import add_rep, environment, touchpoint
from tests.e2e.test_lead_restart import OPENER, starting
from tests.fakes.telegram import FakeTelegram
from tests.harness import FakeClock
from tests.integration.test_webhooks import Receiver, readme_verify

pytestmark = pytest.mark.slow

ANN, OLGA = 1001, 4242


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver(FakeClock())
    yield server
    await server.stop()


async def test_run_posts_a_saved_lead_and_its_acceptance_to_the_crm(
    fake: FakeTelegram, receiver: Receiver, database_url: str, tmp_path: Path
) -> None:
    env = environment(fake, database_url) | {"HOT_LEAD_SCORE": "101"}
    url = await receiver.start()
    added = await touchpoint(
        env, "webhooks", "add", f"{url}/crm", "--events", "lead.created,lead.updated"
    )
    found = re.search(r"^secret: (whsec_\w+)$", added, re.MULTILINE)
    assert found, added
    secret = found[1]
    await add_rep(env, "Olga", OLGA)

    async with BotProcess(env, tmp_path / "bot.log") as bot:
        fake.user_message(OLGA, "/online", first_name="Olga")
        await bot.eventually(lambda: fake.texts_to(OLGA), what="Olga told she is online")
        fake.user_message(ANN, OPENER, first_name="Ann")
        await bot.eventually(lambda: fake.texts_to(ANN), what="the summary")
        [summary] = [m for m in fake.sent if m.chat_id == ANN]
        fake.user_callback(ANN, "lead:confirm", message_id=summary.message_id)
        await bot.eventually(lambda: receiver.to("/crm"), what="lead.created at the CRM")
        await bot.eventually(lambda: starting(fake, OLGA, "New lead #1"), what="Olga's card")
        fake.user_message(OLGA, "/accept 1", first_name="Olga")
        await bot.eventually(lambda: len(receiver.to("/crm")) >= 2, what="lead.updated")
        assert await bot.stop() == 0
    assert "whsec_" not in bot.log()

    created, updated = receiver.to("/crm")
    verify = readme_verify()
    for request in (created, updated):
        header = request.headers["X-Touchpoint-Signature"]
        assert verify(secret, header, request.body)  # signed now, with the printed secret
        assert not verify("whsec_wrong", header, request.body)
    created_body, updated_body = json.loads(created.body), json.loads(updated.body)
    assert created.headers["X-Touchpoint-Event"] == created_body["type"] == "lead.created"
    lead = created_body["data"]["lead"]
    assert (lead["id"], lead["name"], lead["email"]) == (1, "Ann Lee", "ann@northwind.example")
    assert lead["owner"] is None
    assert updated_body["type"] == "lead.updated"
    assert updated_body["data"]["lead"]["owner"] == "Olga"
    assert [c["kind"] for c in updated_body["data"]["changes"]] == ["lead_accepted"]
