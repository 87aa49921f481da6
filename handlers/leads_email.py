"""Lead capture by email: the missing questions asked together, the answers read from one reply.

A mail conversation cannot afford one question per round trip. The first reply asks everything
still unknown in one numbered list; the customer's answer is read three ways — labelled lines
("Name: Anna"), numbered answers in the order asked, and the signature (name, company, phone) —
and the lead is saved as soon as what it needs is known (at most two rounds), with a summary the
customer can correct by replying. The reply address is the contact's email, known already.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.kinds import TouchpointKind as Kind
from bot.records import FlowData, LeadField, lead_field, with_answers
from bot.turn import Context, Event, Reply, Result, Turn
from handlers import handoff
from handlers.common import flow_state, idle
from handlers.contact_info import clean_name, find_email, find_phone, remove_contacts
from handlers.leads import WAITING, known_facts, save_lead, summary_lines
from handlers.signature import CLOSINGS, read_signature

FIELDS: tuple[LeadField, ...] = ("need", "name", "company", "budget", "timeline")
REQUIRED: tuple[LeadField, ...] = ("need", "name")
MAX_ROUNDS = 2
DESCRIPTIVE_WORDS = 6
LABELS: dict[LeadField, str] = {
    "need": r"need|request|looking for|interested in|product|нужно|запрос|интересует|потребность",
    "name": r"name|full name|contact person|имя|фио|контактное лицо|зовут",
    "company": r"company|organi[sz]ation|business|компания|организация|фирма",
    "budget": r"budget|price range|бюджет",
    "timeline": r"timeline|deadline|when|dates?|сроки?|когда|дата",
}
LABELLED = {
    field: re.compile(rf"^\s*(?:{pattern})\s*[:\-–—]\s*(.+)$", re.IGNORECASE | re.MULTILINE)
    for field, pattern in LABELS.items()
}
NUMBERED = re.compile(r"^\s*(\d{1,2})\s*[.)]\s*(.+)$", re.MULTILINE)


async def start(turn: Turn, ctx: Context, first_text: str) -> Result:
    data = await known_facts(turn, ctx)
    data = with_answers(data, read_answers(first_text, turn.lang, asked=()), keep=False)
    if "need" not in data and len(first_text.split()) >= DESCRIPTIVE_WORDS:
        data["need"] = _body(first_text)
    if source := turn.state.data.get("source"):
        data["source"] = source
    return await _ask_or_save(turn, ctx, data)


async def answer(turn: Turn, ctx: Context) -> Result:
    data = turn.state.data.copy()
    answers = read_answers(turn.text, turn.lang, asked=tuple(data.get("asked", ())))
    data = with_answers(data, answers, keep=True)
    return await _ask_or_save(turn, ctx, data)


def read_answers(text: str, lang: str, asked: tuple[str, ...]) -> dict[LeadField, str]:
    """Fields found in `text`: labelled lines first, then numbered answers, then the signature."""
    found: dict[LeadField, str] = {}
    for labelled, pattern in LABELLED.items():
        if match := pattern.search(text):
            found[labelled] = match.group(1).strip()[:500]
    for number, value in NUMBERED.findall(text):
        index = int(number) - 1
        numbered = lead_field(asked[index]) if 0 <= index < len(asked) else None
        if numbered:
            found.setdefault(numbered, value.strip()[:500])
    _add_signature(found, text, lang)
    _add_contacts(found, text, lang)
    if "name" in found:
        name = clean_name(found.pop("name"))
        if name:
            found["name"] = name
    return found


def _add_signature(found: dict[LeadField, str], text: str, lang: str) -> None:
    signed = read_signature(text, lang)
    field: LeadField
    for field, value in (
        ("name", signed.name),
        ("company", signed.company),
        ("phone", signed.phone),
    ):
        if value:
            found.setdefault(field, value)


def _add_contacts(found: dict[LeadField, str], text: str, lang: str) -> None:
    field: LeadField
    for field, value in (("email", find_email(text)), ("phone", find_phone(text, lang))):
        if value:
            found.setdefault(field, value)


def _body(text: str) -> str:
    """The request itself: the text before the sign-off, without contact details."""
    lines = text.strip().splitlines()
    end = next((i for i, line in enumerate(lines) if CLOSINGS.match(line)), len(lines))
    return remove_contacts("\n".join(lines[:end])).strip()[:2000] or text.strip()[:2000]


async def _ask_or_save(turn: Turn, ctx: Context, data: FlowData) -> Result:
    missing = [
        field for field in FIELDS if not data.get(field) and field not in data.get("asked", ())
    ]
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
    lead, events = await save_lead(turn, ctx, data)
    summary = "\n".join(summary_lines(ctx, turn.lang, data))
    key = "lead.email_saved_waiting" if lead.status == WAITING else "lead.email_saved"
    text = ctx.say(key, turn.lang, name=lead.name or "", summary=summary)
    asked_twice = Event(Kind.LEAD_INCOMPLETE, {"missing": [f for f in REQUIRED if not data.get(f)]})
    extra = (asked_twice,) if any(not data.get(f) for f in REQUIRED) else ()
    saved = Result(replies=(Reply(text),), events=(*events, *extra), state=idle(turn))
    return await handoff.after_lead(turn, ctx, lead.score, saved)
