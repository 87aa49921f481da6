"""Budgets and dates as people write them, in English and Russian.

A budget is an amount with a currency or a scale ("$20k", "9,000 euros", "300 тысяч рублей"),
an amount after the word "budget", a range ("5–8k", "от 100 до 150 тысяч"), or a statement that
there is none yet ("no fixed budget", "бюджет пока не определён"). A date is anchored on a month,
a season, a weekday, a span ("two weeks", "квартал") or an urgency word ("asap", "срочно"), with
the words that lead to it ("by the end of", "до конца", "before the trade fair in").
"""

from __future__ import annotations

import re

_I = re.IGNORECASE
_NUMBER = r"\d+(?:[ ,.]\d{3})*(?:[.,]\d+)?"
_SCALE = r"(?:k|к|тыс\.?|тысяч\w*|млн\.?|миллион\w*|million|mln|thousand|grand|m)(?![\w])"
_CURRENCY = (
    r"(?:euros?|eur|dollars?|usd|pounds?|gbp|bucks|rub(?:les?)?|рубл\w*|руб\.?|евро|"
    r"доллар\w*|фунт\w*|[€$£₽])"
)
_AMOUNT = rf"(?:[€$£₽]\s?)?{_NUMBER}\s?(?:{_SCALE})?\s?(?:{_CURRENCY})?"
_QUALIFIER = (
    r"(?:(?:around|about|roughly|approximately|approx\.?|up\s+to|under|below|max(?:imum)?|"
    r"at\s+most|no\s+more\s+than|between|from|some|около|примерно|до|не\s+более|не\s+больше|"
    r"в\s+районе|где-то|порядка|от|на)\s+){0,2}"
)
_PERIOD = r"(?:\s*(?:a|per|/)\s*(?:year|month|seat|user|unit)|\s+в\s+(?:год|месяц))?"
MONEY = re.compile(rf"{_QUALIFIER}{_AMOUNT}(?:\s*(?:-|–|—|to|and|до|и)\s*{_AMOUNT})?{_PERIOD}", _I)
BUDGET_WORD = re.compile(r"\b(?:budget|price\s+range|бюджет\w*)\b", _I)
NO_BUDGET = re.compile(
    r"(?:\bno\s+(?:fixed\s+|set\s+|real\s+|particular\s+)?budget(?:\s+yet)?\b|\bbudget\s+(?:is\s+)?(?:not\s+"
    r"(?:set|fixed|decided|defined)|tbd|open)|\bnot\s+(?:decided|defined|fixed|set)\s+yet\b|"
    r"\bdepends\s+on\s+(?:the\s+)?(?:price|offer|what\s+you\s+offer)|"
    r"бюджет\w*\s+(?:пока\s+)?(?:нет|не\s+определ\w*|не\s+знаю|не\s+решили|не\s+установлен\w*)|"
    r"без\s+бюджета|бюджета\s+(?:пока\s+)?нет|зависит\s+от\s+цены)",
    _I,
)

