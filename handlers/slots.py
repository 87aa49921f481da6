"""Lead slots found in free text, in English and Russian: who writes, for which company, the
budget and the date (`handlers/budgets_and_dates.py`), and what they need.

Every finder looks for a phrase that says which slot a value fills ("my name is …", "I work
for …", "our budget is …", "by the end of April", "меня зовут …", "из компании …", "до конца
квартала") and returns the value alone, never the sentence around it. `read_slots` runs them
all over one message (an opener, an answer, a correction); `need_in` keeps of a message the
clauses that are left once every other slot and the small talk are taken out.
"""

from __future__ import annotations

import re

from bot.records import LeadField
from handlers.budgets_and_dates import find_budget, find_timeline
from handlers.contact_info import EMAIL_PATTERN, PHONE_PATTERN, find_email, find_phone

_I = re.IGNORECASE


def word_set(words: str) -> frozenset[str]:
    """A set of words written one after another (the catalogs of words below)."""
    return frozenset(words.split())


_CAP = r"[A-ZА-ЯЁ][a-zа-яё]+(?:['’-][A-Za-zА-Яа-яЁё]+)*"
_TITLE = r"(?:(?:Dr|Mr|Mrs|Ms|Prof)\.?[ \t]+)?"
_NAME = rf"{_TITLE}{_CAP}(?:[ \t]+{_CAP}){{0,3}}"
# Phrases that introduce the writer's name; "I'm with …" and "I'm from …" introduce a company.
NAME_PHRASE = (
    r"(?:my\s+name\s+is|my\s+name's|name\s+is|name's|name\s*:|i\s+am|i'm|this\s+is|it's|"
    r"it\s+is|call\s+me|меня\s+зовут|зовут\s+меня|зовут|моё\s+имя|мое\s+имя|имя\s*:|"
    r"я\s*[—–-]|я(?=\s)|это)"
)
_NAME_IN_TEXT = re.compile(
    rf"(?<![\w'’])(?i:{NAME_PHRASE})(?:\s+(?i:actually|на\s+самом\s+деле))?[\s,:]+(?P<name>{_NAME})"
)
# Capitalised words that follow "I'm", "this is", "это" and are not a name.
NOT_NAMES = word_set(
    """with from at in on for looking interested just here sorry not sure glad happy afraid
    writing calling contacting buying ready back fine good great ok okay the a an our my your
    urgent important possible about also still very really going trying planning hoping
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
    я мы вы вам вас вами ваш ваша ваше ваши он она это срочно очень просто тоже уже всё все
    здесь тут нужно нужны нужен интересно хотел хотела хотим"""
)

