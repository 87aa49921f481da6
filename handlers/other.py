"""Small talk and the safety net: greeting, help, thanks, goodbye, and the fallback menu."""

from __future__ import annotations

from dataclasses import replace

from bot.kinds import TouchpointKind as Kind
from bot.turn import Context, Event, Reply, Result, Turn
from handlers import handoff
from handlers.common import greeted, idle, menu_reply

SIMPLE_REPLIES = {"other.thanks": "thanks", "other.bye": "bye"}


async def greet(turn: Turn, ctx: Context, source: str | None = None) -> Result:
    """The introduction and the menu; the conversation remembers it was greeted."""
    state = idle(turn, source=source) if source else idle(turn)
    state = replace(state, data={**state.data, "greeted": True})
    events = (Event(Kind.CAMPAIGN_SOURCE, {"source": source}),) if source else ()
    replies = (Reply(ctx.say("greeting", turn.lang)), menu_reply(ctx, turn.lang))
    return Result(replies=replies, events=events, state=state)


async def hello(turn: Turn, ctx: Context) -> Result:
    """A "hi": the whole introduction the first time, a short answer once greeted."""
    if not greeted(turn):
        return await greet(turn, ctx)
    return Result(replies=(Reply(ctx.say("greeting_again", turn.lang)),), state=idle(turn))


async def show_help(turn: Turn, ctx: Context) -> Result:
    return Result(replies=(menu_reply(ctx, turn.lang, "help"),), state=idle(turn))


async def small_talk(turn: Turn, ctx: Context, intent: str) -> Result:
    if intent == "other.greeting":
        return await hello(turn, ctx)
    if intent == "other.help":
        return await show_help(turn, ctx)
    key = SIMPLE_REPLIES.get(intent)
    if key is None:
        return await not_understood(turn, ctx)
    return Result(replies=(Reply(ctx.say(key, turn.lang)),), state=idle(turn))


async def not_understood(turn: Turn, ctx: Context, key: str = "not_understood") -> Result:
    """A short menu rather than silence; after repeated misses, a person takes over."""
    misses = turn.state.misses + 1
    if misses >= ctx.config.misses_before_handoff:
        return await handoff.request(turn, ctx, reason="repeated_misunderstanding")
    state = replace(turn.state, language=turn.lang, misses=misses)
    return Result(replies=(menu_reply(ctx, turn.lang, key),), state=state)


async def unknown_command(turn: Turn, ctx: Context) -> Result:
    reply = Reply(ctx.say("unknown_command", turn.lang))
    return Result(replies=(reply, menu_reply(ctx, turn.lang, "help")))


async def stale_button(turn: Turn, ctx: Context) -> Result:
    return Result(
        replies=(Reply(ctx.say("stale_button", turn.lang)), menu_reply(ctx, turn.lang)),
        events=(Event(Kind.BUTTON_REJECTED, {"data": (turn.message.button or "")[:64]}),),
    )
