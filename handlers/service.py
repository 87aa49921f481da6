"""Service follow-ups: open a ticket, acknowledge it, follow up on a timer, answer its status.

A conversation remembers its current ticket (`data["ticket_id"]`): later messages that are not
a new request of another kind are added to that ticket.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import Conversation, Ticket, ticket_id_from_number
from bot.turn import ContactEvent, Context, Event, Reply, Result, Turn
from handlers import satisfaction
from handlers.common import flow_state, idle, shown_time, span_in_words
from storage.repos.tickets import OPEN_STATUSES

# A reference to one of our tickets: "#1042", "№1042", "ticket 1042", "заявка 1042". A bare
# number ("order 5531") is the customer's order number, not a ticket.
TICKET_REFERENCE = re.compile(
    r"(?:[#№]\s*|\b(?:ticket|request|case|заявк\w*|обращени\w*|тикет\w*)\s*(?:#|№|no\.?|number|номер)?\s*)"
    r"(\d{1,9})\b",
    re.IGNORECASE,
)
# The customer's own order number: "order 5531", "order #5531", "заказ № 5531", "посылка 5531".
ORDER_REFERENCE = re.compile(
    r"\b(?:orders?|parcel|package|shipment|заказ\w*|посылк\w*|отправлени\w*)"
    r"\s*(?:#|№|no\.?|number|номер)?\s*(\d{3,12})\b",
    re.IGNORECASE,
)
# In the arguments of `/status 1042` a number can only be a ticket number.
ANY_NUMBER = re.compile(r"\b(\d{1,9})\b")
WORD = re.compile(r"\w[\w'’-]*")
# Words that tell nothing about the issue itself: "I have a problem with my order" and
# "У меня проблема с заказом" still need a description, however many words they have.
_FILLER = (
    "i me my mine we us our you your it its is am are was were be been have has had do does "
    "did a an the this that there with about for of to in on at and or but so please hi hello "
    "hey я меня мне мой моя мое моё мои мы нас наш наша наше наши вы вас ваш это у с со в во "
    "на о об по и а но есть был была было были здравствуйте привет добрый день пожалуйста"
)
FILLER_WORDS = frozenset(_FILLER.split())
DETAIL_WORDS = 4
DESCRIPTIVE_WORDS = 5
MAX_SUMMARY = 4000
FOLLOWUP_KIND = "ticket_followup"


def category_of(intent: str) -> str:
    """`service.refund` → `refund`; anything else → `other`."""
    prefix, _, name = intent.partition(".")
    return name if prefix == "service" and name and name != "status" else "other"


async def start(turn: Turn, ctx: Context, intent: str) -> Result:
    """A new service request: open it now if the message describes it, else ask for details."""
    category = category_of(intent)
    if describes_issue(turn.text):
        return await open_ticket(turn, ctx, category, turn.text)
    reply = Reply(ctx.say("service.ask_details", turn.lang))
    state = flow_state(turn, "service", "describe", {**idle(turn).data, "category": category})
    return Result(replies=(reply,), state=state)


def describes_issue(text: str) -> bool:
    """Whether a first message already says what happened, so the ticket can open at once."""
    words = WORD.findall(text.casefold())
    return sum(word not in FILLER_WORDS for word in words) >= DETAIL_WORDS


async def describe(turn: Turn, ctx: Context) -> Result:
    """The description the intake step asked for."""
    if len(turn.text) < 2 or not any(char.isalnum() for char in turn.text):
        return Result(replies=(Reply(ctx.say("lead.too_short", turn.lang)),))
    if ticket_references(turn.text) and not describes_issue(turn.text):
        # "what about #1042?" asks about a ticket; opening a new one with it would be wrong.
        return await status(turn, ctx)
    return await open_ticket(turn, ctx, str(turn.state.data.get("category", "other")), turn.text)


async def resume(turn: Turn, ctx: Context) -> Result:
    """The request being described when the customer left: ask for its details again."""
    replies = (
        Reply(ctx.say("resume", turn.lang)),
        Reply(ctx.say("service.ask_details", turn.lang)),
    )
    return Result(replies=replies)


async def open_ticket(turn: Turn, ctx: Context, category: str, text: str) -> Result:
    ticket = await ctx.uow.tickets.open(
        contact_id=turn.contact_id,
        conversation_id=turn.conversation.id,
        category=category,
        summary=text[:MAX_SUMMARY],
        now=turn.now,
    )
    await ctx.uow.tickets.add_note(
        ticket.id, text[:MAX_SUMMARY], "customer", turn.stored_id, turn.now
    )
    due = turn.now + ctx.config.followup_after
    await ctx.uow.timers.schedule(
        FOLLOWUP_KIND, due, turn.now, conversation_id=turn.conversation.id, ticket_id=ticket.id
    )
    reply = Reply(_opened_text(ctx, turn.lang, ticket.number))
    events = (
        Event(Kind.TICKET_OPENED, {"ticket": ticket.number, "category": category}),
        Event(
            Kind.FOLLOWUP_SCHEDULED,
            {"ticket": ticket.number, "due_at": due.isoformat()},
            Actor.SYSTEM,
        ),
    )
    return Result(replies=(reply,), events=events, state=idle(turn, ticket_id=ticket.id))


async def current_ticket(turn: Turn, ctx: Context) -> Ticket | None:
    """The conversation's ticket, when it is still open."""
    ticket_id = turn.state.data.get("ticket_id")
    if not isinstance(ticket_id, int):
        return None
    ticket = await ctx.uow.tickets.get(ticket_id)
    return ticket if ticket and ticket.status in OPEN_STATUSES else None