_COMPANY_END = (
    r"(?=\s*(?:[,;!?\n()]|(?<![\s.][A-ZА-ЯЁ])\.(?:\s|$)|\s[—–-]\s|"
    r"\s+(?:and|but|we|we're|who|which|и|но|мы|где)\b|$))"
)
_COMPANY_VALUE = rf"(?P<company>[^\s,;!?\n].*?){_COMPANY_END}"
COMPANY_PHRASE = (
    r"(?:i'm\s+with|i\s+am\s+with|we're\s+with|we\s+are\s+with|i\s+work\s+(?:for|at|in)|"
    r"we\s+work\s+(?:for|at)|on\s+behalf\s+of|(?:our|my|the)\s+company\s+is|company\s+name\s+is|"
    r"company\s*[:—–]|company\s+(?:should\s+be|to)|компания\s*[:—–]?|"
    r"(?:я|мы)?\s*(?:из|от)\s+(?:компании|фирмы|организации)|я\s+из|мы\s+из|"
    r"(?:работаю|работаем)\s+в(?:\s+(?:компании|фирме|организации))?|"
    r"представляю(?:\s+компанию)?|организация\s*[:—–]|фирма\s*[:—–])"
)
_COMPANY_IN_TEXT = re.compile(rf"(?<![\w'’])(?i:{COMPANY_PHRASE})\s+{_COMPANY_VALUE}")
# "Rachel Stone from Stone Architects", "Алексей из ООО «Ромашка»": a company after a name.
_COMPANY_AFTER_NAME = re.compile(
    rf"(?i:{NAME_PHRASE})[\s,:]+{_NAME},?\s+(?i:from|at|of|из|с)\s+(?P<company>[A-ZА-ЯЁ«\"].*?)"
    rf"{_COMPANY_END}"
)
COMPANY_FORM = re.compile(
    r"(?<!\w)(?:(?:ООО|ОАО|ЗАО|ПАО|АО|ИП|НИИ|ТК|ГК|ТОО)\s*[«\"][^»\"]+[»\"]|"
    rf"{_CAP}(?:[ \t]+{_CAP}){{0,3}}[ \t]+(?:Ltd|LLC|Inc|Corp|GmbH|AG|plc|BV|SA)\b\.?)"
)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that say nothing of what is wanted: greetings, request words, pronouns, and the words
# that name the other slots. What is left of a clause without them is a need.
FILLER = word_set(
    """hi hello hey dear good morning afternoon evening day there thanks thank you please
    i i'm im we we're us our my me you your it its it's this that these those them they is are
    am be was were been would could can will shall should may might do does did have has had
    a an the and or but so of for to in on at by with from about as just also too very really
    need needs want wants wanted like liked love looking look interested interest buy buying
    order ordering purchase get getting send sent offer quote quotation price prices pricing
    cost costs much many how what which when where who why some any something thing things
    stuff product products service services info information details know let tell us
    name company budget deadline date timeline email mail address phone number call reach
    contact write me at here is sure yes ok okay well so hope soon possible kind regards
    best actually sorry oops correction wait instead no not other different new change tel
    needed required delivered ideally nice meet glad pleasure reply respond answer
    здравствуйте привет добрый день утро вечер доброе спасибо пожалуйста подскажите
    я мы вы нам нас мне меня вас вам у для на по в во с со к и или но а о об от до из за
    это этот эта эти то та те так как что чем кто где когда какой какая какие какую ли же бы
    хочу хотим хотел хотела хотели хотелось хотелось бы нужно нужны нужен нужна надо
    интересует интересуют интересно купить заказать приобрести заказ покупка цена цену цены
    стоимость сколько стоит стоят предложение предложения коммерческое кп пришлите
    пришлите отправьте вышлите расскажите узнать можно могу можете есть будет
    зовут имя компания бюджет срок сроки почта почту адрес телефон номер звоните пишите
    связаться контакт свяжитесь ой точнее вернее самом деле исправьте другая другой другое
    новая новый да нет ок хорошо тел желательно необходимо бы приятно очень компании компанию
    ответьте отвечайте напишите фирма фирмы фирме организация организации бюджета бюджетом
    срока почты телефона номера"""
)
_CLAUSE = re.compile(r"[^.!?;\n,]+(?:,\d[^.!?;\n,]*)*[.!?;]*", re.UNICODE)
QUESTION_START = re.compile(
    r"^\s*(?:and\s+|but\s+|а\s+|и\s+|но\s+)?(?:what|how|when|where|why|which|who|do|does|did|"
    r"can|could|would|will|is|are|should|may|как|какой|какая|какие|каков\w*|сколько|когда|где|"
    r"почему|зачем|можно|есть\s+ли|а\s+вы|а\s+у\s+вас)\b",
    _I,
)


def is_question(text: str) -> bool:
    """A question of the customer's own: it asks ("?"), or starts as a question does."""
    stripped = text.strip()
    return "?" in stripped or (bool(QUESTION_START.match(stripped)) and len(stripped.split()) >= 4)


def find_name(text: str) -> str | None:
    """A name the writer gives as theirs: "I'm Anna Petrova", "меня зовут Иван"."""
    for match in _NAME_IN_TEXT.finditer(text):
        words = _name_words(match["name"])
        if words:
            return " ".join(words)
    return None


def _name_words(candidate: str) -> list[str]:
    words: list[str] = []
    for word in candidate.split():
        if word.casefold() in NOT_NAMES:
            break
        words.append(word)
    return words


