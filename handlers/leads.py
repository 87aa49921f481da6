"""Lead capture: a short qualification flow that ends with a lead in status `new`.

The answers live in the conversation's state (`data`), so a restart resumes at the same step.
Steps already known about the contact (from an earlier lead or the contact's identities) are
skipped; optional steps can be skipped; the summary step lets the customer correct any field.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.model import QuickReply
from bot.records import LEAD_FIELDS, FlowData, lead_field
from bot.turn import Context, Event, Reply, Result, Turn
from handlers import handoff
from handlers.assignment import someone_reachable
from handlers.common import button, flow_state, idle
from handlers.contact_info import (
    clean_name,
    find_email,
    find_phone,
    remove_contacts,
    without_controls,
)
from handlers.lead_scoring import score_lead
from storage.repos.leads import NewLead

STEPS = ("need", "name", "company", "contact", "budget", "timeline")
OPTIONAL_STEPS = frozenset({"company", "budget", "timeline"})
SUMMARY_FIELDS = LEAD_FIELDS
EDITABLE = ("need", "name", "company", "contact", "budget", "timeline")
MAX_ANSWER = 2000
WAITING = "waiting"  # a lead's status when no rep could be told of it
DESCRIPTIVE_WORDS = 6
YES_WORDS = frozenset(
    {
        "yes",
        "y",
        "yep",
        "yeah",
        "ok",
        "okay",
        "sure",
        "confirm",
        "correct",
        "send",
        "right",
        "да",
        "ок",
        "окей",
        "верно",
        "отправить",
        "отправляй",
        "подтверждаю",
        "правильно",
        "конечно",
        "ага",
    }
)


async def start(turn: Turn, ctx: Context, first_text: str = "") -> Result:
    """Begin the flow; a descriptive first message already answers "what do you need"."""
    data = await known_facts(turn, ctx)
    data.update(_facts_in(first_text, turn.lang))
    if len(first_text.split()) >= DESCRIPTIVE_WORDS:
        data["need"] = remove_contacts(first_text)[:MAX_ANSWER]
    if source := turn.state.data.get("source"):
        data["source"] = source
    intro = Reply(ctx.say("lead.intro", turn.lang))
    result = _ask_next(turn, ctx, data)
    return Result(replies=(intro, *result.replies), events=result.events, state=result.state)


async def answer(turn: Turn, ctx: Context) -> Result:
    """The customer's message while the flow waits at `turn.state.step`."""
    step = turn.state.step or "need"
    data = turn.state.data.copy()
    if step == "confirm":
        return await _confirm_or_correct(turn, ctx, data)
    problem = _apply_answer(step, turn, data)
    if problem:
        return _reask(turn, ctx, step, data, problem)
    return _ask_next(turn, ctx, data)


async def press(turn: Turn, ctx: Context, action: str) -> Result:
    """A lead-flow button: skip, confirm, edit, edit:<field>, name:<offered name>."""
    data = turn.state.data.copy()
    step = turn.state.step or "need"
    skipped = lead_field(step) if step in OPTIONAL_STEPS else None
    if action == "skip" and skipped:
        data[skipped] = ""
        return _ask_next(turn, ctx, data)
    if action == "confirm" and step == "confirm":
        return await _save(turn, ctx, data)
    if action == "edit" and step == "confirm":
        return _which_field(turn, ctx, data)
    if action.startswith("edit:") and action[5:] in EDITABLE:
        return _ask_next(turn, ctx, _forget(data, action[5:]))
    if action == "use_name" and step == "name" and data.get("offered_name"):
        data["name"] = data["offered_name"]
        return _ask_next(turn, ctx, data)
    return _ask_next(turn, ctx, data, prefix="stale_button")


async def resume(turn: Turn, ctx: Context) -> Result:
    return _ask_next(turn, ctx, turn.state.data.copy(), prefix="resume")


# --- collecting answers --------------------------------------------------------------------


async def known_facts(turn: Turn, ctx: Context) -> FlowData:
    """What the contact told us before: the last lead's name and company, and the email and
    phone that are the contact's own identities."""
    facts = FlowData()
    for lead in await ctx.uow.leads.search(contact_id=turn.contact_id, limit=1):
        if lead.name:
            facts["name"] = lead.name
        if lead.company:
            facts["company"] = lead.company
    for identity in await ctx.uow.contacts.identities(turn.contact_id):
        field = lead_field(identity.channel) if identity.reachable else None
        if field in ("email", "phone") and field not in facts:
            facts[field] = identity.address
    return facts