def order_numbers(text: str) -> set[str]:
    return set(ORDER_REFERENCE.findall(text))


def ticket_references(text: str) -> list[int]:
    """The ticket numbers `text` refers to; "Заказ № 30981" and "order #5531" name the
    customer's order, not one of our tickets."""
    orders = order_numbers(text)
    return [int(found) for found in TICKET_REFERENCE.findall(text) if found not in orders]


async def concerns_another_order(turn: Turn, ctx: Context, ticket: Ticket) -> bool:
    """Whether the message names an order the open ticket is not about: "order 5531 came
    damaged" while the ticket is about order 4410 is a new problem, not a note on it."""
    named = order_numbers(turn.text)
    if not named:
        return False
    notes = await ctx.uow.tickets.notes(ticket.id)
    known = order_numbers(ticket.summary).union(*(order_numbers(text) for _a, text, _t in notes))
    return bool(known) and not named <= known


async def add_to_ticket(turn: Turn, ctx: Context, ticket: Ticket) -> Result:
    await ctx.uow.tickets.add_note(
        ticket.id, turn.text[:MAX_SUMMARY], "customer", turn.stored_id, turn.now
    )
    replies = [Reply(ctx.say("service.note_added", turn.lang, number=ticket.number))]
    if "?" in turn.text:
        # "Any news on this?", "Есть новости?": a question on a ticket is answered by its state.
        replies.append(Reply(describe_ticket(ctx, ticket, turn.lang)))
    event = Event(Kind.TICKET_UPDATED, {"ticket": ticket.number}, Actor.CUSTOMER)
    return Result(replies=tuple(replies), events=(event,), state=replace(turn.state, misses=0))


async def status(
    turn: Turn, ctx: Context, text: str | None = None, *, may_open: bool = False
) -> Result:
    """Status of the tickets the text refers to, or of all the customer's open tickets.

    Only the customer's own tickets are shown; someone else's number reads as not found. With
    `may_open`, a question about something we have no ticket for ("where is my order 5531?")
    opens one, since following it up is exactly what the customer asks for.
    """
    if text is None:
        references = ticket_references(turn.text)
    else:
        references = [int(found) for found in ANY_NUMBER.findall(text)]
    if references:
        replies = tuple([await _one_status(turn, ctx, number) for number in references[:5]])
        return Result(
            replies=replies, events=(Event(Kind.STATUS_REQUESTED, {"tickets": references[:5]}),)
        )
    tickets = await _open_tickets_of(turn, ctx)
    if tickets:
        return _list_open(turn, ctx, tickets)
    if may_open and len(turn.text.split()) >= DESCRIPTIVE_WORDS:
        return await open_ticket(turn, ctx, "order", turn.text)
    reply = Reply(ctx.say("service.none_open", turn.lang))
    state = flow_state(turn, "service", "describe", {**idle(turn).data, "category": "other"})
    return Result(replies=(reply,), state=state)


async def _one_status(turn: Turn, ctx: Context, number: int) -> Reply:
    ticket = await ctx.uow.tickets.get(ticket_id_from_number(number))
    if ticket is None or ticket.contact_id != turn.contact_id:
        return Reply(ctx.say("service.not_found", turn.lang, number=number))
    return Reply(describe_ticket(ctx, ticket, turn.lang))


def describe_ticket(ctx: Context, ticket: Ticket, lang: str) -> str:
    return ctx.say(
        "service.status",
        lang,
        number=ticket.number,
        category=category_name(ctx, ticket.category, lang),
        status=status_name(ctx, ticket.status, lang),
        updated=shown_time(ctx, ticket.updated_at),
    )


def _opened_text(ctx: Context, lang: str, number: int) -> str:
    after = ctx.config.followup_after
    # `hours` for catalog copies written before `within`; never "0" there either.
    hours = max(0.1, round(after.total_seconds() / 3600, 1))
    within = span_in_words(ctx, lang, after)
    return ctx.say("service.opened", lang, number=number, within=within, hours=f"{hours:g}")


def status_name(ctx: Context, status_code: str, lang: str) -> str:
    key = f"service.status_name.{status_code}"
    return ctx.say(key, lang) if ctx.texts.has(key) else status_code


def category_name(ctx: Context, category: str, lang: str) -> str:
    # Without this a Russian customer read "Заявка #1001 (order)".
    key = f"service.category.{category}"
    return ctx.say(key, lang) if ctx.texts.has(key) else category


