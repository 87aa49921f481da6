"""Nobody to hand over to: a message passed on instead of a silent hand-off.

When a customer needs a person and no rep could ever take the conversation (none is
registered, or none has a channel to be reached on), a hand-off would wait for nobody while the
bot stayed quiet. Instead the bot says so, offers to pass a message on, and stores the
customer's next message for the team on their open ticket (or on a new ticket of the category
`message`), where `touchpoint tickets list` shows it; then it goes on answering.
"""

from __future__ import annotations

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import Ticket
from bot.turn import Context, Event, Reply, Result, Turn
from handlers.common import button, flow_state, idle, menu_options, what_they_sent
from handlers.service import MAX_SUMMARY, current_ticket

STATE = "message"
CATEGORY = "message"
OFFER_TEXT = {
    "repeated_misunderstanding": "handoff.nobody_after_misses",
    "angry_customer": "handoff.nobody_angry",
}


def offer(turn: Turn, ctx: Context, reason: str, *, text: str = "") -> Result:
    """Say honestly that nobody can take the conversation, and wait for a message to pass on.

    `text` is the key of what to say, when not the one for `reason`."""
    text = ctx.say(text or OFFER_TEXT.get(reason, "handoff.nobody_available"), turn.lang)
    reply = Reply(text, options=(button(ctx, turn.lang, "cancel", "cancel"),))
    event = Event(Kind.NOBODY_AVAILABLE, {"reason": reason}, Actor.SYSTEM)
    state = flow_state(turn, STATE, None, idle(turn).data)
    return Result(replies=(reply,), events=(event,), state=state)


async def take(turn: Turn, ctx: Context) -> Result:
    """The customer's message for the team: kept on their open ticket (or a new one), and
    confirmed with the ticket's number."""
    if not turn.text and not turn.message.attachments:
        return Result(replies=(Reply(ctx.say("listening", turn.lang)),))
    text = what_they_sent(turn)[:MAX_SUMMARY]
    ticket, opened = await _ticket_for(turn, ctx, text)
    await ctx.uow.tickets.add_note(ticket.id, text, "customer", turn.stored_id, turn.now)
    details = {"ticket": ticket.number, "opened": bool(opened)}
    passed = Event(Kind.MESSAGE_PASSED_ON, details, Actor.CUSTOMER)
    confirmed = ctx.say("handoff.passed_on", turn.lang, number=ticket.number)
    return Result(
        replies=(Reply(confirmed, options=menu_options(ctx, turn.lang)),),
        events=(*opened, passed),
        state=idle(turn, ticket_id=ticket.id),
    )


async def _ticket_for(turn: Turn, ctx: Context, text: str) -> tuple[Ticket, tuple[Event, ...]]:
    """The conversation's open ticket, or a new one with its `ticket_opened` event."""
    ticket = await current_ticket(turn, ctx)
    if ticket is not None:
        return ticket, ()
    # No follow-up timer: a follow-up would tell the customer that the team is on it.
    ticket = await ctx.uow.tickets.open(
        contact_id=turn.contact_id,
        conversation_id=turn.conversation.id,
        category=CATEGORY,
        summary=text,
        now=turn.now,
    )
    return ticket, (Event(Kind.TICKET_OPENED, {"ticket": ticket.number, "category": CATEGORY}),)
