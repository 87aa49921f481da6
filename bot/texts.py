"""Reply texts from an operator-editable catalog (`replies.toml`; the shipped one is in
`handlers/catalog/`)."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "ru")


class TextsError(Exception):
    """The replies catalog is missing a text or has a broken one; the message names it."""


class _KeepUnknown(dict[str, Any]):
    # A placeholder the code does not fill is shown as written instead of raising at runtime.
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Texts:
    """Reply texts per key and language, with `{placeholders}` filled at use."""

    def __init__(self, entries: Mapping[str, Mapping[str, str]], source: str) -> None:
        self._entries = entries
        self._source = source
        self._check()

    @classmethod
    def load(cls, folder: Path) -> Texts:
        path = folder / "replies.toml"
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise TextsError(f"{path}: {error}") from None
        return cls(_flatten(document.get("replies", {})), str(path))

    def get(self, key: str, lang: str, /, **fields: object) -> str:
        entry = self._entries.get(key)
        if entry is None:
            raise TextsError(f"{self._source}: no reply text named {key!r}")
        template = entry.get(lang) or entry["en"]
        return string.Formatter().vformat(template, (), _KeepUnknown(fields)).strip()

    def has(self, key: str) -> bool:
        return key in self._entries

    def _check(self) -> None:
        for key, entry in self._entries.items():
            missing = [lang for lang in LANGUAGES if not entry.get(lang)]
            if missing:
                raise TextsError(f"{self._source}: reply {key!r} has no text for {missing}")


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, dict[str, str]]:
    """`[replies.lead.ask_name] en = ...` becomes {"lead.ask_name": {"en": ...}}."""
    entries: dict[str, dict[str, str]] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
            entries[key] = {str(lang): str(text) for lang, text in value.items()}
        elif isinstance(value, Mapping):
            entries.update(_flatten(value, f"{key}."))
    return entries