def _facts_in(text: str, lang: str) -> FlowData:
    facts = FlowData()
    if email := find_email(text):
        facts["email"] = email
    if phone := find_phone(text, lang):
        facts["phone"] = phone
    return facts


def _apply_answer(step: str, turn: Turn, data: FlowData) -> str | None:
    """Store the answer to `step` in `data`; return a reply key when the answer won't do."""
    text = turn.text[:MAX_ANSWER]
    if step == "contact":
        return _apply_contact(turn, data)
    data.update(_facts_in(text, turn.lang))
    text = remove_contacts(text) if data.get("email") or data.get("phone") else text
    if step == "name":
        name = clean_name(text)
        if name is None:
            return "lead.bad_name"
        data["name"] = name
        return None
    if len(text) < 2 or not any(char.isalnum() for char in text):
        return "lead.too_short"
    if field := lead_field(step):
        data[field] = text[:200] if field != "need" else text
    return None


def _apply_contact(turn: Turn, data: FlowData) -> str | None:
    if turn.message.shared_phone:
        phone = find_phone(turn.message.shared_phone, turn.lang)
        if phone:
            data["phone"] = phone
            return None
    if any(item.kind == "contact" for item in turn.message.attachments):
        return "lead.contact_not_own"
    facts = _facts_in(turn.text[:MAX_ANSWER], turn.lang)
    if not facts:
        return "lead.bad_contact"
    data.update(facts)
    return None


def _forget(data: FlowData, field: str) -> FlowData:
    forgotten = data.copy()
    for name in ("email", "phone") if field == "contact" else (field,):
        if key := lead_field(name):
            forgotten.pop(key, None)
    return forgotten


def _next_step(data: FlowData) -> str | None:
    for step in STEPS:
        if step == "contact":
            if not (data.get("email") or data.get("phone")):
                return step
        elif step not in data:
            return step
    return None


# --- asking -------------------------------------------------------------------------------


def _ask_next(turn: Turn, ctx: Context, data: FlowData, prefix: str = "") -> Result:
    step = _next_step(data)
    lead_in = (Reply(ctx.say(prefix, turn.lang)),) if prefix else ()
    if step is None:
        return Result(
            replies=(*lead_in, _summary(turn, ctx, data)),
            state=flow_state(turn, "lead", "confirm", data),
        )
    question, data = _question(turn, ctx, step, data)
    return Result(replies=(*lead_in, question), state=flow_state(turn, "lead", step, data))


def _reask(turn: Turn, ctx: Context, step: str, data: FlowData, problem: str) -> Result:
    question, data = _question(turn, ctx, step, data)
    reply = Reply(ctx.say(problem, turn.lang))
    return Result(replies=(reply, question), state=flow_state(turn, "lead", step, data))


def _question(turn: Turn, ctx: Context, step: str, data: FlowData) -> tuple[Reply, FlowData]:
    lang = turn.lang
    options: tuple[QuickReply, ...] = ()
    if step in OPTIONAL_STEPS:
        options = (button(ctx, lang, "skip", "lead:skip"),)
    offered_name = _offerable_name(turn) if step == "name" else None
    if offered_name:
        data = {**data, "offered_name": offered_name}
        options = (button(ctx, lang, "use_name", "lead:use_name", name=offered_name),)
    reply = Reply(
        ctx.say(f"lead.ask_{step}", lang),
        options=options,
        contact_button=ctx.say("button.share_phone", lang) if step == "contact" else "",
    )
    return reply, data


def _offerable_name(turn: Turn) -> str | None:
    name = turn.message.sender.display_name.strip()
    return clean_name(name) if name and "@" not in name else None


def summary_lines(ctx: Context, lang: str, data: FlowData) -> list[str]:
    return [
        f"{ctx.say(f'lead.field.{name}', lang)}: {_shorten(str(data[name]))}"
        for name in SUMMARY_FIELDS
        if data.get(name)
    ]