async def _open_tickets_of(turn: Turn, ctx: Context) -> list[Ticket]:
    tickets = await ctx.uow.tickets.search(contact_id=turn.contact_id)
    return [ticket for ticket in tickets if ticket.status in OPEN_STATUSES]


def _list_open(turn: Turn, ctx: Context, tickets: list[Ticket]) -> Result:
    lines = [ctx.say("service.your_open", turn.lang)]
    lines += [describe_ticket(ctx, ticket, turn.lang) for ticket in tickets[:10]]
    event = Event(Kind.STATUS_REQUESTED, {"tickets": [ticket.number for ticket in tickets[:10]]})
    return Result(replies=(Reply("\n".join(lines)),), events=(event,))


async def set_status(
    turn: Turn, ctx: Context, ticket_id: int, status: str, *, rep_id: int | None = None
) -> Result | None:
    """A rep or manager (`rep_id`, at the command line) sets a ticket's status, as a turn of
    the ticket's conversation; None when the ticket already has it. A ticket that becomes
    resolved is announced to the customer, in their language, with its number."""
    ticket = await ctx.uow.tickets.get(ticket_id)
    event = await _status_changed(ctx, ticket, status, turn.now, rep_id)
    if ticket is None or event is None:
        return None
    if status != "resolved":
        return Result(events=(event,))
    question, state, asked = satisfaction.ask(
        turn, ctx, turn.state, about="ticket", number=ticket.number, rep_id=rep_id
    )
    return Result(
        replies=(resolved_notice(ctx, ticket, turn.lang), question),
        events=(event, asked),
        state=state,
    )


def resolved_notice(ctx: Context, ticket: Ticket, lang: str) -> Reply:
    """What the customer hears when their ticket is resolved: said of the bot's own accord,
    so it waits for the end of the quiet hours."""
    return Reply(ctx.say("service.resolved", lang, number=ticket.number), proactive=True)


async def set_status_without_conversation(
    ctx: Context, ticket_id: int, status: str, now: datetime, *, rep_id: int | None = None
) -> tuple[ContactEvent, ...] | None:
    """The same for a ticket that has no conversation: the touchpoint goes on its contact's
    timeline (and there is no conversation to tell the customer in)."""
    ticket = await ctx.uow.tickets.get(ticket_id)
    event = await _status_changed(ctx, ticket, status, now, rep_id)
    return (ContactEvent(ticket.contact_id, event),) if ticket and event else None


async def add_team_note(
    ctx: Context, ticket_id: int, text: str, rep_id: int, now: datetime
) -> Event | None:
    """A rep's or manager's note on a ticket (the customer is not told); None without it."""
    ticket = await ctx.uow.tickets.get(ticket_id)
    if ticket is None:
        return None
    await ctx.uow.tickets.add_note(ticket.id, text[:MAX_SUMMARY], f"rep:{rep_id}", None, now)
    details = {"ticket": ticket.number, "rep_id": rep_id, "text": text[:200]}
    return Event(Kind.TICKET_NOTED, details, Actor.OPERATOR)


async def _status_changed(
    ctx: Context, ticket: Ticket | None, status: str, now: datetime, rep_id: int | None
) -> Event | None:
    if ticket is None or ticket.status == status:
        return None
    await ctx.uow.tickets.set_status(ticket.id, status, now)
    details: dict[str, object] = {"ticket": ticket.number, "from": ticket.status, "to": status}
    if rep_id is not None:
        details["rep_id"] = rep_id
    return Event(Kind.TICKET_STATUS_CHANGED, details, Actor.OPERATOR)


async def on_followup(
    ctx: Context, conversation: Conversation, ticket_id: int | None, now: datetime
) -> Result:
    """A ticket's follow-up timer fired: remind the customer while the ticket is still open.

    Nothing is sent when the ticket is closed, a person is already talking to the customer,
    or the customer cannot be reached (blocked the bot, address bounced).
    """
    ticket = await ctx.uow.tickets.get(ticket_id) if ticket_id is not None else None
    skip = await _followup_obstacle(ctx, conversation, ticket)
    number = ticket.number if ticket else None
    if skip or ticket is None:
        return Result(
            events=(Event(Kind.FOLLOWUP_SKIPPED, {"ticket": number, "why": skip}, Actor.SYSTEM),)
        )
    lang = conversation.current.language
    text = ctx.say(
        "service.followup", lang, number=ticket.number, status=status_name(ctx, ticket.status, lang)
    )
    return Result(
        replies=(Reply(text, proactive=True),),
        events=(Event(Kind.FOLLOWUP_DUE, {"ticket": number}, Actor.SYSTEM),),
    )


async def _followup_obstacle(
    ctx: Context, conversation: Conversation, ticket: Ticket | None
) -> str:
    if ticket is None or ticket.status not in OPEN_STATUSES:
        return "ticket_closed"
    if conversation.current.state == "handoff":
        return "with_a_person"
    if not await ctx.uow.contacts.is_reachable(conversation.channel, conversation.address):
        return "unreachable"
    return ""
