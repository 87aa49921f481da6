"""Lead capture in chat: a short qualification flow that ends with a lead in status `new`.

Every message is read for every slot it gives (`handlers/slots.py`); only what is still
missing is asked, two slots at a time where they belong together (name and contact, budget
and date). Each answer is checked against its question (`handlers/slot_checks.py`): a
question of the customer's own is noted for the rep, a correction of another field is taken
and said back, a refusal cancels; the pending question is then asked again. The answers live
in the conversation's state (`data`), so a restart resumes at the same step; what the contact
told us before (`handlers/lead_saving.known_facts`) is not asked; the summary takes free-text
corrections and agreement in words or emojis.
"""

from __future__ import annotations

from dataclasses import replace

from bot.model import QuickReply
from bot.records import LEAD_FIELDS, FlowData, LeadField, lead_field, with_answers
from bot.turn import Context, Reply, Result, Turn
from handlers import handoff
from handlers.common import button, flow_state, idle, menu_reply
from handlers.contact_info import clean_name, find_phone, remove_contacts, without_controls
from handlers.lead_saving import WAITING, known_facts, save_lead
from handlers.signature import before_closing
from handlers.slot_checks import (
    QUESTION,
    REMARK,
    approves,
    check,
    declines,
    field_to_change,
    only_corrects,
)
from handlers.slots import is_question, need_in, read_slots

STEPS = ("need", "name_contact", "company", "budget_timeline")
OPTIONAL_STEPS = frozenset({"company", "budget_timeline", "budget", "timeline"})
SUMMARY_FIELDS = LEAD_FIELDS
EDITABLE = ("need", "name", "company", "contact", "budget", "timeline")
CONTACT_STEPS = frozenset({"contact", "name_contact"})
STEP_SLOTS: dict[str, set[LeadField]] = {  # the slots each question asks for
    "name": {"name"},
    "name_contact": {"name", "email", "phone"},
    "contact": {"email", "phone"},
    "company": {"company"},
    "budget_timeline": {"budget", "timeline"},
    "budget": {"budget"},
    "timeline": {"timeline"},
}
MAX_ANSWER = 2000
EARLIER_MESSAGES = 5  # the choice, the bot's greeting and menu, and the message before them


async def start(turn: Turn, ctx: Context, first_text: str = "") -> Result:
    """Begin the flow with what the first message already says: its need, and any name,
    company, contact, budget or date in it; only what is still missing is asked."""
    if declines(first_text):
        return Result(replies=(menu_reply(ctx, turn.lang, "no_offer"),), state=idle(turn))
    data = await known_facts(turn, ctx)
    text = without_controls((await opening_text(turn, ctx, first_text))[:MAX_ANSWER])
    said = read_slots(text, turn.lang)
    data = with_answers(data, said, keep=False)
    if need := need_in(text, said):
        data["need"] = need
    if source := turn.state.data.get("source"):
        data["source"] = source
    result = _ask_next(turn, ctx, data)
    if result.state is not None and result.state.step == "confirm":
        return result  # everything was in the first message: straight to the summary
    intro = Reply(ctx.say("lead.intro", turn.lang))
    return Result(replies=(intro, *result.replies), events=result.events, state=result.state)


async def answer(turn: Turn, ctx: Context) -> Result:
    """The customer's message while the flow waits at `turn.state.step`: the answer is checked
    against its slot; any other slot the message gives (a correction) is taken too."""
    step = turn.state.step or "need"
    data = turn.state.data.copy()
    if step == "confirm":
        return await _confirm_or_correct(turn, ctx, data)
    if step in CONTACT_STEPS and (shared := _shared_contact(turn, ctx, step, data)):
        return shared
    text = without_controls(turn.text[:MAX_ANSWER])
    if declines(text, strongly=step in OPTIONAL_STEPS):
        return _cancelled(turn, ctx)
    said = read_slots(text, turn.lang)
    if step == "need":
        return _take_need(turn, ctx, data, text, said)
    if said and not said.keys() & STEP_SLOTS[step] and only_corrects(text, said, turn.lang):
        return _corrected(turn, ctx, data, said)
    checked = check(step, text, said, turn.lang)
    if checked.values:
        data = with_answers(with_answers(data, said, keep=False), checked.values, keep=False)
        return _ask_next(turn, ctx, data)
    return _not_an_answer(turn, ctx, step, data, text, said, checked.problem or "")


