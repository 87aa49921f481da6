"""Whether an answer fits the slot it was asked for, in English and Russian.

A name is a few words that can be a name, not a question or a sentence; a company is not an
email, nor a sentence about an order or a problem; a budget holds a number, a range or "no
budget"; a date holds a moment or "no rush".
`check` says what an answer to a lead question fills, or why it does not (`QUESTION`: the
customer asked something of their own instead of answering; `REMARK`: told of a matter of
their own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.records import LeadField
from handlers.contact_info import EMAIL_PATTERN, PHONE_PATTERN, find_email, find_phone
from handlers.service import order_numbers
from handlers.slots import (
    FILLER,
    NOT_NAMES,
    clean_company,
    find_company,
    find_name,
    has_content,
    is_question,
    word_set,
)

QUESTION = "question"
REMARK = "remark"  # a matter of the customer's own ("my order has not arrived"), not an answer
_I = re.IGNORECASE
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['’.-][^\W\d_]+)*\.?$", re.UNICODE)
PRIVATE = re.compile(
    r"\b(?:no\s+company|not\s+(?:for|with|from)\s+a\s+company|private(?:ly)?|personal(?:ly)?|"
    r"(?:do|does)\s*(?:not|n['’]?t)\s+have\s+(?:a\s+)?company|не\s+(?:от|из|представляю)\s+компани\w*|"
    r"for\s+(?:myself|me|my\s+(?:home|family|garden|house|flat))|just\s+me|individual|"
    r"none|n/a|nope|no|частн\w+(?:\s+лиц\w*)?|для\s+себя|без\s+(?:всякой\s+)?компании|"
    r"компании\s+нет|нет\s+компании|физ\.?\s*лиц\w*|лично|нет)\b",
    _I,
)
_COMPANY_PREFIX = re.compile(
    r"^(?:it's|it\s+is|we're|we\s+are|our\s+company\s+is|the\s+company\s+is|company\s*[:—–-]?|"
    r"from|это|мы|компания\s*[:—–-]?)\s+",
    _I,
)
NOTHING = re.compile(
    r"^\s*(?:no|nope|not\s+(?:yet|really|sure)|no\s+idea|don'?t\s+know|dunno|skip|pass|"
    r"нет|пока\s+нет|не\s+знаю|пропустить|пропусти|без\s+понятия)\b",
    _I,
)
DECLINES = re.compile(
    r"(?:\bnot\s+(?:buying|interested|ordering)|\b(?:just|only)\s+(?:looking|browsing|comparing)|"
    r"\bdon'?t\s+(?:open|create|register)\s+(?:anything|a\s+request|an?\s+order)|"
    r"(?:просто|только|пока)\s+(?:смотрю|сравниваем|сравниваю|присматриваюсь)|"
    r"ничего\s+не\s+оформляйте|ничего\s+покупать\s+не\s+буду|\bchanged\s+(?:my|our)\s+minds?|\bnever\s*mind\b|\bforget\s+it\b|"
    r"^\s*cancel\b|\bcancel\s+(?:it|that|this|the\s+request)|\bdon'?t\s+want\s+(?:to\s+buy|"
    r"anything|an?\s+offer)|не\s+хочу\s+(?:ничего\s+)?(?:покупать|заказывать)|ничего\s+не\s+"
    r"(?:покупаю|заказываю|нужно)|просто\s+смотрю|передумал\w*|^\s*отмен\w*|забудьте|"
    r"не\s+интересно|уже\s+не\s+нужно)",
    _I,
)
# What a name never says: a negated verb ("has not arrived", "не пришёл") or something gone
# wrong. With an order's number, a sentence like this tells of a matter of its own.
_MATTER = re.compile(
    r"\b(?:has|have|had|is|was|were|did|does|do)\s+not\b|\b[a-z]+n['’]t\b|"
    r"(?<!\w)не\s+[^\W\d_]+(?:л|ла|ло|ли|ет|ит|ут|ют|ат|ят|ется|ится)\b|"
    r"\b(?:broken|damaged|missing|faulty|defective|refund\w*|complain\w*|сломан\w*|"
    r"разбит\w*|поврежд\w*|брак\w*|возврат\w*|жалоб\w*)\b",
    _I,
)
POLITE_NO = re.compile(r"^\s*(?:no,?\s+thanks?|no\s+thank\s+you|нет,?\s+спасибо)\b", _I)
APPROVING = word_set(
    """yes y yep yeah yup ok okay sure confirm confirmed correct send right fine good great
    perfect ahead lgtm exactly absolutely agreed
    да ок окей ага верно отправить отправляй отправляйте подтверждаю правильно конечно так
    отлично хорошо супер годится подходит точно"""
)
DISAPPROVING = word_set(
    """no not wrong incorrect change fix mistake error wait nope
    нет не неверно неправильно исправить исправьте ошибка измените подождите"""
)
APPROVING_SIGNS = frozenset("👍👌✅✔☑🙂😊😀😃👏🙏❤💯🆗✨🤝🔥")
DISAPPROVING_SIGNS = frozenset("👎❌✖🚫")


@dataclass(frozen=True, slots=True)
class Checked:
    """What an answer fills (`values`), or why it cannot (`problem`: a reply key or QUESTION)."""

    values: dict[LeadField, str] = field(default_factory=dict)
    problem: str | None = None


def check(step: str, text: str, said: dict[LeadField, str], lang: str) -> Checked:
    """The answer `text` to the question for `step`, given the slots `said` found in it."""
    if step == "name":
        return _one("name", said.get("name") or name_answer(text), text, "lead.bad_name")
    if step == "company":
        return company_answer(text, said)
    if step == "contact":
        return _contacts(text, said)
    if step == "name_contact":
        return _name_and_contacts(text, said)
    if step in ("budget_timeline", "budget", "timeline"):
        return dates_and_money(step, text, said)
    return Checked()


def _one(slot: LeadField, value: str | None, text: str, problem: str) -> Checked:
    if value:
        return Checked({slot: value})
    return Checked(problem=QUESTION if is_question(text) else problem)


INTERJECTIONS = word_set(
    """hm hmm um uh er well oh ah ok okay so yes no sure hi hello hey thanks right
    ну да нет ой ага так привет здравствуйте спасибо хм ок"""
)


_NAME_CLAUSE_END = re.compile(r"[,;!—–]|(?<!Dr)(?<!Mr)(?<!Ms)(?<!Mrs)\.(?:\s|$)")
_SELF_INTRODUCED = re.compile(r"\s+(?:here|speaking|on\s+the\s+line|на\s+связи)$", _I)


def name_answer(text: str) -> str | None:
    """A name given alone or in a short sentence ("Sure, it's Tom", "Анна, очень приятно")."""
    if is_question(text):
        return None
    if found := find_name(text):
        return found
    clauses = _NAME_CLAUSE_END.split(text.strip(), maxsplit=1)
    first = _SELF_INTRODUCED.sub("", clauses[0].strip()).strip()
    words = first.split()
    if not 1 <= len(words) <= 4 or len(first) > 100:
        return None
    if any(w.casefold() in NOT_NAMES | INTERJECTIONS or not _NAME_WORD.match(w) for w in words):
        return None
    return first if first[0].isupper() else first.title()


def company_answer(text: str, said: dict[LeadField, str]) -> Checked:
    """A company name; "" for a private buyer; never an email or a question."""
    if company := said.get("company") or find_company(text):
        return Checked({"company": company})
    first = re.split(r"[,;!]|(?<![\s.][A-ZА-ЯЁ])\.(?:\s|$)", text.strip(), maxsplit=1)[0].strip()
    if PRIVATE.search(text) and not any(c.isupper() for c in first[1:]):
        return Checked({"company": ""})
    if is_question(text):
        return Checked(problem=QUESTION)
    if tells_of_a_matter(text):
        return Checked(problem=REMARK)
    bare = _COMPANY_PREFIX.sub("", PHONE_PATTERN.sub(" ", EMAIL_PATTERN.sub(" ", first)).strip())
    if (company := clean_company(bare)) and not _says_nothing(company):
        return Checked({"company": company})
    return Checked(problem="lead.bad_company")


def tells_of_a_matter(text: str) -> bool:
    """Whether an answer is a sentence about something else: an order by its number, a negated
    verb, something broken or missing ("my order 5531 has not arrived", "заказ 5531 не
    пришёл"). A name is a few words that say none of this."""
    return bool(order_numbers(text) or _MATTER.search(text))


def _says_nothing(answer: str) -> bool:
    """ "great", "ok thanks": words of the conversation, not a name of anything."""
    words = re.findall(r"[^\W_]+", answer.casefold())
    return all(word in APPROVING or word in INTERJECTIONS or word in FILLER for word in words)


def _contacts(text: str, said: dict[LeadField, str]) -> Checked:
    values: dict[LeadField, str] = {slot: said[slot] for slot in ("email", "phone") if slot in said}
    if values:
        return Checked(values)
    return Checked(problem=QUESTION if is_question(text) else "lead.bad_contact")


def _name_and_contacts(text: str, said: dict[LeadField, str]) -> Checked:
    """A name and a contact from one answer ("Anna Petrova, anna@example.org"); either may be
    missing (it is asked next)."""
    contacts = _contacts(text, said).values
    bare = PHONE_PATTERN.sub(" ", EMAIL_PATTERN.sub(" ", text)).strip(" ,;:")
    name = said.get("name") or (name_answer(bare) if bare else None)
    values = dict(contacts)
    if name:
        values["name"] = name
    if values:
        return Checked(values)
    return Checked(problem=QUESTION if is_question(text) else "lead.bad_name_contact")


def dates_and_money(step: str, text: str, said: dict[LeadField, str]) -> Checked:
    """Budget and/or date from one answer; an answer that gives one leaves the other empty
    when both were asked; "no", "don't know" and the like give neither."""
    asked: tuple[LeadField, ...] = (
        ("budget", "timeline") if step == "budget_timeline" else (step,)  # type: ignore[assignment]
    )
    values = {slot: said[slot] for slot in asked if said.get(slot)}
    if values:
        return Checked({slot: values.get(slot, "") for slot in asked})
    if is_question(text):
        return Checked(problem=QUESTION)
    if NOTHING.match(text):
        return Checked(dict.fromkeys(asked, ""))
    if step == "timeline" and has_content(text) and not find_email(text):
        return Checked({"timeline": text.strip()[:200]})
    return Checked(problem=f"lead.bad_{step}")


def only_corrects(text: str, said: dict[LeadField, str], lang: str) -> bool:
    """Whether `text` does no more than give the slots in `said` ("actually my email is …")."""
    rest = text
    for value in (*said.values(), find_email(text) or "", find_phone(text, lang) or ""):
        if value:
            rest = re.sub(re.escape(value), " ", rest, flags=_I)
    rest = PHONE_PATTERN.sub(" ", EMAIL_PATTERN.sub(" ", rest))
    return bool(said) and not has_content(rest)


FIELD_WORDS: dict[str, re.Pattern[str]] = {
    field: re.compile(rf"\b(?:{words})\b", _I)
    for field, words in {
        "need": r"need|request|order|запрос\w*|заказ\w*|потребност\w*",
        "name": r"name|имя|имени|фио",
        "company": r"company|organi[sz]ation|компани\w*|организаци\w*|фирм\w*",
        "contact": r"e-?mail|mail|phone|number|contact|почт\w*|телефон\w*|номер\w*|контакт\w*",
        "budget": r"budget|price|бюджет\w*|сумм\w*",
        "timeline": r"date|deadline|timeline|when|срок\w*|дат\w*|когда",
    }.items()
}


def field_to_change(text: str) -> str | None:
    """The one field a request to change names ("the company is wrong", "исправьте имя")."""
    named = [field for field, words in FIELD_WORDS.items() if words.search(text)]
    return named[0] if len(named) == 1 else None


def declines(text: str, *, strongly: bool = False) -> bool:
    """Whether the customer says they want no offer ("just looking", "передумали"); with
    `strongly`, a polite "no thanks" is not enough (it answers an optional question)."""
    return bool(DECLINES.search(text)) or (not strongly and bool(POLITE_NO.match(text)))


def approves(text: str) -> bool:
    """Whether a reply to the summary agrees: "yes", "looks great, go ahead", "да", "👍"."""
    if any(sign in text for sign in DISAPPROVING_SIGNS):
        return False
    words = re.findall(r"[^\W_]+", text.casefold())
    if any(word in DISAPPROVING for word in words):
        return False
    if any(sign in text for sign in APPROVING_SIGNS):
        return True
    if not words:
        return bool(text.strip())  # only signs and emojis, none of them a "no"
    return len(words) <= 8 and any(word in APPROVING for word in words)
