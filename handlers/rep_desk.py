"""What a registered rep can do by writing to the bot, on Telegram or by email.

- `/online`, `/offline`: on duty or not (coming online is offered the waiting queue);
- `/login` (or, by mail, "login link"): a one-time sign-in link to the console;
- the Claim button of a card (or, by email, a reply to the card): take the hand-off; exactly one
  rep wins a race, the others are told who took it;
- a reply to a card or to a relayed message, `/r N text`, or plain text when the rep has one
  conversation: the answer goes to the customer on the customer's channel;
- `/close [N]`, `/return [N] [summary]`: end the hand-off; back to the bot with `/return`.

A rep may act only on hand-offs they hold (a manager reassigns with `touchpoint handoffs
assign`). Each action on a customer's conversation is a `CustomerAction`, run by the caller
as a turn of that conversation, so its touchpoints land on the customer's timeline.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.model import InboundMessage
from bot.records import Handoff, Lead, Rep
from bot.turn import Action, Context, CustomerAction, Desk, Event, Notice, Reply, Result, Turn
from handlers import handoff as handoffs
from handlers import lead_desk, lead_pipeline
from handlers.assignment import offer_to, start_idle_clock
from handlers.cards import notice_to, written_while_waiting
from handlers.console_links import asks_for_link, link_notice
from handlers.reps import rep_help, rep_language

COMMAND = re.compile(r"^/([a-z]+)(?:@\w+)?(?:\s+#?(\d+))?(?:\s+(.*))?$", re.DOTALL | re.IGNORECASE)


async def handle(
    ctx: Context, rep: Rep, message: InboundMessage, now: datetime, stored_id: int
) -> Desk:
    """What a rep's message does. `stored_id` is the stored message: when it carries files, the
    customer is shown them with the rep's words (or alone)."""
    shows = stored_id if message.attachments and message.edit_of is None else None
    if message.button is not None and message.button.startswith("claim:"):
        return await claim(ctx, rep, _number(message.button[6:]), now, answer="")
    if message.button is not None and lead_desk.is_accept_button(message.button):
        number = lead_desk.button_lead(message.button)
        return await lead_desk.command(ctx, rep, "accept", number, "", now)
    if asks_for_link(message.text):
        return await login(ctx, rep, message.channel, now)
    if command := COMMAND.match(message.text.strip()):
        return await _command(ctx, rep, command, now)
    target = await _target(ctx, rep, message)
    if target is None:
        lead_card = await _answered_lead_card(ctx, rep, message)
        if lead_card is not None:
            return await lead_desk.answer_card(ctx, rep, lead_card, message.text, now)
        return Desk(to_rep=(ctx.say("rep.which", rep_language(rep)),))
    if target.status != "claimed":
        return await claim(ctx, rep, target.id, now, answer=message.text, shows=shows)
    return await answer(ctx, rep, target, message.text, shows=shows)


async def _command(ctx: Context, rep: Rep, command: re.Match[str], now: datetime) -> Desk:
    name, number, rest = command[1].lower(), _number(command[2] or ""), (command[3] or "").strip()
    if name == "online":
        return await online(ctx, rep, now)
    if name == "offline":
        await ctx.uow.reps.update(rep.id, on_duty=False)
        return Desk(to_rep=(ctx.say("rep.offline", rep_language(rep)),))
    if name in ("close", "return"):
        return await end(ctx, rep, number, returned=name == "return", summary=rest or None)
    if name in lead_desk.COMMANDS:
        return await lead_desk.command(ctx, rep, name, number, rest, now)
    if name == "r" and number is not None and rest:
        held = await _held(ctx, rep, number)
        return await answer(ctx, rep, held, rest) if held else _not_yours(ctx, rep, number)
    return Desk(to_rep=(rep_help(ctx, rep).text,))


async def login(ctx: Context, rep: Rep, channel: str, now: datetime) -> Desk:
    """A one-time sign-in link to the console, to the rep on the channel they asked on."""
    address = next((a for a in rep.identities if a.channel == channel), rep.reached_at)
    notice = await link_notice(ctx, rep, now, address)
    if notice is None:
        return Desk(to_rep=(ctx.say("rep.no_console", rep_language(rep)),))
    details = {"rep_id": rep.id, "channel": notice.channel}
    return Desk(notices=(notice,), events=(Event(Kind.LOGIN_LINK_SENT, details, Actor.REP),))


# --- claiming ------------------------------------------------------------------------------


