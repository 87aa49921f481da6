"""Pieces every handler uses: the main menu, buttons, state changes."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.model import QuickReply
from bot.records import ConversationState, FlowData
from bot.turn import Context, Reply, Turn

MENU_ACTIONS = ("lead", "service", "status", "human")


def button(ctx: Context, lang: str, key: str, data: str, **fields: object) -> QuickReply:
    return QuickReply(label=ctx.say(f"button.{key}", lang, **fields), data=data)


def menu_options(ctx: Context, lang: str) -> tuple[QuickReply, ...]:
    return tuple(button(ctx, lang, action, f"menu:{action}") for action in MENU_ACTIONS)


def menu_reply(ctx: Context, lang: str, key: str = "menu") -> Reply:
    return Reply(ctx.say(key, lang), options=menu_options(ctx, lang))


def idle(
    turn: Turn, *, source: str | None = None, ticket_id: int | None = None
) -> ConversationState:
    """Back to no flow, keeping only what outlives a flow (the campaign source, the ticket)."""
    data = _lasting(turn)
    if source := source or turn.state.data.get("source"):
        data["source"] = source
    if ticket_id := ticket_id or turn.state.data.get("ticket_id"):
        data["ticket_id"] = ticket_id
    return ConversationState(state="idle", data=data, language=turn.lang, misses=0)


def flow_state(turn: Turn, state: str, step: str | None, data: FlowData) -> ConversationState:
    data = {**_lasting(turn), **data}
    return ConversationState(state=state, step=step, data=data, language=turn.lang, misses=0)


def greeted(turn: Turn) -> bool:
    return bool(turn.state.data.get("greeted"))


def what_they_sent(turn: Turn) -> str:
    """A customer's message as a person reads it: the words, then a label per file or button."""
    parts = [turn.text] if turn.text else []
    parts += [
        f"[{item.kind}{': ' + item.name if item.name else ''}]" for item in turn.message.attachments
    ]
    if turn.message.button is not None:
        parts.append(f"[button: {turn.message.button[:64]}]")
    return "\n".join(parts) or "[empty message]"


def _lasting(turn: Turn) -> FlowData:
    """What the conversation keeps through every flow: whether the bot introduced itself."""
    return FlowData(greeted=True) if greeted(turn) else FlowData()


def shown_time(ctx: Context, moment: datetime) -> str:
    """A moment as the customer reads it: in the company's time zone (TIMEZONE), named."""
    return moment.astimezone(ctx.config.zone).strftime("%Y-%m-%d %H:%M %Z")


def span_in_words(ctx: Context, lang: str, span: timedelta) -> str:
    """ "30 minutes", "1 hour", "1.5 hours": minutes below an hour, so never "0 hours"."""
    minutes = max(1, round(span.total_seconds() / 60))
    if minutes < 60:
        return ctx.say("span.minute" if minutes == 1 else "span.minutes", lang, n=minutes)
    hours = round(minutes / 60, 1)
    return ctx.say("span.hour" if hours == 1 else "span.hours", lang, n=f"{hours:g}")
