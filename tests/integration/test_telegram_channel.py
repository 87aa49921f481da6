"""The Telegram channel end to end in one process: the real adapter, dispatcher and relay,
python-telegram-bot talking HTTP to the fake Bot API."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import Table, func, select

from bot.bootstrap import build_services
from bot.model import Address, utc_now
from bot.settings import Settings
from channels.telegram.sending import split_text
from storage.repos.outbox import NewOutbound
from storage.tables import messages, outbox
from storage.uow import Database
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_records import SentMessage
from tests.telegram_harness import TelegramBot
from tests.waiting import eventually

ANN = 1001
GREETING = (
    "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an "
    "existing order or request, or put you in touch with a person from our team."
)


def buttons(fake: FakeTelegram, index: int = -1) -> list[str]:
    markup = fake.sent[index].reply_markup or {}
    rows = markup.get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row]


async def test_start_greets_with_the_menu_as_buttons(
    database: Database, fake: FakeTelegram
) -> None:
    async with TelegramBot(database, fake):
        fake.user_message(ANN, "/start")
        await fake.wait_sent(2)
    assert fake.texts_to(ANN) == [GREETING, "What would you like to do?"]
    assert buttons(fake) == ["menu:lead", "menu:service", "menu:status", "menu:human"]


def last_to(fake: FakeTelegram, chat_id: int) -> SentMessage:
    return [message for message in fake.sent if message.chat_id == chat_id][-1]


async def stored_count(database: Database, table: Table) -> int:
    async with database.transaction() as uow:
        return int(
            (await uow.connection.execute(select(func.count()).select_from(table))).scalar_one()
        )


async def test_a_lead_through_buttons_and_a_shared_contact(
    database: Database, fake: FakeTelegram
) -> None:
    async with TelegramBot(database, fake) as bot:
        fake.user_message(ANN, "/start", first_name="Ann", last_name="Lee")
        await fake.wait_sent(2)
        fake.user_callback(ANN, "menu:lead", message_id=last_to(fake, ANN).message_id)
        await fake.wait_sent(4)
        fake.user_message(ANN, "Twenty standing desks for our Berlin office")
        await fake.wait_sent(5)
        assert fake.texts_to(ANN)[-1] == "What is your name?"
        assert buttons(fake) == ["lead:use_name"]

        fake.user_callback(ANN, "lead:use_name", message_id=last_to(fake, ANN).message_id)
        await fake.wait_sent(6)
        contact_step = last_to(fake, ANN)
        assert contact_step.text.startswith("How can our sales rep reach you?")
        keyboard = (contact_step.reply_markup or {})["keyboard"]
        assert keyboard == [[{"text": "Share my phone number", "request_contact": True}]]

        fake.user_contact(ANN, "+49 30 901820", contact_user_id=ANN)
        await fake.wait_sent(7)
        for step in (8, 9):  # no company; no budget and date
            fake.user_callback(ANN, "lead:skip", message_id=last_to(fake, ANN).message_id)
            await fake.wait_sent(step)
        assert "Phone: +4930901820" in fake.texts_to(ANN)[-1]
        fake.user_callback(ANN, "lead:confirm", message_id=last_to(fake, ANN).message_id)
        await fake.wait_sent(10)
        assert bot.crashed() is None

    assert fake.texts_to(ANN)[-1].startswith("Thank you, Ann!")  # the name the button offered
    assert len(fake.answered_callbacks) == 5  # every button press answered
    async with database.transaction() as uow:
        [lead] = await uow.leads.search()
        assert (lead.name, lead.company, lead.phone) == ("Ann", None, "+4930901820")
        assert await uow.contacts.owner_of("phone", "+4930901820") == lead.contact_id


async def test_a_phone_shared_from_a_second_account_joins_the_first_accounts_contact(
    database: Database, fake: FakeTelegram
) -> None:
    second = 2002
    async with TelegramBot(database, fake):
        fake.user_contact(ANN, "+49 30 901820", contact_user_id=ANN)
        await fake.wait_sent(1)
        fake.user_message(second, "hello", first_name="Ann")
        await fake.wait_sent(3)
        fake.user_contact(second, "+49 30 901820", contact_user_id=second)
        await fake.wait_sent(4)

    async with database.transaction() as uow:
        first_contact = await uow.contacts.owner_of("telegram", str(ANN))
        assert await uow.contacts.owner_of("telegram", str(second)) == first_contact
        [merged] = await uow.touchpoints.search(kind="contacts_merged")
        timeline = await uow.touchpoints.search(contact_id=first_contact, kind="message_in")
    assert (merged.contact_id, merged.details["from_contact_id"]) == (first_contact, 2)
    assert [t.details["text"] for t in timeline] == ["", "hello", ""]  # the second account's too


async def test_someone_elses_contact_is_not_taken_as_the_leads_phone(
    database: Database, fake: FakeTelegram
) -> None:
    async with TelegramBot(database, fake):
        fake.user_message(ANN, "I want to buy 5 coffee machines for the office")
        fake.user_message(ANN, "Ann")
        await fake.wait_sent(3)
        fake.user_contact(ANN, "+44 20 7946 0958", contact_user_id=999)
        await fake.wait_sent(5)
    assert fake.texts_to(ANN)[-2:] == [
        "Please share your own contact, or type your email address or phone number.",
        "How can our sales rep reach you? Please send an email address or a phone number.",
    ]


async def test_an_edited_message_updates_the_stored_text_and_gets_no_reply(
    database: Database, fake: FakeTelegram
) -> None:
    async with TelegramBot(database, fake):
        sent = fake.user_message(ANN, "hello")
        await fake.wait_sent(2)
        fake.user_edit(ANN, sent["message"]["message_id"], "hello, I want to buy 100 chairs")
        fake.user_message(ANN, "thanks")
        await fake.wait_sent(3)
    assert fake.texts_to(ANN)[-1] == "You're welcome! Write any time."
    async with database.transaction() as uow:
        assert await uow.leads.search() == []
        kinds = [t.kind for t in await uow.touchpoints.search()]
    assert "message_edited" in kinds


async def test_blocking_makes_the_customer_unreachable_and_unblocking_reverses_it(
    database: Database, fake: FakeTelegram
) -> None:
    async with TelegramBot(database, fake):
        fake.user_message(ANN, "hello")
        await fake.wait_sent(2)
        fake.user_blocks_bot(ANN)
        await fake.wait_until(lambda: fake.pending_updates == 0)
        await eventually(lambda: recorded(database, "blocked"), what="a blocked touchpoint")
        async with database.transaction() as uow:
            assert not await uow.contacts.is_reachable("telegram", str(ANN))
        fake.user_unblocks_bot(ANN)
        fake.user_message(ANN, "thanks")
        await fake.wait_sent(3)
    async with database.transaction() as uow:
        assert await uow.contacts.is_reachable("telegram", str(ANN))


async def test_a_429_pauses_sending_and_nothing_is_lost(
    database: Database, fake: FakeTelegram
) -> None:
    fake.add_fault("sendMessage", 429, retry_after=1)
    async with TelegramBot(database, fake) as bot:
        fake.user_message(ANN, "hello")
        await fake.wait_sent(2, timeout=15)
        assert bot.crashed() is None
    assert fake.texts_to(ANN) == [GREETING, "What would you like to do?"]
    async with database.transaction() as uow:
        assert [t.kind for t in await uow.touchpoints.search(kind="failed")] == []


async def test_403_marks_the_customer_unreachable_without_retrying(
    database: Database, fake: FakeTelegram
) -> None:
    fake.add_fault(
        "sendMessage", 403, description="Forbidden: bot was blocked by the user", times=5
    )
    async with TelegramBot(database, fake):
        fake.user_message(ANN, "hello")
        await eventually(
            lambda: recorded(database, "unreachable"), what="an unreachable touchpoint"
        )
    send_calls = [call for call in fake.calls if call.method.lower() == "sendmessage"]
    assert len(send_calls) == 1  # the second reply of the turn was not even tried
    async with database.transaction() as uow:
        assert not await uow.contacts.is_reachable("telegram", str(ANN))


async def test_400_fails_the_reply_with_the_reason(database: Database, fake: FakeTelegram) -> None:
    fake.add_fault("sendMessage", 400, description="Bad Request: chat not found")
    async with TelegramBot(database, fake):
        fake.user_message(ANN, "thanks")
        await eventually(lambda: recorded(database, "failed"), what="a failed touchpoint")
    async with database.transaction() as uow:
        [failed] = await uow.touchpoints.search(kind="failed")
    assert "chat not found" in str(failed.details["reason"]).lower()


async def test_a_429_in_the_middle_of_a_long_message_resends_no_part(
    database: Database, fake: FakeTelegram
) -> None:
    # The parts of a row were sent in a loop and a 429 on part k restarted the row from part 1
    # (4 tries delivered parts 1-2 four times each and never completed).
    long_text = "\n\n".join(f"Paragraph {n}: " + ("lorem ipsum " * 60).strip() for n in range(14))
    fake.add_fault("sendMessage", 429, retry_after=1, times=3, passing=1)  # part 2, three times
    async with TelegramBot(database, fake) as bot:
        async with database.transaction() as uow:
            outbound = NewOutbound(channel="telegram", address=str(ANN), text=long_text)
            await uow.outbox.enqueue([outbound], utc_now())
            await uow.commit()
        bot.relay.wake()
        parts = split_text(long_text)
        await fake.wait_sent(len(parts), timeout=20)
        await eventually(lambda: rows_sent(database), what="the row marked sent")
    assert len(parts) == 3
    assert fake.texts_to(ANN) == parts  # each part once, in order
    async with database.transaction() as uow:
        assert await uow.touchpoints.search(kind="failed") == []


async def rows_sent(database: Database) -> bool:
    async with database.transaction() as uow:
        query = select(func.count()).select_from(outbox).where(outbox.c.status != "sent")
        return int((await uow.connection.execute(query)).scalar_one()) == 0


async def test_a_text_over_4096_characters_is_split_on_a_paragraph_break(
    database: Database, fake: FakeTelegram
) -> None:
    long_text = "\n\n".join(f"Paragraph {n}: " + ("lorem ipsum " * 40).strip() for n in range(12))
    async with TelegramBot(database, fake) as bot:
        async with database.transaction() as uow:
            outbound = NewOutbound(channel="telegram", address=str(ANN), text=long_text)
            await uow.outbox.enqueue([outbound], utc_now())
            await uow.commit()
        bot.relay.wake()
        await fake.wait_sent(2)
    first, second = fake.texts_to(ANN)
    assert len(first) <= 4096 and first.endswith("lorem ipsum")
    assert second.startswith("Paragraph")
    assert first + "\n\n" + second == long_text.strip()


async def test_group_messages_are_ignored_unless_the_bot_is_addressed(
    database: Database, fake: FakeTelegram
) -> None:
    group = -100200300
    async with TelegramBot(database, fake):
        fake.user_message(group, "I want to buy 100 chairs", user_id=ANN)
        fake.user_message(group, "/start@SomeOtherBot", user_id=ANN)
        fake.user_message(group, "@TouchpointTestBot can I get a quote?", user_id=ANN)
        await fake.wait_sent(1)
        await fake.wait_until(lambda: fake.pending_updates == 0)
    assert fake.texts_to(group) == [
        "I answer in private messages only: open a chat with me and write there."
    ]
    async with database.transaction() as uow:
        assert await uow.leads.search() == []
        assert await uow.contacts.search() == []
        assert len(await uow.touchpoints.search(kind="ignored")) == 2


async def test_an_update_the_client_cannot_parse_is_parked_and_the_next_is_handled(
    database: Database, fake: FakeTelegram
) -> None:
    broken_photo = {
        "message": {
            "message_id": 7,
            "date": 1700000000,
            "chat": {"id": ANN, "type": "private", "first_name": "Ann"},
            "from": {"id": ANN, "is_bot": False, "first_name": "Ann"},
            "photo": [{"file_id": "x", "width": 1, "height": 1}],  # no file_unique_id
        }
    }
    async with TelegramBot(database, fake) as bot:
        fake.inject(broken_photo)
        fake.user_message(ANN, "hello")
        await fake.wait_sent(2)
        assert bot.crashed() is None
    async with database.transaction() as uow:
        [parked] = await uow.dead_letters.search()
    assert parked.error.startswith("unreadable: TypeError")
    assert fake.confirmed_offset > 2 or fake.pending_updates == 0


CALLBACK_WITHOUT_SENDER = {
    "callback_query": {
        "id": "77",
        "chat_instance": "1",
        "data": "menu:lead",
        "message": {"message_id": 3, "date": 1700000000, "chat": {"id": ANN, "type": "private"}},
    }
}


async def test_a_button_press_without_a_sender_is_parked_and_polling_goes_on(
    database: Database, fake: FakeTelegram
) -> None:
    # python-telegram-bot accepts a callback query without "from"; reading it then fails. It
    # used to escape the poller, end `touchpoint run`, and do so again on every restart.
    async with TelegramBot(database, fake) as bot:
        poison = fake.inject(CALLBACK_WITHOUT_SENDER)
        fake.user_message(ANN, "hello")
        await fake.wait_sent(2)
        await fake.wait_until(lambda: fake.confirmed_offset > poison["update_id"] + 1)
        assert bot.crashed() is None
    async with database.transaction() as uow:
        [parked] = await uow.dead_letters.search()
        assert [t.kind for t in await uow.touchpoints.search(kind="parked")] == ["parked"]
    assert parked.error.startswith("unreadable: AttributeError")
    assert fake.texts_to(ANN) == [GREETING, "What would you like to do?"]


class FlakyOffsets:
    """The offset store of a database that is away for the first `failures` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.saved: list[int] = []

    async def load(self) -> int:
        self._maybe_fail()
        return 0

    async def save(self, offset: int) -> None:
        self._maybe_fail()
        self.saved.append(offset)

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("the database is away")