def leading_identity(text: str) -> tuple[str | None, str | None]:
    """A message that opens as a signature line does: "Jack Turner, Turner Builders. Need …"
    (a name of two or three words, then maybe a company, before anything else)."""
    parts = re.split(r"[,.;\n](?:\s|$)|\s[—–-]\s", text.strip(), maxsplit=2)
    clauses = [clause.strip(" .") for clause in parts]
    if len(clauses) < 2 or not _is_bare_name(clauses[0]):
        return None, None
    second = clauses[1] if len(clauses) > 2 else ""
    company = second if second and _is_bare_company(second) else None
    return clauses[0], company


def _is_bare_name(clause: str) -> bool:
    words = clause.split()
    return 2 <= len(words) <= 3 and all(
        re.fullmatch(_CAP, word) and word.casefold() not in NOT_NAMES | FILLER for word in words
    )


def _is_bare_company(clause: str) -> bool:
    if COMPANY_FORM.fullmatch(clause):
        return True
    words = clause.split()
    return 1 <= len(words) <= 4 and all(word[0].isupper() for word in words)


def find_company(text: str) -> str | None:
    """A company the writer names as theirs: "I work for Globex", "из компании «Ромашка»"."""
    for pattern in (_COMPANY_AFTER_NAME, _COMPANY_IN_TEXT):
        for match in pattern.finditer(text):
            if company := clean_company(match["company"]):
                return company
    found = COMPANY_FORM.search(text)
    return clean_company(found[0]) if found else None


def clean_company(text: str) -> str | None:
    """A company name, or None when `text` is no such thing (an email, a sentence, nothing)."""
    company = re.sub(r"\s+", " ", text).strip(" ,;:!—–-")
    if not re.search(r"(?:\b[A-ZА-ЯЁ]|\b(?:Inc|Ltd|Co|Corp))\.$", company):
        company = company.rstrip(".")
    if not company or EMAIL_PATTERN.search(company) or not any(c.isalpha() for c in company):
        return None
    if len(company.split()) > 8 or len(company) > 120 or is_question(company):
        return None
    return company


def read_slots(text: str, lang: str) -> dict[LeadField, str]:
    """Every slot a message gives, each value alone (the need aside: see `need_in`)."""
    found: dict[LeadField, str] = {}
    budget = find_budget(text)
    rest = text.replace(budget, " ") if budget else text
    bare_name, bare_company = leading_identity(text)
    finds: tuple[tuple[LeadField, str | None], ...] = (
        ("name", find_name(text) or bare_name),
        ("company", find_company(text) or bare_company),
        ("email", find_email(text)),
        ("phone", find_phone(text, lang)),
        ("budget", budget),
        ("timeline", find_timeline(rest)),
    )
    for field, value in finds:
        if value:
            found[field] = value
    return found


def need_in(text: str, slots: dict[LeadField, str] | None = None) -> str:
    """The clauses of `text` that say what is wanted: without greetings and without the
    clauses that only carried another slot (a name, a company, contacts, budget, date)."""
    values = [value for value in (slots or {}).values() if value]
    kept = [clause.strip() for clause in _clauses(text) if has_content(_without(clause, values))]
    return " ".join(_sentence(clause) for clause in kept).strip().rstrip(",")


def _clauses(text: str) -> list[str]:
    cleaned = PHONE_PATTERN.sub(" ", EMAIL_PATTERN.sub(" ", text))
    return [match[0] for match in _CLAUSE.finditer(cleaned) if match[0].strip()]


def _without(clause: str, values: list[str]) -> str:
    for value in values:
        clause = re.sub(re.escape(value), " ", clause, flags=_I)
    return clause


def _sentence(clause: str) -> str:
    return clause if clause[-1] in ".!?;," else clause + ","


def has_content(text: str) -> bool:
    """Whether `text` says something beyond greetings, request words and slot names."""
    return any(
        word.isdigit() or (len(word) >= 3 and word.casefold() not in FILLER)
        for word in _WORD.findall(text)
    )
