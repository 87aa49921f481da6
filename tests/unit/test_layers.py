"""The layers stay honest: what each package may import (docs/architecture.md, "Packages"),
one recorder, and the touchpoint kinds the docs list.

Imports are read from the source with `ast` (nothing is imported), including imports inside
functions, so a late import cannot slip past.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.kinds import Actor, TouchpointKind

PROJECT = Path(__file__).resolve().parents[2]
OURS = ("bot", "channels", "handlers", "storage", "web")
SDKS = ("telegram", "aioimaplib", "aiosmtplib", "sqlalchemy", "aiohttp", "alembic")

# The shared kernel: plain data and functions every layer may use, importing nothing of ours
# but each other.
KERNEL = ("bot.model", "bot.kinds", "bot.records", "bot.backoff")
# module (or package) → the modules of ours it may import. The longest matching key applies.
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(KERNEL, KERNEL),
    "bot.intake": ("bot.model",),
    # the core: the contract and the engine; the business only through bot.turn.Business
    "bot": ("bot", "storage"),
    # the composition root and the faces wire everything
    "bot.bootstrap": OURS,
    "bot.cli": OURS,
    "bot.__main__": ("bot.cli",),
    "web": OURS,
    # the business: the contract, the kernel, texts and matches, and storage's row types
    "handlers": (
        *KERNEL,
        "bot.turn",
        "bot.texts",
        "bot.intents",
        "bot.rep_hours",
        "storage.repos",
        "handlers",
    ),
    # channels: the shared model, the one guard, the backoff; never storage or the business
    "channels": (*KERNEL, "bot.intake", "channels"),
    "storage": ("bot.records", "bot.model", "storage"),
}
# The modules that may write touchpoints and outbox rows: the one recorder.
WRITES = {"add": "touchpoints", "enqueue": "outbox"}
RECORDER = "bot.recorder"


def modules() -> Iterator[tuple[str, Path]]:
    for package in OURS:
        for path in sorted((PROJECT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic's scripts are the schema's history, not the program
            name = ".".join(path.relative_to(PROJECT).with_suffix("").parts)
            yield name.removesuffix(".__init__"), path


def imports_of(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def rule_for(module: str) -> tuple[str, ...]:
    keys = [key for key in MAY_IMPORT if module == key or module.startswith(f"{key}.")]
    assert keys, f"{module} is in no layer of MAY_IMPORT"
    return MAY_IMPORT[max(keys, key=len)]


def within(name: str, allowed: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in allowed)


def crossings() -> list[str]:
    found = []
    for module, path in modules():
        allowed = rule_for(module)
        for name in imports_of(path):
            ours = name.split(".")[0] in OURS
            if ours and not within(name, allowed) and not within(name, (module,)):
                found.append(f"{module} imports {name}")
    return sorted(set(found))


def test_every_package_imports_only_what_its_layer_may() -> None:
    assert crossings() == []


def test_the_core_outside_the_composition_root_and_the_cli_imports_no_handlers_or_channels() -> (
    None
):
    offenders = [
        f"{module} imports {name}"
        for module, path in modules()
        if module.startswith("bot") and not within(module, ("bot.bootstrap", "bot.cli"))
        for name in imports_of(path)
        if within(name, ("handlers", "channels"))
    ]
    assert offenders == []


def test_the_shared_model_imports_no_sdk() -> None:
    path = PROJECT / "bot" / "model.py"
    assert [name for name in imports_of(path) if name.split(".")[0] in SDKS] == []


def test_the_layer_check_catches_a_crossing(tmp_path: Path) -> None:
    # The check itself: a core module importing a handler is reported.
    source = tmp_path / "bad.py"
    source.write_text("def f():\n    from handlers import leads\n", encoding="utf-8")
    names = list(imports_of(source))
    assert "handlers.leads" in names
    assert not within("handlers.leads", rule_for("bot.dispatch"))


def writes_in(path: Path) -> Iterator[str]:
    """`x.touchpoints.add(...)` and `x.outbox.enqueue(...)` calls in a module."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        wanted = WRITES.get(node.func.attr)
        if wanted and isinstance(owner, ast.Attribute) and owner.attr == wanted:
            yield f"{wanted}.{node.func.attr}"


def test_only_the_recorder_writes_touchpoints_and_outbox_rows() -> None:
    writers = {module for module, path in modules() if any(writes_in(path))}
    assert writers == {RECORDER}


def documented_kinds() -> set[str]:
    text = (PROJECT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Touchpoints", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))


def test_the_architecture_doc_lists_every_touchpoint_kind_and_no_other() -> None:
    assert documented_kinds() == {kind.value for kind in TouchpointKind}


@pytest.mark.parametrize("actor", list(Actor))
def test_the_architecture_doc_names_every_actor(actor: Actor) -> None:
    text = (PROJECT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert f"`{actor.value}`" in text.split("## Touchpoints", 1)[1]
