"""Lead capture by email: the missing questions asked together, the answers read from one reply.

A mail conversation cannot afford one question per round trip. The first reply asks everything
still unknown in one numbered list; the customer's answer is read every way people write one —
labelled lines ("Name: Anna"), numbered answers in the order asked, answers written under each
quoted question, sentences ("My name is …, I work for …, our budget is about …") and the
signature (name, company, phone) — each value checked against its slot. The lead is saved as
soon as what it needs is known (at most two rounds), with a summary the customer can correct
by replying: a later answer in the thread completes or corrects that lead, never a new one.
The reply address is the contact's email, known already; an address typed in the mail, or
"use my own address", changes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import FlowData, LeadField, lead_field, with_answers
from bot.texts import LANGUAGES
from bot.turn import Context, Event, Reply, Result, Turn
from handlers import handoff
from handlers.common import flow_state, idle, menu_reply
from handlers.contact_info import find_email
from handlers.lead_saving import WAITING, amend_lead, known_facts, save_lead
from handlers.leads import opening_text, summary_lines
from handlers.signature import before_closing, read_signature
from handlers.slot_checks import company_answer, declines, name_answer
from handlers.slots import has_content, need_in, read_slots

FIELDS: tuple[LeadField, ...] = ("need", "name", "company", "budget", "timeline")
REQUIRED: tuple[LeadField, ...] = ("need", "name")
MAX_ROUNDS = 2
LABELS: dict[LeadField, str] = {
    "need": r"need|request|looking for|interested in|product|нужно|запрос|интересует|потребность",
    "name": r"name|full name|contact person|имя|фио|контактное лицо|зовут",
    "company": r"company|organi[sz]ation|business|компания|организация|фирма",
    "budget": r"budget|price range|бюджет",
    "timeline": r"timeline|deadline|due date|delivery date|by when|when|dates?|сроки?|когда|дата",
}
LABELLED = {
    field: re.compile(rf"^\s*(?:{pattern})\s*[:\-–—]\s*(.+)$", re.IGNORECASE | re.MULTILINE)
    for field, pattern in LABELS.items()
}
NUMBERED = re.compile(r"^\s*(\d{1,2})\s*[.)]\s*(.+)$", re.MULTILINE)
QUOTED = re.compile(r"^\s*>+\s?(.*)$")
OWN_ADDRESS = re.compile(
    r"\b(?:(?:use|reply\s+to|write\s+to|answer\s+to)\s+(?:my\s+own|this|the\s+sender'?s?|my)\s+"
    r"(?:e-?mail\s+)?address|(?:пишите|отвечайте)\s+(?:на\s+)?(?:мой|этот|этот\s+же)\s+адрес)",
    re.IGNORECASE,
)


async def start(turn: Turn, ctx: Context, first_text: str) -> Result:
    if declines(before_closing(first_text)):
        return Result(replies=(menu_reply(ctx, turn.lang, "no_offer"),), state=idle(turn))
    text = await opening_text(turn, ctx, first_text)
    data = await known_facts(turn, ctx)
    data = with_answers(data, _signed(text, turn.lang), keep=False)
    data = with_answers(data, read_answers(text, turn.lang, asked=()), keep=False)
    if "need" not in data and (need := need_in(before_closing(text), read_slots(text, turn.lang))):
        data["need"] = need[:2000]
    if source := turn.state.data.get("source"):
        data["source"] = source
    return await _ask_or_save(turn, ctx, data)


async def answer(turn: Turn, ctx: Context) -> Result:
    data = turn.state.data.copy()
    if "lead_id" not in data and declines(before_closing(turn.text)):
        return Result(replies=(menu_reply(ctx, turn.lang, "cancelled"),), state=idle(turn))
    asked = tuple(data.get("asked", ()))
    answers = read_answers(turn.text, turn.lang, asked, _questions(ctx, asked))
    if OWN_ADDRESS.search(turn.text) and "email" not in answers:
        answers["email"] = turn.conversation.address
    signed = _signed(turn.text, turn.lang)
    data = with_answers(with_answers(data, answers, keep=False), signed, keep=True)
    if lead_id := data.get("lead_id"):
        return await _amend(turn, ctx, lead_id, data, noted=not answers)
    return await _ask_or_save(turn, ctx, data)


def read_answers(
    text: str, lang: str, asked: tuple[str, ...], questions: dict[str, LeadField] | None = None
) -> dict[LeadField, str]:
    """Fields found in `text`: labelled lines first, then answers under quoted questions,
    numbered answers, sentences, and contacts; each value checked against its field."""
    found: dict[LeadField, str] = {}
    for labelled, pattern in LABELLED.items():
        if match := pattern.search(text):
            found[labelled] = match.group(1).strip()[:500]
    for field, value in _under_quotes(text, asked, questions or {}).items():
        found.setdefault(field, value)
    for number, value in NUMBERED.findall(text):
        index = int(number) - 1
        numbered = lead_field(asked[index]) if 0 <= index < len(asked) else None
        if numbered:
            found.setdefault(numbered, value.strip()[:500])
    for field, value in read_slots(_unquoted(text), lang).items():
        found.setdefault(field, value)
    return _checked(found)


def _checked(found: dict[LeadField, str]) -> dict[LeadField, str]:
    """The values that fit their field: a name that can be a name, a company that is not an
    email ("" for a private buyer)."""
    checked = dict(found)
    if "name" in checked:
        name = name_answer(checked.pop("name"))
        if name:
            checked["name"] = name
    if "company" in checked:
        company = company_answer(checked.pop("company"), {})
        checked.update(company.values)
    if email := find_email(checked.get("email", "")):
        checked["email"] = email
    return checked


def _signed(text: str, lang: str) -> dict[LeadField, str]:
    signed = read_signature(text, lang)
    found: dict[LeadField, str] = {}
    field: LeadField
    for field, value in (("name", signed.name), ("company", signed.company)):
        if value:
            found[field] = value
    if signed.phone:
        found["phone"] = signed.phone
    return found


def _questions(ctx: Context, asked: Sequence[str]) -> dict[str, LeadField]:
    """Our questions of the last form, as they read quoted, in either language."""
    return {
        _squeeze(ctx.say(f"lead.email_question.{name}", lang)): field
        for name in asked
        if (field := lead_field(name))
        for lang in LANGUAGES
    }


def _under_quotes(
    text: str, asked: tuple[str, ...], questions: dict[str, LeadField]
) -> dict[LeadField, str]:
    """Answers written between the quoted questions: the lines under a quoted question answer
    it; the lines above the first one answer the question before it (its quote went with the
    attribution line). Lines under quoted text that is not a question answer nothing."""
    answers: dict[LeadField, list[str]] = {}
    current: LeadField | None = None
    before: list[str] = []
    seen = False
    for line in text.splitlines():
        if quoted := QUOTED.match(line):
            asks = questions.get(_squeeze(re.sub(r"^\s*\d{1,2}\s*[.)]\s*", "", quoted[1])))
            if asks and not seen and (earlier := _before(asks, asked)) and before:
                answers[earlier] = before
            seen = seen or asks is not None
            current = asks
        elif line.strip() and current:
            answers.setdefault(current, []).append(line.strip())
        elif line.strip() and not seen:
            before.append(line.strip())
    return {field: " ".join(lines)[:500] for field, lines in answers.items() if lines}


def _before(first: LeadField, asked: tuple[str, ...]) -> LeadField | None:
    index = asked.index(first) if first in asked else 0
    return lead_field(asked[index - 1]) if index > 0 else None


def _unquoted(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not QUOTED.match(line))


def _squeeze(text: str) -> str:
    return " ".join(text.split()).casefold()


async def _ask_or_save(turn: Turn, ctx: Context, data: FlowData) -> Result:
    asked = data.get("asked", ())
    missing = [field for field in FIELDS if field not in data and field not in asked]
    required_missing = [field for field in REQUIRED if not data.get(field)]
    rounds = int(data.get("rounds", 0))
    if required_missing and rounds < MAX_ROUNDS:
        return _ask(turn, ctx, data, missing or required_missing, rounds)
    return await _save(turn, ctx, data)


def _ask(
    turn: Turn, ctx: Context, data: FlowData, fields: Sequence[LeadField], rounds: int
) -> Result:
    questions = "\n".join(
        f"{number}. {ctx.say(f'lead.email_question.{field}', turn.lang)}"
        for number, field in enumerate(fields, start=1)
    )
    reply = Reply(ctx.say("lead.email_form", turn.lang, questions=questions))
    state_data: FlowData = {**data, "asked": list(fields), "rounds": rounds + 1}
    return Result(replies=(reply,), state=flow_state(turn, "lead", "email_form", state_data))


async def _save(turn: Turn, ctx: Context, data: FlowData) -> Result:
    """Save the lead and say what was noted; the thread stays with the lead, so an answer to
    this mail completes or corrects it."""
    saved = await save_lead(turn, ctx, data)
    lead = saved.lead
    summary = "\n".join(summary_lines(ctx, turn.lang, data))
    key = "lead.email_saved_waiting" if lead.status == WAITING else "lead.email_saved"
    if saved.extended:
        key = "lead.email_extended"
    text = ctx.say(
        key,
        turn.lang,
        name=lead.name or "",
        summary=summary,
        number=lead.id,
        promise=saved.promise,
    )
    unanswered = [f for f in REQUIRED if not data.get(f)]
    extra = (Event(Kind.LEAD_INCOMPLETE, {"missing": unanswered}),) if unanswered else ()
    # An answer in this thread completes the lead saved here; one that only extended an older
    # lead keeps adding notes to it instead of rewriting it.
    kept: FlowData = _kept(data) if saved.extended else {**_kept(data), "lead_id": lead.id}
    state = flow_state(turn, "lead", "email_form", kept)
    result = Result(
        replies=(Reply(text),),
        events=(*saved.result.events, *extra),
        notices=saved.result.notices,
        state=state,
    )
    return await handoff.after_lead(turn, ctx, lead.score, result)


def _kept(data: FlowData) -> FlowData:
    kept = data.copy()
    kept.pop("asked", None)
    kept.pop("rounds", None)
    return kept


async def _amend(turn: Turn, ctx: Context, lead_id: int, data: FlowData, *, noted: bool) -> Result:
    """A mail in the thread of a saved lead: its answers complete or correct the lead; words
    that answer nothing are added to the request for the rep; a bare "thank you" is thanked."""
    words = before_closing(turn.text, whole_if_empty=False)
    if noted and not has_content(words):
        return Result(replies=(Reply(ctx.say("thanks", turn.lang)),))
    if noted:
        data = {**data, "questions": [*data.get("questions", []), words[:1000]]}
    lead = await amend_lead(turn, ctx, lead_id, data)
    summary = "\n".join(summary_lines(ctx, turn.lang, data))
    key = "lead.email_noted" if noted else "lead.email_updated"
    text = ctx.say(key, turn.lang, name=lead.name or "", summary=summary)
    amended = Event(Kind.LEAD_AMENDED, {"lead_id": lead_id, "noted": noted}, Actor.CUSTOMER)
    return Result(
        replies=(Reply(text),),
        events=(amended,),
        state=flow_state(turn, "lead", "email_form", data),
    )
