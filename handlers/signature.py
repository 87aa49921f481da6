"""What a mail's sign-off tells about its writer: a name, a company, a phone number.

Email customers rarely answer "what is your name?" — their signature already does. The block
after a closing ("Best regards,", "С уважением,", "-- ") is read line by line: the first line
that looks like a person's name is the name, a line with a company form (Ltd, GmbH, ООО...) or
the line right after the name that is neither a title nor contact details is the company, and
any phone number in the block is the phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.contact_info import EMAIL_PATTERN, find_phone

CLOSINGS = re.compile(
    r"^\s*(?:--\s*|—\s*|best regards|kind regards|regards|best wishes|best|cheers|thanks|"
    r"thank you|many thanks|sincerely|yours sincerely|yours truly|с уважением|"
    r"с наилучшими пожеланиями|всего доброго|всего наилучшего|спасибо|благодарю|заранее спасибо)"
    r"[\s,.!]*$",
    re.IGNORECASE,
)
COMPANY_FORMS = re.compile(
    r"\b(?:ltd|llc|inc|corp|corporation|gmbh|ag|plc|s\.?a\.?|b\.?v\.?|company|co\.|"
    r"ооо|оао|зао|пао|ао|ип)\b|«[^»]+»|\"[^\"]+\"",
    re.IGNORECASE,
)
TITLES = re.compile(
    r"\b(?:manager|director|head|ceo|cto|cfo|founder|owner|engineer|assistant|officer|lead|"
    r"менеджер|директор|руководитель|начальник|инженер|специалист|помощник|бухгалтер)\b",
    re.IGNORECASE,
)
NAME_WORD = re.compile(r"^[A-ZА-ЯЁ][a-zа-яё'’-]+\.?$")
MOBILE_FOOTERS = re.compile(r"^(?:sent from|отправлено (?:с|из))\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Signed:
    name: str | None = None
    company: str | None = None
    phone: str | None = None


def read_signature(text: str, lang: str) -> Signed:
    """The writer's details from the sign-off at the end of `text` (nothing when there is none)."""
    lines = _block_after_closing(text)
    if not lines:
        return Signed()
    name_at = next((i for i, line in enumerate(lines) if _looks_like_name(line)), None)
    name = lines[name_at] if name_at is not None else None
    return Signed(
        name=name, company=_company(lines, name_at), phone=find_phone("\n".join(lines), lang)
    )


def before_closing(text: str, *, whole_if_empty: bool = True) -> str:
    """The text above the sign-off ("Best regards," and what follows): the message itself;
    a mail that is all sign-off ("Thank you!\nAnna") is itself, unless `whole_if_empty` is
    False."""
    lines = text.strip().splitlines()
    end = next((i for i, line in enumerate(lines) if CLOSINGS.match(line)), len(lines))
    above = "\n".join(lines[:end]).strip()
    return above or text.strip() if whole_if_empty else above


def _block_after_closing(text: str) -> list[str]:
    lines = [line.strip() for line in text.strip().splitlines()]
    closing = max((i for i, line in enumerate(lines) if CLOSINGS.match(line)), default=None)
    if closing is None or len(lines) - closing > 8:
        return []
    return [line for line in lines[closing + 1 :] if line and not MOBILE_FOOTERS.match(line)]


def _looks_like_name(line: str) -> bool:
    words = line.replace(",", " ").split()
    return 1 <= len(words) <= 4 and all(NAME_WORD.match(word) for word in words)


def _company(lines: list[str], name_at: int | None) -> str | None:
    for line in lines:
        if COMPANY_FORMS.search(line) and not _is_contact_line(line):
            return line
    if name_at is not None and name_at + 1 < len(lines):
        following = lines[name_at + 1]
        if not (_is_contact_line(following) or TITLES.search(following)):
            return following
    return None


def _is_contact_line(line: str) -> bool:
    has_digits = sum(char.isdigit() for char in line) >= 5
    return (
        has_digits or bool(EMAIL_PATTERN.search(line)) or "http" in line.lower() or "www." in line
    )
