"""Which Telegram updates carry an order of their own (the message id as `sequence`): a new
message does; an edit (it changes a message already placed) and a button press (it answers one
of the bot's messages, however old) do not; a message id that is no number orders nothing."""

from __future__ import annotations

from typing import Any

from telegram import Bot

from bot.model import InboundKind
from bot.storing import storable
from channels.telegram.normalize import BotIdentity, normalize

ME = BotIdentity(5550001, "TouchpointTestBot")
CLIENT = Bot("123:sequence")
CHAT = {"id": 1001, "type": "private", "first_name": "Ann"}
ANN = {"id": 1001, "is_bot": False, "first_name": "Ann"}


def message(message_id: Any, **more: Any) -> dict[str, Any]:
    return {"message_id": message_id, "date": 1767000000, "chat": CHAT, "from": ANN} | more


def test_a_new_message_is_ordered_by_its_message_id() -> None:
    item = normalize({"update_id": 1, "message": message(42, text="hi")}, ME, CLIENT)
    assert (item.message.kind, item.message.sequence) == (InboundKind.MESSAGE, 42)


def test_an_edit_has_no_order_of_its_own() -> None:
    edited = message(42, text="hi there", edit_date=1767000100)
    item = normalize({"update_id": 2, "edited_message": edited}, ME, CLIENT)
    assert item.message.edit_of == "1001:42" and item.message.sequence is None


def test_a_button_press_is_never_late() -> None:
    bots = {"message_id": 40, "date": 1767000000, "chat": CHAT, "text": "Menu"}
    press = {"id": "77", "from": ANN, "chat_instance": "1", "data": "menu:lead", "message": bots}
    item = normalize({"update_id": 3, "callback_query": press}, ME, CLIENT)
    assert item.message.button == "menu:lead" and item.message.sequence is None


def test_a_message_id_that_is_no_number_orders_nothing_and_the_message_is_still_read() -> None:
    item = normalize({"update_id": 4, "message": message("42", text="hi")}, ME, CLIENT)
    assert (item.message.kind, item.message.text) == (InboundKind.MESSAGE, "hi")
    assert item.message.sequence is None


def test_a_sequence_beyond_what_the_database_holds_orders_nothing() -> None:
    item = normalize({"update_id": 5, "message": message(2**70, text="hi")}, ME, CLIENT)
    assert item.message.sequence == 2**70
    assert storable(item.message).sequence is None