_MONTHS = (
    r"january|february|march|april|june|july|august|september|october|november|december|"
    r"jan|feb|apr|jun|jul|aug|sept?|oct|nov|dec|"
    r"(?:январ|феврал|апрел|июн|июл|сентябр|октябр|ноябр|декабр)(?:ь|я|е|ю|ем)|"
    r"(?:март|август)(?:а|е|у|ом)?|ма[йяею]"
)
_ANCHOR = (
    rf"(?:(?:mid|early|late|end)-)?(?:{_MONTHS})|spring|summer|autumn|fall|winter|"
    r"week(?:s|end)?|months?|quarter|year|days?|q[1-4]|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|christmas|holidays?|asap|urgent(?:ly)?|immediately|today|tomorrow|tonight|"
    r"as\s+soon\s+as\s+possible|right\s+away|no\s+(?:rush|hurry|deadline|particular\s+date)|"
    r"whenever|"
    r"(?:понедельник|вторник|четверг)(?:а|у|ом)?|сред[ауы]|(?:пятниц|суббот)[аыеу]|"
    r"воскресень[еяю]|весн(?:а|ы|е|ой|у)|лет[оау]|летом|осен(?:ь|и|ью)|зим(?:а|ы|е|ой|у)|"
    r"недел(?:я|и|ю|е|ь|ей|ям)|месяц(?:а|е|у|ев|ам)?|квартал(?:а|е|у|ов)?|году|года|"
    r"срочно|сегодня|завтра|побыстрее|как\s+можно\s+скорее|не\s+срочно|не\s+горит|"
    r"\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?"
)
_LEAD_WORD = (
    r"by|before|until|till|within|in|from|starting|after|the|end|of|next|this|early|mid|late|"
    r"start|beginning|a|an|one|two|three|four|five|six|couple|few|no|later|than|around|"
    r"до|к|ко|в|во|течение|через|с|со|после|начал\w*|конц\w*|середин\w*|следующ\w*|этом|"
    r"этой|этого|ближайш\w*|одн\w*|две|два|три|четыре|пару|нескольк\w*|не|позднее|позже|чем|"
    r"\d{1,4}(?:st|nd|rd|th|-?го)?"
)
TIMELINE = re.compile(
    rf"(?<![\w-])(?:(?:{_LEAD_WORD})\s+){{0,5}}(?:(?:{_ANCHOR})|(?:by|in|before|until|till|from|"
    rf"mid|early|late|of|\d{{1,2}}(?:st|nd|rd|th)?)[\s-]+may)(?![\w])(?:\s+\d{{1,4}}(?:st|nd|rd|th)?)?",
    _I,
)
NO_DEADLINE = re.compile(
    r"\b(?:no\s+(?:rush|hurry|deadline|particular\s+date|fixed\s+date)|not\s+urgent|whenever|"
    r"не\s+срочно|не\s+горит|сроки\s+не\s+\w+|без\s+срок\w*|когда\s+угодно)",
    _I,
)


def find_budget(text: str) -> str | None:
    """An amount (or a range, or "no budget yet") said as the budget, as written."""
    if none := NO_BUDGET.search(text):
        return none[0].strip()
    for match in MONEY.finditer(text):
        amount = match[0].strip(" ,.")
        if re.search(rf"{_SCALE}|{_CURRENCY}", amount, _I) or _after_budget_word(text, match):
            return amount
    return None


def _after_budget_word(text: str, match: re.Match[str]) -> bool:
    before = text[max(0, match.start() - 30) : match.start()]
    return bool(BUDGET_WORD.search(before)) and not TIMELINE.fullmatch(match[0].strip())


def find_timeline(text: str) -> str | None:
    """When it is needed, as written ("by 15 May", "до конца квартала", "asap")."""
    if none := NO_DEADLINE.search(text):
        return none[0].strip()
    spans = [match for match in TIMELINE.finditer(text) if _is_date(match[0])]
    if not spans:
        return None
    start, end = _from_preposition(text, spans[0].start()), spans[0].end()
    for following in spans[1:]:  # "ASAP, this month", "in May or June": one answer
        if not re.fullmatch(r"[\s,;/]*(?:(?:or|and|или|и|но)\s+)?", text[end : following.start()]):
            break
        end = following.end()
    return text[start:end].strip(" ,.")


_TIME_PREPOSITION = re.compile(
    r"(?<![\w-])(?:before|by|until|till|after|ahead\s+of|in\s+time\s+for|до|к|ко|после|перед)"
    r"\s+(?:[^\W\d_]+\s+){1,4}$",
    _I,
)


def _from_preposition(text: str, start: int) -> int:
    """Where a date said around an event starts: "before the trade fair in June" is found
    at "in June" and begins at "before"."""
    clause_start = max(text.rfind(mark, 0, start) for mark in ",.;!?\n") + 1
    found = _TIME_PREPOSITION.search(text, clause_start, start)
    return found.start() if found else start


def _is_date(span: str) -> bool:
    """Not a bare count ("3 days" is a date only with a word such as "in" or "within")."""
    return not re.fullmatch(r"(?:a|an|one|\d+)\s+(?:days?|weeks?|months?|years?)", span.strip(), _I)
