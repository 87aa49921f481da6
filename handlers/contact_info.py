"""Finding, validating and normalising what people write about themselves.

Emails are checked for syntax (no DNS: the bot never reaches out to the network to validate),
phone numbers with libphonenumber and stored in E.164.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

EMAIL_PATTERN = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
PHONE_PATTERN = re.compile(r"(?<![\w+])\+?\d[\d\s().\-]{5,20}\d")
NAME_PREFIXES = re.compile(
    r"^(?:my name is|my name's|i am|i'm|this is|it's|call me|name[:\s]|меня зовут|"
    r"зовут|я\s+-|я\s+—|это|имя[:\s])\s*",
    re.IGNORECASE,
)
REGION_BY_LANGUAGE = {"ru": "RU", "en": "US"}


def find_email(text: str) -> str | None:
    for candidate in EMAIL_PATTERN.findall(text):
        normalised = normalise_email(candidate)
        if normalised:
            return normalised
    return None


def normalise_email(candidate: str) -> str | None:
    try:
        checked = validate_email(candidate.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    # The domain is case-insensitive; the local part technically is not, but every real
    # mailbox treats it so, and a lower-cased key is what makes identities match.
    return str(checked.normalized).lower()


def find_phone(text: str, lang: str) -> str | None:
    for candidate in PHONE_PATTERN.findall(text):
        normalised = normalise_phone(candidate, lang)
        if normalised:
            return normalised
    return None


def normalise_phone(candidate: str, lang: str) -> str | None:
    region = REGION_BY_LANGUAGE.get(lang, "US")
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_name(text: str) -> str | None:
    """A person's name from an answer like "I'm Anna Petrova" or "меня зовут Анна"."""
    name = NAME_PREFIXES.sub("", text.strip()).strip(" .,!;:-—")
    name = re.sub(r"\s+", " ", name)
    if not name or len(name) > 100 or not any(char.isalpha() for char in name):
        return None
    return name if name[0].isupper() else name.title()


def remove_contacts(text: str) -> str:
    """The text without the email addresses and phone numbers in it."""
    return PHONE_PATTERN.sub(" ", EMAIL_PATTERN.sub(" ", text)).strip(" ,;")


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Terminal escape sequences: CSI ("ESC [ 2 J"), OSC ("ESC ] 0 ; title BEL"), and two-byte ones.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def without_controls(text: str) -> str:
    """`text` without terminal escape sequences and control characters (line breaks and tabs
    kept), so "Eve \\x1b[2JSmith" reads "Eve Smith"."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text)).strip()
