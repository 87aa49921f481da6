"""One-time sign-in links to the sales console, sent to a rep on their own channel: when they
ask the bot (/login, rep_desk.py) or a manager sends one from the team page (team_admin.py).

The link is built from the console's configured address (FlowConfig.console_url); the secret
travels in the message alone, never in an event, a touchpoint or a log line.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.model import Address
from bot.records import Rep
from bot.turn import Context, Notice
from handlers.reps import rep_language

# What a rep writes to ask for one: the command, or the words alone (a mail's whole text).
LOGIN_REQUEST = re.compile(r"^(?:/login(?:@\w+)?|login link|ссылка для входа)[.!]?$", re.IGNORECASE)


def asks_for_link(text: str) -> bool:
    return LOGIN_REQUEST.match(text.strip()) is not None


def login_url(base_url: str, secret: str) -> str:
    """The address of a one-time sign-in link, built from the console's configured address."""
    return f"{base_url.rstrip('/')}/login/{secret}"


async def link_notice(
    ctx: Context, rep: Rep, now: datetime, address: Address | None
) -> Notice | None:
    """The message with a new sign-in link for `rep`, to `address` (one of the rep's), without
    a link preview (a preview is the link being fetched); None when the console has no
    address here or the rep none to be reached at."""
    base, valid_for = ctx.config.console_url, ctx.config.console_link_for
    if not base or address is None:
        return None
    secret = await ctx.uow.console_access.new_link(rep.id, now, valid_for)
    lang = rep_language(rep)
    link = login_url(base, secret)
    text = ctx.say("rep.login_link", lang, link=link, minutes=_minutes(valid_for))
    subject = ctx.say("rep.login_link_subject", lang)
    return Notice(address.channel, address.value, text, subject=subject, link_previews=False)


def _minutes(span: timedelta) -> int:
    return max(int(span.total_seconds() // 60), 1)