async def claim(
    ctx: Context,
    rep: Rep,
    number: int | None,
    now: datetime,
    *,
    answer: str,
    shows: int | None = None,
) -> Desk:
    handoff = await ctx.uow.handoffs.get(number) if number is not None else None
    lang = rep_language(rep)
    if handoff is None or handoff.status not in ("queued", "offered"):
        return await _already_taken(ctx, rep, handoff, number)
    if not may_claim(rep, handoff):
        return _not_yours(ctx, rep, handoff.id)
    if not await ctx.uow.handoffs.claim(handoff.id, rep.id, now, offered_only=not _manager(rep)):
        return await _already_taken(ctx, rep, await ctx.uow.handoffs.get(handoff.id), number)
    await start_idle_clock(ctx, handoff, now)
    actions = [CustomerAction(handoff.conversation_id, _claimed(rep, handoff))]
    if answer.strip() or shows is not None:
        said = _rep_says(rep, handoff, answer, shows)
        actions.append(CustomerAction(handoff.conversation_id, said))
    text = ctx.say("rep.claimed", lang, number=handoff.id)
    return Desk(to_rep=(text,), about=handoff.conversation_id, customer=tuple(actions))


def may_claim(rep: Rep, handoff: Handoff) -> bool:
    """A hand-off is claimed by the rep it is offered to now (who speaks the language and has
    room: assignment chose them), or by a manager; not by any rep who learns its number."""
    offered_to_rep = handoff.status == "offered" and handoff.rep_id == rep.id
    return offered_to_rep or _manager(rep)


def _manager(rep: Rep) -> bool:
    return rep.role == "manager"


def _claimed(rep: Rep, handoff: Handoff) -> Action:
    async def action(turn: Turn, ctx: Context) -> Result:
        latency = round((turn.now - handoff.requested_at).total_seconds(), 1)
        details = {"handoff_id": handoff.id, "rep_id": rep.id, "latency": latency}
        others = [
            await ctx.uow.reps.get(rep_id) for rep_id in handoff.offered_to if rep_id != rep.id
        ]
        notices = tuple(_taken_notice(ctx, other, rep, handoff) for other in others if other)
        notices += await written_while_waiting(ctx, handoff, turn.conversation, rep)
        joined = Reply(ctx.say("handoff.rep_joined", turn.lang, name=rep.name))
        taken = await lead_desk.taken_with_conversation(turn, ctx, rep)
        return Result(
            replies=(joined,),
            events=(Event(Kind.REP_CLAIMED, details, Actor.REP), *taken.events),
            notices=(*notices, *taken.notices),
        )

    return action


def _taken_notice(ctx: Context, other: Rep, rep: Rep, handoff: Handoff) -> Notice:
    return notice_to(
        other, ctx.say("rep.taken_by", rep_language(other), number=handoff.id, name=rep.name)
    )


async def _already_taken(
    ctx: Context, rep: Rep, handoff: Handoff | None, number: int | None
) -> Desk:
    lang = rep_language(rep)
    holder = await ctx.uow.reps.get(handoff.rep_id) if handoff and handoff.rep_id else None
    if handoff is None or holder is None or handoff.status != "claimed":
        return Desk(to_rep=(ctx.say("rep.no_such", lang, number=number or "?"),))
    if holder.id == rep.id:  # pressed twice
        return Desk(to_rep=(ctx.say("rep.claimed", lang, number=handoff.id),))
    if rep.id in handoff.offered_to:
        return Desk()  # told who took it when it was taken: once is enough
    return Desk(to_rep=(ctx.say("rep.taken_by", lang, number=handoff.id, name=holder.name),))


# --- answering and ending -------------------------------------------------------------------


async def answer(
    ctx: Context, rep: Rep, handoff: Handoff, text: str, *, shows: int | None = None
) -> Desk:
    if not text.strip() and shows is None:
        return Desk()
    action = _rep_says(rep, handoff, text, shows)
    return Desk(
        about=handoff.conversation_id, customer=(CustomerAction(handoff.conversation_id, action),)
    )


def _rep_says(rep: Rep, handoff: Handoff, text: str, shows: int | None = None) -> Action:
    async def action(turn: Turn, ctx: Context) -> Result:
        first = await ctx.uow.handoffs.answered(handoff.id, turn.now)
        latency = round((turn.now - handoff.requested_at).total_seconds(), 1)
        details = {"handoff_id": handoff.id, "rep_id": rep.id, "latency": latency, "first": first}
        contacted = await lead_desk.contacted_in_conversation(turn, ctx, rep)
        return Result(
            replies=(Reply(text.strip()[:4000], human=True, shows=shows),),
            events=(Event(Kind.REP_REPLIED, details, Actor.REP), *contacted),
        )

    return action


