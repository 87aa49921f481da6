"""How did we do? One question after a resolved ticket or a closed hand-off.

The customer is asked once, with 1–5 buttons on Telegram (a numbered list where there are no
buttons, so "4" answers it by mail); the question is said of the bot's own accord, so quiet
hours hold it. Their next message answers it — a rating, with an optional comment in the same
words ("4, quick and helpful") or, after a button, in the message after — or, when it is no
rating, is read as usual and the question is dropped: nobody is asked twice. A rating is a
`csat_rated` touchpoint tied to the rep, the channel and the ticket or hand-off; a rating of
`LOW` or less opens a follow-up ticket (category `feedback`) and tells the managers.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.model import QuickReply
from bot.records import ConversationState, Ticket, ticket_id_from_number
from bot.turn import Context, Event, Notice, Reply, Result, Turn
from handlers.assignment import reachable_managers
from handlers.cards import notice_to
from handlers.reps import rep_language

PENDING = "csat"  # the key in the conversation's data while a question waits for its answer
COMMENT = "csat_comment"  # ... and while a rating given by button may get a comment
BUTTON = "csat:"
LOW = 2
RATING = re.compile(
    r"^\s*([1-5])(?:\s*(?:/\s*5|из\s*5|stars?|звезд\w*))?(?:[\s,.:;!—–-]+(.*))?$", re.S | re.I
)
MAX_COMMENT = 2000


def ask(
    turn: Turn,
    ctx: Context,
    state: ConversationState,
    *,
    about: str,
    number: int,
    rep_id: int | None,
) -> tuple[Reply, ConversationState, Event]:
    """The question, the state that waits for its answer, and the `csat_asked` touchpoint.
    `about` is "ticket" (`number` its number) or "handoff" (its id)."""
    options = tuple(QuickReply(str(n), f"{BUTTON}{n}") for n in range(1, 6))
    question = Reply(
        ctx.say(f"csat.ask_{about}", turn.lang, number=number), options=options, proactive=True
    )
    pending = {"about": about, "number": number, "rep_id": rep_id}
    waiting = replace(state, data={**state.data, "csat": pending})
    return question, waiting, Event(Kind.CSAT_ASKED, dict(pending), Actor.BOT)


def waiting(turn: Turn) -> bool:
    return PENDING in turn.state.data or COMMENT in turn.state.data


async def take(turn: Turn, ctx: Context, option: str | None) -> Result | None:
    """The answer to the question (None: this message is no answer, read it as usual)."""
    if pending := turn.state.data.get("csat"):
        rating, comment = _rating(turn, option)
        if rating is None:
            return None
        return await _rated(turn, ctx, pending, rating, comment, by_button=option is not None)
    if (rated := turn.state.data.get("csat_comment")) and turn.text and option is None:
        asks = ctx.matcher.match(turn.text, turn.lang).route in ("lead", "service", "human")
        if not turn.text.startswith("/") and not asks:  # a request is read as one, not kept
            return await _commented(turn, ctx, rated, turn.text)
    return None


def forget(turn: Turn) -> Turn:
    """The turn without a waiting question: it was not answered, and is not asked again."""
    data = turn.state.data.copy()
    data.pop("csat", None)
    data.pop("csat_comment", None)
    current = replace(turn.state, data=data)
    return replace(turn, conversation=replace(turn.conversation, current=current))


def _rating(turn: Turn, option: str | None) -> tuple[int | None, str]:
    if option is not None:
        return (int(option[len(BUTTON) :]), "") if option.startswith(BUTTON) else (None, "")
    found = RATING.match(turn.text)
    if not found:
        return None, ""
    return int(found[1]), (found[2] or "").strip()[:MAX_COMMENT]


async def _rated(
    turn: Turn,
    ctx: Context,
    pending: dict[str, Any],
    rating: int,
    comment: str,
    *,
    by_button: bool,
) -> Result:
    details: dict[str, Any] = {**pending, "rating": rating}
    if comment:
        details["comment"] = comment
    events = [Event(Kind.CSAT_RATED, details, Actor.CUSTOMER)]
    notices: tuple[Notice, ...] = ()
    if rating <= LOW:
        ticket, opened, notices = await _follow_up(turn, ctx, details)
        details["followup_ticket"] = ticket.number
        events.append(opened)
    data = forget(turn).state.data
    if by_button and not comment:
        data = {**data, "csat_comment": details}
        text = ctx.say("csat.thanks_add", turn.lang)
    else:
        text = ctx.say("csat.thanks", turn.lang)
    state = replace(turn.state, data=data)
    return Result(replies=(Reply(text),), events=tuple(events), state=state, notices=notices)


async def _commented(turn: Turn, ctx: Context, rated: dict[str, Any], comment: str) -> Result:
    details = {**rated, "comment": comment[:MAX_COMMENT]}
    if ticket_number := rated.get("followup_ticket"):
        ticket = await ctx.uow.tickets.get(ticket_id_from_number(int(ticket_number)))
        if ticket is not None:
            await ctx.uow.tickets.add_note(
                ticket.id, comment[:MAX_COMMENT], "customer", turn.stored_id, turn.now
            )
    return Result(
        replies=(Reply(ctx.say("csat.thanks", turn.lang)),),
        events=(Event(Kind.CSAT_COMMENTED, details, Actor.CUSTOMER),),
        state=forget(turn).state,
    )


async def _follow_up(
    turn: Turn, ctx: Context, details: dict[str, Any]
) -> tuple[Ticket, Event, tuple[Notice, ...]]:
    """A low rating: a `feedback` ticket for the managers, and a word to each of them."""
    rep = await ctx.uow.reps.get(details["rep_id"]) if details.get("rep_id") else None
    what = f"{'#' if details['about'] == 'ticket' else 'conversation #'}{details['number']}"
    summary = f"Rated {details['rating']}/5: {what}" + (f" ({rep.name})" if rep else "")
    if details.get("comment"):
        summary += f": {details['comment']}"
    ticket = await ctx.uow.tickets.open(
        contact_id=turn.contact_id,
        conversation_id=turn.conversation.id,
        category="feedback",
        summary=summary[:MAX_COMMENT],
        now=turn.now,
    )
    opened = Event(Kind.TICKET_OPENED, {"ticket": ticket.number, "category": "feedback"})
    notices = tuple(
        notice_to(
            manager,
            ctx.say(
                "rep.csat_low",
                rep_language(manager),
                rating=details["rating"],
                what=what,
                rep=rep.name if rep else "-",
                ticket=ticket.number,
                comment=details.get("comment") or "-",
            ),
            about=turn.conversation.id,
        )
        for manager in reachable_managers(await ctx.uow.reps.managers(), ())
    )
    return ticket, opened, notices
