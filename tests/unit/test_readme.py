"""The README's commands exist and its shown outputs are what the program prints.

A reader copies commands from the README's code blocks; a renamed command or a changed output
would otherwise go unnoticed until someone tries it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
# `touchpoint ...` or `.venv/bin/touchpoint ...`, after a prompt, a pipe or an assignment.
INVOCATION = re.compile(r"(?:^|[|;]\s*|\s)(?:\.venv/bin/)?touchpoint((?:\s+[a-z][a-z-]*)*)")


def code_blocks() -> list[tuple[str, str]]:
    return [(match[1], match[2]) for match in FENCE.finditer(README)]


def commands_shown() -> list[tuple[str, ...]]:
    """Each distinct command path (`leads list`, `reps add`...) in a code block."""
    found: set[tuple[str, ...]] = set()
    for language, body in code_blocks():
        if language not in ("sh", "console"):
            continue
        for line in body.splitlines():
            command = line.partition("#")[0]
            for match in INVOCATION.finditer(command):
                found.add(tuple(match[1].split()))
    return sorted(found)


def test_the_readme_shows_commands() -> None:
    # The parser must see the README's command lines, or the test below checks nothing.
    shown = commands_shown()
    assert ("leads", "list") in shown
    assert ("route",) in shown
    assert len(shown) >= 15


@pytest.mark.parametrize("path", commands_shown(), ids=" ".join)
def test_every_command_in_the_readme_exists(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def shown_session(command_start: str) -> tuple[str, list[str]]:
    """The console block's command line starting with `$ command_start`, and what follows it."""
    for language, body in code_blocks():
        lines = body.splitlines()
        for index, line in enumerate(lines):
            if language == "console" and line.startswith(f"$ {command_start}"):
                return line[2:], lines[index + 1 :]
    raise AssertionError(f"the README shows no `$ {command_start}`")


def run_shell(command: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Runs a README command line with `touchpoint` as this checkout's program."""
    program = f"{shlex.quote(sys.executable)} -m bot"
    line = re.sub(r"\btouchpoint\b", program, command)
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATABASE_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_route_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    command, shown = shown_session("printf")
    result = run_shell(command, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == shown


def test_the_settings_error_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    command, shown = shown_session("DATABASE_URL=")
    result = run_shell(command, tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == shown