def _cancelled(turn: Turn, ctx: Context) -> Result:
    """The customer declined the offer mid-way: nothing is saved, as with /cancel."""
    return Result(replies=(menu_reply(ctx, turn.lang, "cancelled"),), state=idle(turn))


async def press(turn: Turn, ctx: Context, action: str) -> Result:
    """A lead-flow button: skip, confirm, edit, edit:<field>, use_name."""
    data = turn.state.data.copy()
    step = turn.state.step or "need"
    if action == "skip" and step in OPTIONAL_STEPS:
        data = with_answers(data, dict.fromkeys(_slots_of(step), ""), keep=False)
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


async def opening_text(turn: Turn, ctx: Context, text: str) -> str:
    """The message a lead starts from: `text`, and when it names no need (the lead was started
    from the menu: "Get an offer"), the customer's message just before it (the request the menu
    answered) first."""
    if _names_a_need(text, turn.lang) or turn.text.startswith("/"):
        return text  # a command (/lead) starts afresh
    recent = await ctx.uow.messages.recent(turn.conversation.id, EARLIER_MESSAGES)
    inbound = [said for direction, said in recent if direction == "in"][:-1]
    earlier = inbound[-1] if inbound and not inbound[-1].startswith("/") else ""
    return f"{earlier}\n\n{text}".strip() if _names_a_need(earlier, turn.lang) else text


def _names_a_need(text: str, lang: str) -> bool:
    request = before_closing(text)
    return bool(request) and bool(need_in(request, read_slots(request, lang)))


def _slots_of(step: str) -> tuple[LeadField, ...]:
    if step == "budget_timeline":
        return ("budget", "timeline")
    field = lead_field(step)
    return (field,) if field else ()


def _take_need(
    turn: Turn, ctx: Context, data: FlowData, text: str, said: dict[LeadField, str]
) -> Result:
    need = (need_in(text, said) if said else "") or remove_contacts(text).strip()
    if len(need) < 2 or not any(char.isalnum() for char in need):
        return _reask(turn, ctx, "need", data, "lead.too_short")
    data = with_answers(data, said, keep=False)
    data["need"] = need
    return _ask_next(turn, ctx, data)


def _not_an_answer(
    turn: Turn,
    ctx: Context,
    step: str,
    data: FlowData,
    text: str,
    said: dict[LeadField, str],
    problem: str,
) -> Result:
    """A correction of another slot, a question of the customer's own, or an answer that does
    not fit: each gets its short reply, and the pending question is asked again."""
    if said and not is_question(text):
        return _corrected(turn, ctx, data, said)
    if problem in (QUESTION, REMARK):
        prefix = "lead.question_noted" if problem == QUESTION else "lead.remark_noted"
        return _ask_next(turn, ctx, _noted(data, text), prefix=prefix)
    return _reask(turn, ctx, step, data, problem)


def _corrected(turn: Turn, ctx: Context, data: FlowData, said: dict[LeadField, str]) -> Result:
    """Another field corrected: taken, said back, and the pending question asked again."""
    data = with_answers(data, said, keep=False)
    return _ask_next(turn, ctx, data, note=_updated(ctx, turn.lang, said))


def _noted(data: FlowData, question: str) -> FlowData:
    """`data` with the customer's question kept for the rep."""
    return {**data, "questions": [*data.get("questions", []), question.strip()[:500]]}


def _updated(ctx: Context, lang: str, said: dict[LeadField, str]) -> str:
    changes = "; ".join(
        f"{ctx.say(f'lead.field.{name}', lang)}: {value}" for name, value in said.items() if value
    )
    return ctx.say("lead.updated", lang, changes=changes)


