"""What a rep is sent: the card of a hand-off, and the customer's messages relayed to them.

Rep-facing text is in the rep's first language; the customer's own words are never translated.
"""

from __future__ import annotations

from dataclasses import replace

from bot.model import LONG_TEXT, Address, QuickReply
from bot.records import Conversation, Handoff, Rep
from bot.turn import Context, Notice
from handlers.reps import rep_language

RECENT = 6
PREVIEW = 300


def notice_to(
    rep: Rep,
    text: str,
    *,
    about: int | None = None,
    options: tuple[QuickReply, ...] = (),
    subject: str = "",
) -> Notice:
    # Reps without an address are never offered work (`assignment`); one whose addresses were
    # all removed since gets a notice that fails to send and is recorded as failed.
    address = rep.reached_at or Address("email", "")
    return Notice(
        address.channel, address.value, text, options=options, about=about, subject=subject
    )


async def card(ctx: Context, handoff: Handoff, conversation: Conversation, rep: Rep) -> Notice:
    lang = rep_language(rep)
    name = await _customer_name(ctx, conversation)
    text = ctx.say(
        "rep.card",
        lang,
        number=handoff.id,
        name=name,
        channel=conversation.channel,
        language=conversation.current.language,
        reason=ctx.say(f"rep.reason.{handoff.reason}", lang)
        if ctx.texts.has(f"rep.reason.{handoff.reason}")
        else handoff.reason,
        facts=await _facts(ctx, conversation, lang),
        recent=await _recent(ctx, conversation, lang),
        minutes=max(1, round(ctx.config.claim_within.total_seconds() / 60)),
    )
    claim = QuickReply(ctx.say("rep.button.claim", lang), f"claim:{handoff.id}")
    subject = f"[#{handoff.id}] {name}"
    return notice_to(rep, text, about=conversation.id, options=(claim,), subject=subject)


async def relayed(
    ctx: Context,
    handoff: Handoff,
    conversation: Conversation,
    rep: Rep,
    text: str,
    *,
    original: int | None = None,
) -> Notice:
    """A customer's message on its way to the rep who has the conversation.

    `original` is the stored message with files (a photo, a voice note, a PDF): the relay shows
    it to the rep as it is, on any channel, labelled by `text`.
    """
    name = await _customer_name(ctx, conversation)
    body = ctx.say("rep.relayed", rep_language(rep), number=handoff.id, name=name, text=text)
    notice = notice_to(rep, body, about=conversation.id, subject=f"[#{handoff.id}] {name}")
    return replace(notice, forward_message_id=original)


async def written_while_waiting(
    ctx: Context, handoff: Handoff, conversation: Conversation, rep: Rep
) -> tuple[Notice, ...]:
    """For the rep who claims: what the customer wrote after the card was sent, which the card
    could not show. One message lists the words; a message without words (a photo, a file) is
    shown to the rep as it is, after the list."""
    since = handoff.offered_at or handoff.requested_at
    written = [
        (message_id, text)
        for message_id, text in await ctx.uow.messages.inbound_since(conversation.id, since)
        if not text.startswith("/")
    ]
    if not written:
        return ()
    lang = rep_language(rep)
    name = await _customer_name(ctx, conversation)
    intro = ctx.say("rep.while_waiting", lang, number=handoff.id, name=name, count=len(written))
    listed = "\n".join(f"- {text or '[file]'}" for _id, text in written)
    body = f"{intro}\n{listed}"
    if len(body) > LONG_TEXT:
        body = f"{body[:LONG_TEXT].rstrip()}…"
    subject = f"[#{handoff.id}] {name}"
    notices = [notice_to(rep, body, about=conversation.id, subject=subject)]
    for message_id, text in written:
        if not text:
            shown = await relayed(ctx, handoff, conversation, rep, "[file]", original=message_id)
            notices.append(shown)
    return tuple(notices)


async def _customer_name(ctx: Context, conversation: Conversation) -> str:
    contact = await ctx.uow.contacts.get(conversation.contact_id)
    return (contact.display_name if contact else "") or conversation.address


async def _facts(ctx: Context, conversation: Conversation, lang: str) -> str:
    lines: list[str] = []
    for lead in await ctx.uow.leads.search(contact_id=conversation.contact_id, limit=1):
        details = ", ".join(
            v
            for v in (lead.need, lead.company, lead.email, lead.phone, lead.budget, lead.timeline)
            if v
        )
        lines.append(ctx.say("rep.card_lead", lang, details=details[:PREVIEW]))
    for ticket in await ctx.uow.tickets.search(contact_id=conversation.contact_id, limit=3):
        lines.append(
            ctx.say(
                "rep.card_ticket",
                lang,
                number=ticket.number,
                status=ticket.status,
                summary=ticket.summary[:PREVIEW],
            )
        )
    return "\n".join(lines) or "-"


async def _recent(ctx: Context, conversation: Conversation, lang: str) -> str:
    messages = await ctx.uow.messages.recent(conversation.id, RECENT)
    who = {"in": ctx.say("rep.who_customer", lang), "out": ctx.say("rep.who_bot", lang)}
    return (
        "\n".join(
            f"{who.get(direction, direction)}: {text[:PREVIEW]}" for direction, text in messages
        )
        or "-"
    )