async def end(
    ctx: Context, rep: Rep, number: int | None, *, returned: bool, summary: str | None
) -> Desk:
    held = await _held(ctx, rep, number) if number is not None else await _only_one(ctx, rep)
    if held is None:
        return (
            _not_yours(ctx, rep, number)
            if number is not None
            else Desk(to_rep=(ctx.say("rep.which", rep_language(rep)),))
        )

    async def action(turn: Turn, ctx: Context) -> Result:
        result = await handoffs.finish(
            turn, ctx, returned=returned, summary=summary, actor=Actor.REP
        )
        return result or Result()

    key = "rep.returned_ok" if returned else "rep.closed_ok"
    text = ctx.say(key, rep_language(rep), number=held.id)
    return Desk(to_rep=(text,), customer=(CustomerAction(held.conversation_id, action),))


async def online(ctx: Context, rep: Rep, now: datetime) -> Desk:
    """On duty, and offered what waited for somebody (as far as the rep's capacity goes)."""
    await ctx.uow.reps.update(rep.id, on_duty=True)
    actions = []
    room = rep.capacity - await ctx.uow.handoffs.load_of(rep.id)
    for waiting in (await ctx.uow.handoffs.waiting())[: max(room, 0)]:
        conversation = await ctx.uow.conversations.get(waiting.conversation_id)
        if conversation and conversation.current.language in rep.languages:
            actions.append(CustomerAction(waiting.conversation_id, _offer(rep, waiting)))
    leads = await lead_pipeline.waiting_for(ctx, rep)
    actions.extend(
        CustomerAction(lead.conversation_id or 0, _offer_lead(rep, lead)) for lead in leads
    )
    return Desk(
        to_rep=(ctx.say("rep.online", rep_language(rep), waiting=len(actions)),),
        customer=tuple(actions),
    )


def _offer_lead(rep: Rep, lead: Lead) -> Action:
    async def action(turn: Turn, ctx: Context) -> Result:
        return await lead_pipeline.offer_waiting(ctx, lead.id, turn.conversation, turn.now, to=rep)

    return action


def _offer(rep: Rep, handoff: Handoff) -> Action:
    async def action(turn: Turn, ctx: Context) -> Result:
        return await offer_to(ctx, handoff, turn.conversation, rep, turn.now)

    return action


# --- finding the conversation ---------------------------------------------------------------


async def _target(ctx: Context, rep: Rep, message: InboundMessage) -> Handoff | None:
    """The hand-off a rep's plain message is for: the conversation of the message they reply
    to, else their only one."""
    if message.in_reply_to:
        conversation_id = await ctx.uow.outbox.relayed_conversation(
            message.channel, message.in_reply_to
        )
        handoff = await ctx.uow.handoffs.active_for(conversation_id) if conversation_id else None
        if handoff and (handoff.status != "claimed" or handoff.rep_id == rep.id):
            return handoff
        return None
    return await _only_one(ctx, rep)


async def _answered_lead_card(ctx: Context, rep: Rep, message: InboundMessage) -> Lead | None:
    """The open lead of the conversation whose card (or message) the rep replies to."""
    if not message.in_reply_to:
        return None
    conversation_id = await ctx.uow.outbox.relayed_conversation(
        message.channel, message.in_reply_to
    )
    conversation = await ctx.uow.conversations.get(conversation_id) if conversation_id else None
    return await ctx.uow.leads.open_of_contact(conversation.contact_id) if conversation else None


async def _held(ctx: Context, rep: Rep, number: int) -> Handoff | None:
    handoff = await ctx.uow.handoffs.get(number)
    return handoff if handoff and handoff.status == "claimed" and handoff.rep_id == rep.id else None


async def _only_one(ctx: Context, rep: Rep) -> Handoff | None:
    held = await ctx.uow.handoffs.claimed_by(rep.id)
    return held[0] if len(held) == 1 else None


def _not_yours(ctx: Context, rep: Rep, number: int | None) -> Desk:
    return Desk(to_rep=(ctx.say("rep.not_yours", rep_language(rep), number=number or "?"),))


def _number(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None