def _shared_contact(turn: Turn, ctx: Context, step: str, data: FlowData) -> Result | None:
    """The customer's own phone shared with the channel's button is taken; someone else's card
    is refused; None when the message shares no contact."""
    if turn.message.shared_phone:
        phone = find_phone(turn.message.shared_phone, turn.lang)
        if phone:
            return _ask_next(turn, ctx, {**data, "phone": phone})
    if any(item.kind == "contact" for item in turn.message.attachments):
        return _reask(turn, ctx, step, data, "lead.contact_not_own")
    return None


def _forget(data: FlowData, field: str) -> FlowData:
    forgotten = data.copy()
    for name in ("email", "phone") if field == "contact" else (field,):
        if key := lead_field(name):
            forgotten.pop(key, None)
    return forgotten


def _next_step(data: FlowData) -> str | None:
    """The next question: the need; name and contact together (or whichever is missing); the
    company; budget and date together (or whichever is missing); None: the summary."""
    if "need" not in data:
        return "need"
    reachable = bool(data.get("email") or data.get("phone"))
    if "name" not in data:
        return "name" if reachable else "name_contact"
    if not reachable:
        return "contact"
    if "company" not in data:
        return "company"
    missing = [slot for slot in ("budget", "timeline") if slot not in data]
    if len(missing) == 2:
        return "budget_timeline"
    return missing[0] if missing else None


# --- asking -------------------------------------------------------------------------------


def _ask_next(turn: Turn, ctx: Context, data: FlowData, prefix: str = "", note: str = "") -> Result:
    step = _next_step(data)
    if step == "name_contact" and _offerable_name(turn):
        step = "name"  # the channel's name is offered as a button: one tap, then the contact
    said = note or (ctx.say(prefix, turn.lang) if prefix else "")
    lead_in = (Reply(said),) if said else ()
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
        contact_button=ctx.say("button.share_phone", lang) if step in CONTACT_STEPS else "",
    )
    return reply, data


def _offerable_name(turn: Turn) -> str | None:
    name = turn.message.sender.display_name.strip()
    return clean_name(name) if name and "@" not in name else None


def summary_lines(ctx: Context, lang: str, data: FlowData) -> list[str]:
    lines = [
        f"{ctx.say(f'lead.field.{name}', lang)}: {_shorten(str(data[name]))}"
        for name in SUMMARY_FIELDS
        if data.get(name)
    ]
    if questions := data.get("questions"):
        lines.append(f"{ctx.say('lead.field.questions', lang)}: {_shorten(' '.join(questions))}")
    return lines


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
    """At the summary: a correction is taken and the summary shown again; an agreement ("yes",
    "looks good", "👍") saves; a question is noted; anything else asks what to change."""
    text = without_controls(turn.text[:MAX_ANSWER])
    if declines(text):
        return _cancelled(turn, ctx)
    said = read_slots(text, turn.lang)
    if said and not is_question(text):
        data = with_answers(data, said, keep=False)
        return _ask_next(turn, ctx, data)
    if approves(text):
        return await _save(turn, ctx, data)
    if is_question(text):
        return _ask_next(turn, ctx, _noted(data, text), prefix="lead.question_noted")
    if field := field_to_change(text):
        return _ask_next(turn, ctx, _forget(data, field))  # "the name is wrong": ask it again
    return _which_field(turn, ctx, data)


async def _save(turn: Turn, ctx: Context, data: FlowData) -> Result:
    saved = await save_lead(turn, ctx, data)
    lead = saved.lead
    key = "lead.saved_waiting" if lead.status == WAITING else "lead.saved"
    if saved.extended:
        key = "lead.extended"
    text = ctx.say(key, turn.lang, name=lead.name or "", number=lead.id, promise=saved.promise)
    result = replace(saved.result, replies=(Reply(text),), state=idle(turn))
    return await handoff.after_lead(turn, ctx, lead.score, result)