def _summary(turn: Turn, ctx: Context, data: FlowData) -> Reply:
    lines = summary_lines(ctx, turn.lang, data)
    options = (
        button(ctx, turn.lang, "confirm", "lead:confirm"),
        button(ctx, turn.lang, "edit", "lead:edit"),
        button(ctx, turn.lang, "cancel", "cancel"),
    )
    return Reply(ctx.say("lead.summary", turn.lang, summary="\n".join(lines)), options=options)


def _which_field(turn: Turn, ctx: Context, data: FlowData) -> Result:
    options = tuple(
        button(ctx, turn.lang, f"edit_{name}", f"lead:edit:{name}") for name in EDITABLE
    )
    reply = Reply(ctx.say("lead.which_field", turn.lang), options=options)
    return Result(replies=(reply,), state=flow_state(turn, "lead", "confirm", data))


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- finishing ----------------------------------------------------------------------------


async def _confirm_or_correct(turn: Turn, ctx: Context, data: FlowData) -> Result:
    words = re.sub(r"[^\w\s]", " ", turn.text.casefold()).split()
    if words and len(words) <= 3 and words[0] in YES_WORDS:
        return await _save(turn, ctx, data)
    facts = _facts_in(turn.text, turn.lang)
    data.update(facts)
    return _ask_next(turn, ctx, data, prefix="" if facts else "lead.which_field")


async def _save(turn: Turn, ctx: Context, data: FlowData) -> Result:
    lead, events = await save_lead(turn, ctx, data)
    key = "lead.saved_waiting" if lead.status == WAITING else "lead.saved"
    reply = Reply(ctx.say(key, turn.lang, name=lead.name or ""))
    saved = Result(replies=(reply,), events=events, state=idle(turn))
    return await handoff.after_lead(turn, ctx, lead.score, saved)


async def save_lead(turn: Turn, ctx: Context, data: FlowData) -> tuple[NewLead, tuple[Event, ...]]:
    """Store the lead, update the contact, link the addresses given; the events to record.

    With no rep who could hear of it, the lead is saved as `waiting` (`lead_waiting`), so the
    team sees what nobody was told about, and the customer is promised no rep.
    """
    lead = _new_lead(turn, data)
    if not await someone_reachable(ctx):
        lead = replace(lead, status=WAITING)
    lead_id = await ctx.uow.leads.create(lead, turn.now)
    await ctx.uow.contacts.update_profile(turn.contact_id, name=lead.name, company=lead.company)
    details = {"lead_id": lead_id, "score": lead.score, "source": lead.source}
    events = [Event(Kind.LEAD_CAPTURED, details)]
    if lead.status == WAITING:
        events.append(Event(Kind.LEAD_WAITING, {"lead_id": lead_id}, Actor.SYSTEM))
    return lead, (*events, *await _link_identities(turn, ctx, lead))


def _new_lead(turn: Turn, data: FlowData) -> NewLead:
    return NewLead(
        contact_id=turn.contact_id,
        conversation_id=turn.conversation.id,
        need=without_controls(data.get("need", "")),
        name=_field(data.get("name")),
        company=_field(data.get("company")),
        email=_field(data.get("email")),
        phone=_field(data.get("phone")),
        budget=_field(data.get("budget")),
        timeline=_field(data.get("timeline")),
        source=_field(data.get("source")),
        score=score_lead(data),
    )


def _field(value: str | None) -> str | None:
    """A lead field as a rep reads it: control characters (ESC sequences, BEL) left out."""
    return without_controls(value) or None if value else None


async def _link_identities(turn: Turn, ctx: Context, lead: NewLead) -> list[Event]:
    """The email/phone typed become the contact's claims: kept with the contact (offered in the
    next lead), but never proof of who writes from them, nor taken from anyone else."""
    events: list[Event] = []
    for channel, address in (("email", lead.email), ("phone", lead.phone)):
        if not address:
            continue
        link = await ctx.uow.contacts.link(
            turn.contact_id, channel, address, turn.now, verified=False
        )
        if link.outcome == "conflict":
            await ctx.uow.contacts.record_conflict(
                turn.contact_id, link.owner_contact_id, channel, address, turn.now
            )
            details = {
                "channel": channel,
                "address": address,
                "owner_contact_id": link.owner_contact_id,
            }
            events.append(Event(Kind.IDENTITY_CONFLICT, details, Actor.SYSTEM))
    return events