async def test_an_outage_of_the_offset_store_is_waited_out_and_polling_goes_on(
    database: Database, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("channels.telegram.polling.MAX_BACKOFF", 0.01)
    offsets = FlakyOffsets(failures=3)  # the first load, then the first two saves
    async with TelegramBot(database, fake, offsets=offsets) as bot:
        fake.user_message(ANN, "hello")
        await fake.wait_sent(2)
        fake.user_message(ANN, "thanks")
        await fake.wait_sent(3)
        await fake.wait_until(lambda: bool(offsets.saved))
        assert bot.crashed() is None
    assert offsets.failures == 0
    assert offsets.saved[-1] >= 3


async def test_the_offset_is_stored_so_a_restart_does_not_process_again(
    database: Database, fake: FakeTelegram
) -> None:
    async with TelegramBot(database, fake):
        fake.user_message(ANN, "hello")
        await fake.wait_sent(2)
        await fake.wait_until(lambda: fake.confirmed_offset > 0 or fake.pending_updates == 0)
    async with database.transaction() as uow:
        stored = await uow.cursors.get("telegram", "offset:test")
    assert stored is not None and int(stored) >= 2
    async with TelegramBot(database, fake):
        fake.user_message(ANN, "thanks")
        await fake.wait_sent(3)
    assert await stored_count(database, messages) == 2 + 3  # two inbound, three replies stored


async def test_a_conflict_on_get_updates_is_reported_and_survived(
    database: Database, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_fault(
        "getUpdates", 409, description="Conflict: terminated by other getUpdates request"
    )
    async with TelegramBot(database, fake) as bot:
        fake.user_message(ANN, "hello")
        await fake.wait_sent(2)
        assert bot.crashed() is None
    assert "another process polls this bot token" in caplog.text


async def test_a_registered_rep_gets_the_rep_help_not_the_customer_menu(
    database: Database, fake: FakeTelegram
) -> None:
    async with database.transaction() as uow:
        await uow.reps.add(
            name="Olga", languages=("ru", "en"), identities=[Address("telegram", "4242")],
            role="rep", capacity=5, now=utc_now(),
        )  # fmt: skip
        await uow.commit()
    async with TelegramBot(database, fake):
        fake.user_message(4242, "/start")
        await fake.wait_sent(1)
    assert fake.texts_to(4242)[0].startswith("Здравствуйте, Olga! Вы менеджер по продажам")
    async with database.transaction() as uow:
        assert await uow.contacts.search() == []
        assert [t.kind for t in await uow.touchpoints.search()] == ["rep_message", "delivered"]


async def recorded(database: Database, kind: str) -> bool:
    """A touchpoint of `kind` is stored."""
    async with database.transaction() as uow:
        return bool(await uow.touchpoints.search(kind=kind))


async def test_a_hundred_messages_in_two_seconds_are_stored_answered_once_and_read_after(
    database: Database, fake: FakeTelegram
) -> None:
    # 300 messages from one user used to be accepted and answered one by one in 0.3 s.
    settings = Settings(_env_file=None, flood_limit=20, flood_window_seconds=3)
    async with TelegramBot(database, fake, services=build_services(settings)) as bot:
        for number in range(100):
            fake.user_message(ANN, f"thanks {number}")
        await fake.wait_until(lambda: fake.pending_updates == 0, timeout=20)
        await eventually(lambda: inbound_count(database, 100), what="all 100 stored")
        await settled_outbox(database)
        during = fake.texts_to(ANN)
        await asyncio.sleep(3.5)  # a pause longer than the window
        fake.user_message(ANN, "and one more thing: we need 12 chairs")
        await fake.wait_sent(len(during) + 1, timeout=20)
        assert bot.crashed() is None

    slow_down = [text for text in during if text.startswith("You're writing faster")]
    assert len(slow_down) == 1  # told once
    assert len(during) == 20 + 1  # twenty answered one by one, then the one notice
    async with database.transaction() as uow:
        held = await uow.touchpoints.search(kind="message_held", limit=1000)
        [*_, last] = await uow.touchpoints.search(kind="message_in", limit=1000)
    assert len(held) == 80
    assert str(last.details["text"]).startswith("thanks 20\nthanks 21\n")  # what it saw


async def inbound_count(database: Database, wanted: int) -> bool:
    async with database.transaction() as uow:
        query = select(func.count()).select_from(messages).where(messages.c.direction == "in")
        return int((await uow.connection.execute(query)).scalar_one()) >= wanted


async def settled_outbox(database: Database) -> None:
    await eventually(lambda: rows_sent(database), what="every reply sent")


async def test_a_reps_sign_in_link_is_sent_without_a_link_preview(
    database: Database, fake: FakeTelegram
) -> None:
    """A preview is Telegram fetching the link: a one-time link must not be fetched."""
    async with database.transaction() as uow:
        await uow.reps.add(
            name="Olga", languages=("en",), identities=[Address("telegram", "4242")],
            role="rep", capacity=5, now=utc_now(),
        )  # fmt: skip
        await uow.commit()
    async with TelegramBot(database, fake):
        fake.user_message(4242, "/login")
        await fake.wait_sent(1)
    [sent] = [call for call in fake.calls if call.method.lower() == "sendmessage"]
    assert "/login/" in str(sent.params["text"])
    options = sent.params["link_preview_options"]
    assert (json.loads(options) if isinstance(options, str) else options) == {"is_disabled": True}
