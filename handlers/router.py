"""Routing one turn to a handler, in the order of ARCHITECTURE.md:

1. conversation state: an active hand-off takes every kind of message (a rep who has it gets
   them, and the bot stays silent; while it waits, the bot answers commands); `/cancel` ends it;
2. buttons (also a typed option number or label) and commands;
3. an open flow (lead capture, service intake) takes the message as its answer, and so does a
   message the bot offered to pass on to the team;
4. intent matching against the catalog (a mail framed by courtesies by its sentences:
   `letters.py`); 5. low confidence → a short menu, a person after
   repeated misses.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.intents import IntentMatch
from bot.records import Handoff
from bot.turn import Context, Reply, Result, Routed, Turn
from handlers import (
    handoff,
    leads,
    leads_email,
    letters,
    mood,
    other,
    passing_on,
    satisfaction,
    service,
)
from handlers.assignment import someone_reachable
from handlers.common import greeted, idle, menu_reply

CANCEL_WORDS = frozenset({"cancel", "stop", "quit", "отмена", "отменить", "стоп", "хватит"})
START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
COMMAND = re.compile(r"^/([A-Za-z_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)
HUMAN_ESCAPE_SCORE = 0.7
FLOWS = ("lead", "service")
CANCELLABLE = (*FLOWS, passing_on.STATE)
# What ends an offer to pass a message on, rather than being the message.
DECLINING_INTENTS = frozenset({"other.thanks", "other.bye"})
DECLINING_WORDS = 3


async def route(turn: Turn, ctx: Context) -> Routed:
    if turn.state.state == "handoff":
        if active := await handoff.active(turn, ctx):
            return Routed(await with_the_team(active, turn, ctx))
        turn = _with_state_reset(turn)
    if satisfaction.waiting(turn):
        if rated := await satisfaction.take(turn, ctx, chosen_option(turn)):
            return Routed(rated)
        turn = satisfaction.forget(turn)  # not an answer: read as usual, never asked again
        routed = await _route(turn, ctx)
        if routed.result.state is None:
            return replace(routed, result=replace(routed.result, state=turn.state))
        return routed
    return await _route(turn, ctx)


async def _route(turn: Turn, ctx: Context) -> Routed:
    data = chosen_option(turn)
    if data is not None:
        return Routed(await on_button(data, turn, ctx))
    if command := COMMAND.match(turn.text):
        return Routed(await on_command(command[1].lower(), (command[2] or "").strip(), turn, ctx))
    if is_cancel_word(turn):
        return Routed(await cancel(turn, ctx))
    if turn.state.state == passing_on.STATE:
        return await for_the_team(turn, ctx)
    if turn.state.state in FLOWS:
        return await in_flow(turn, ctx)
    if not turn.text:
        return Routed(await without_text(turn, ctx))
    match = ctx.matcher.match(turn.text, turn.lang)
    if ctx.capabilities(turn.conversation.channel).threading is not None:
        match = letters.what_it_asks(match, turn.text, ctx.matcher, turn.lang)
    return Routed(await on_intent(match, turn, ctx), match)


def is_cancel_word(turn: Turn) -> bool:
    return turn.text.casefold().strip(" .!") in CANCEL_WORDS


async def with_the_team(active: Handoff, turn: Turn, ctx: Context) -> Result:
    """A message during a hand-off. `/cancel` always ends it. A rep who has it gets everything
    else (a word like "stop" is for them). While it waits for a rep, a cancel word or button
    ends it too, a command is answered, and the rest is kept for the team."""
    command = COMMAND.match(turn.text)
    name = command[1].lower() if command else ""
    if name == "cancel":
        return await handoff.withdraw(turn, ctx, active)
    if active.status == "claimed":
        return await handoff.while_with_team(turn, ctx)
    if is_cancel_word(turn) or turn.message.button == "cancel":
        return await handoff.withdraw(turn, ctx, active)
    if name in ("help", "menu"):
        return handoff.remind(turn, ctx, Reply(ctx.say("help", turn.lang)))
    if name:
        return handoff.remind(turn, ctx)
    return await handoff.while_waiting(turn, ctx, active)


async def opened(turn: Turn, ctx: Context) -> Result:
    """The customer opened the conversation: a newcomer is greeted, an unfinished flow asks
    its pending question again, a customer waiting for a rep hears that they still wait, and a
    conversation a rep has stays quiet."""
    if turn.state.state == "handoff":
        if active := await handoff.active(turn, ctx):
            return Result() if active.status == "claimed" else handoff.remind(turn, ctx)
        turn = _with_state_reset(turn)
    if turn.state.state == "lead":
        return await leads.resume(turn, ctx)
    if turn.state.state == "service":
        return await service.resume(turn, ctx)
    return await other.hello(turn, ctx)


def chosen_option(turn: Turn) -> str | None:
    """Button data, or the option a typed number/label picks among the last ones offered."""
    if turn.message.button is not None:
        return turn.message.button
    offered = turn.state.data.get("offered") or []
    text = turn.text.casefold().strip(" .)")
    if text.isdigit() and 1 <= int(text) <= len(offered):
        return str(offered[int(text) - 1][1])
    return next((str(data) for label, data in offered if str(label).casefold() == text), None)


async def on_button(data: str, turn: Turn, ctx: Context) -> Result:
    if data.startswith("menu:"):
        return await on_menu(data[5:], turn, ctx)
    if data == "cancel":
        return await cancel(turn, ctx)
    if data.startswith("lead:") and turn.state.state == "lead":
        return await leads.press(turn, ctx, data[5:])
    return await other.stale_button(turn, ctx)


async def on_menu(action: str, turn: Turn, ctx: Context) -> Result:
    if action == "lead":
        if turn.state.state == "lead":
            return await leads.resume(turn, ctx)
        return await _start_lead(turn, ctx, "")
    if action == "service":
        return await service.start(
            replace(turn, message=replace(turn.message, text="")), ctx, "service"
        )
    if action == "status":
        return await service.status(turn, ctx, text="")
    if action == "human":
        return await handoff.request(turn, ctx, reason="customer_asked")
    return await other.stale_button(turn, ctx)


async def on_command(name: str, args: str, turn: Turn, ctx: Context) -> Result:
    if name == "start":
        return await on_start(args, turn, ctx)
    if name in ("help", "menu"):
        return await other.show_help(turn, ctx)
    if name in ("human", "operator", "agent"):
        return await handoff.request(turn, ctx, reason="customer_asked")
    if name == "status":
        return await service.status(turn, ctx, text=args)
    if name == "cancel":
        return await cancel(turn, ctx)
    if name in ("lead", "offer", "quote"):
        return await _start_lead(turn, ctx, args)
    return await other.unknown_command(turn, ctx)


async def on_start(payload: str, turn: Turn, ctx: Context) -> Result:
    """`/start` greets; a deep-link payload is remembered as the campaign source.

    In the middle of a flow a bare `/start` continues the flow instead of losing the answers.
    """
    source = payload if START_PAYLOAD.fullmatch(payload) else None
    if source is None and turn.state.state == "lead":
        return await leads.resume(turn, ctx)
    return await other.greet(turn, ctx, source=source)


async def cancel(turn: Turn, ctx: Context) -> Result:
    if turn.state.state not in CANCELLABLE:
        return Result(replies=(Reply(ctx.say("nothing_to_cancel", turn.lang)),))
    reply = menu_reply(ctx, turn.lang, "cancelled")
    return Result(replies=(reply,), state=idle(turn))


async def in_flow(turn: Turn, ctx: Context) -> Routed:
    match = ctx.matcher.match(turn.text, turn.lang) if len(turn.text.split()) >= 2 else None
    if match and match.route == "human" and match.score >= HUMAN_ESCAPE_SCORE:
        return Routed(await handoff.request(turn, ctx, reason=await _why(turn, ctx)), match)
    if angry := await _if_angry(turn, ctx):
        return Routed(angry, match)
    if turn.state.state == "lead" and turn.state.step == "email_form":
        return Routed(await leads_email.answer(turn, ctx), match)
    if turn.state.state == "lead":
        return Routed(await leads.answer(turn, ctx), match)
    return Routed(await service.describe(turn, ctx), match)


async def for_the_team(turn: Turn, ctx: Context) -> Routed:
    """The message the bot offered to pass on; a short "thanks" or "bye" declines the offer."""
    match = ctx.matcher.match(turn.text, turn.lang) if turn.text else None
    if match and match.intent in DECLINING_INTENTS and len(turn.text.split()) <= DECLINING_WORDS:
        return Routed(await other.small_talk(turn, ctx, match.intent), match)
    return Routed(await passing_on.take(turn, ctx), match)


async def without_text(turn: Turn, ctx: Context) -> Result:
    ticket = await service.current_ticket(turn, ctx)
    if turn.message.attachments and ticket:
        return await service.add_to_ticket(turn, ctx, ticket)
    if turn.message.attachments:
        return Result(replies=(menu_reply(ctx, turn.lang, "attachment_received"),))
    if greeted(turn):  # the menu was shown already: an empty line gets a short answer
        return Result(replies=(Reply(ctx.say("listening", turn.lang)),))
    return Result(replies=(menu_reply(ctx, turn.lang, "empty_message"),))


async def on_intent(match: IntentMatch, turn: Turn, ctx: Context) -> Result:
    if match.route == "human":
        return await handoff.request(turn, ctx, reason=await _why(turn, ctx))
    if angry := await _if_angry(turn, ctx, match):
        return angry
    if match.route == "lead":
        return await _start_lead(turn, ctx, turn.text)
    threaded = ctx.capabilities(turn.conversation.channel).threading is not None
    if threaded and match.route in ("service", "other"):
        # In a mail thread with an open ticket, whatever the customer adds belongs to it.
        ticket = await service.current_ticket(turn, ctx)
        if ticket and match.intent != "service.status":
            if match.route == "service" and await service.concerns_another_order(turn, ctx, ticket):
                return await service.start(turn, ctx, match.intent)
            return await service.add_to_ticket(turn, ctx, ticket)
    if match.route == "service":
        return await on_service_intent(match, turn, ctx)
    if match.intent != "none":
        return await other.small_talk(turn, ctx, match.intent)
    ticket = await service.current_ticket(turn, ctx)
    if ticket and len(turn.text.split()) >= 3:
        return await service.add_to_ticket(turn, ctx, ticket)
    return await other.not_understood(turn, ctx)


async def on_service_intent(match: IntentMatch, turn: Turn, ctx: Context) -> Result:
    if match.intent == "service.status":
        return await service.status(turn, ctx, may_open=True)
    ticket = await service.current_ticket(turn, ctx)
    if ticket and not await service.concerns_another_order(turn, ctx, ticket):
        return await service.add_to_ticket(turn, ctx, ticket)
    return await service.start(turn, ctx, match.intent)


async def _start_lead(turn: Turn, ctx: Context, text: str) -> Result:
    """Mail asks all the lead questions at once; chat channels ask one at a time."""
    if ctx.capabilities(turn.conversation.channel).one_message_per_turn:
        return await leads_email.start(turn, ctx, text)
    return await leads.start(turn, ctx, text)


def _with_state_reset(turn: Turn) -> Turn:
    conversation = replace(turn.conversation, current=idle(turn))
    return replace(turn, conversation=conversation)


async def _why(turn: Turn, ctx: Context) -> str:
    """Why the customer asked for a person: to escalate their open ticket, or simply asked."""
    return "ticket_escalated" if await service.current_ticket(turn, ctx) else "customer_asked"


async def _if_angry(turn: Turn, ctx: Context, match: IntentMatch | None = None) -> Result | None:
    """An angry message goes to a person at once, with what sounded angry on the record. By
    mail, where a person's answer may take hours, an angry complaint that says what went wrong
    gets its ticket first, so that the first reply holds its number."""
    signals = ctx.anger.signals(turn.text)
    if not mood.sounds_angry(signals):
        return None
    details: dict[str, object] = {"signals": list(signals)}
    if match is not None and await _new_complaint_by_mail(turn, ctx, match):
        return await _angry_complaint(turn, ctx, match, details)
    return await handoff.request(turn, ctx, "angry_customer", details)


async def _new_complaint_by_mail(turn: Turn, ctx: Context, match: IntentMatch) -> bool:
    if ctx.capabilities(turn.conversation.channel).threading is None:
        return False
    if match.route != "service" or not service.describes_issue(turn.text):
        return False
    return await service.current_ticket(turn, ctx) is None


async def _angry_complaint(
    turn: Turn, ctx: Context, match: IntentMatch, details: dict[str, object]
) -> Result:
    """The ticket is opened and its number said, then a person takes over. With nobody who
    could, the ticket is what the team sees: no offer to pass on what it already holds."""
    opened = await service.open_ticket(turn, ctx, service.category_of(match.intent), turn.text)
    if not await someone_reachable(ctx):
        return opened
    state = opened.state or idle(turn)
    ticketed = replace(turn, conversation=replace(turn.conversation, current=state))
    handed = await handoff.request(ticketed, ctx, "angry_customer", details)
    return Result(
        replies=(*opened.replies, *handed.replies),
        events=(*opened.events, *handed.events),
        state=handed.state,
        notices=handed.notices,
    )
