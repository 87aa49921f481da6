"""How long something has waited, in a few words of the viewer's language."""

from __future__ import annotations

from datetime import timedelta

from web.i18n import translate


def age_words(age: timedelta, lang: str) -> str:
    minutes = max(int(age.total_seconds() // 60), 0)
    if minutes < 60:
        return translate("ages.minutes", lang, n=minutes)
    if minutes < 48 * 60:
        return translate("ages.hours", lang, n=minutes // 60, m=minutes % 60)
    return translate("ages.days", lang, n=minutes // (24 * 60))
