"""The console's words in English and Russian, from `web/texts/*.toml` (one file per area of
the console; each key has an `en` and a `ru` text). A missing Russian text falls back to the
English one, a missing key shows itself (so a test of the pages finds it)."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path

LANGUAGES = ("en", "ru")
TEXTS = Path(__file__).with_name("texts")


@functools.cache
def catalog() -> Mapping[str, Mapping[str, str]]:
    found: dict[str, Mapping[str, str]] = {}
    for path in sorted(TEXTS.glob("*.toml")):
        with path.open("rb") as file:
            _flatten(tomllib.load(file), "", found)
    return found


def _flatten(table: Mapping[str, object], prefix: str, into: dict[str, Mapping[str, str]]) -> None:
    for key, value in table.items():
        if not isinstance(value, dict):
            continue
        if "en" in value and isinstance(value["en"], str):
            into[prefix + key] = {lang: str(value.get(lang, value["en"])) for lang in LANGUAGES}
        else:
            _flatten(value, f"{prefix}{key}.", into)


def translate(key: str, lang: str, /, **fields: object) -> str:
    texts = catalog().get(key)
    if texts is None:
        return key
    text = texts.get(lang) or texts["en"]
    return text.format(**fields) if fields else text


def language(wanted: str | None) -> str:
    return wanted if wanted in LANGUAGES else "en"
