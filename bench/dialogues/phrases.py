"""How prospects word things: one template per situation, per language and style.

`answers.toml` holds `[<lang>.<style>]` tables (styles: terse, plain, chatty, and `mail` for
what only mail has: field labels and prose sentences). A key missing from a style falls back
to `plain`, so a style lists only where it differs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.dialogues.profiles import ProfileError

FALLBACK_STYLE = "plain"


class Phrases:
    def __init__(self, entries: Mapping[str, Mapping[str, Mapping[str, str]]]) -> None:
        self._entries = entries

    @classmethod
    def load(cls, path: Path) -> Phrases:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ProfileError(f"{path}: {error}") from None
        return cls(
            {
                lang: {style: _flatten(table) for style, table in styles.items()}
                for lang, styles in document.items()
            }
        )

    def get(self, lang: str, style: str, key: str) -> str:
        styles = self._entries.get(lang, {})
        for name in (style, FALLBACK_STYLE):
            if key in styles.get(name, {}):
                return styles[name][key]
        raise ProfileError(f"answers: no phrase {key!r} for {lang}/{style}")


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """`label.name = "Name"` (a nested table in TOML) becomes {"label.name": "Name"}."""
    flat: dict[str, str] = {}
    for name, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = str(value)
    return flat
