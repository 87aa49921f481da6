"""The sales team as a manager changes it: what a rep is told when registered or given a new
secret reply address."""

from __future__ import annotations

from bot.records import Rep
from bot.turn import Context, Notice
from handlers.reps import rep_language


def welcome(ctx: Context, rep: Rep) -> tuple[Notice, ...]:
    """A first mail to a rep on every channel that cannot prove who writes (email): it carries
    the rep's secret reply address, the only way a rep's answer by mail counts as the rep's.
    On Telegram the rep writes first (bots cannot), and Telegram proves who wrote."""
    lang = rep_language(rep)
    return tuple(
        Notice(
            address.channel,
            address.value,
            ctx.say("rep.welcome", lang, name=rep.name),
            subject=ctx.say("rep.welcome_subject", lang),
        )
        for address in rep.identities
        if not ctx.capabilities(address.channel).proves_sender
    )
