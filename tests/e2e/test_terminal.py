"""The terminal as a person uses it: `touchpoint shell` and `touchpoint run` on a pseudo-terminal,
with Ctrl-C, Ctrl-D and SIGTERM, and the bot speaking first."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.terminal import CTRL_C, CTRL_D, Terminal

pytestmark = pytest.mark.slow

GREETING = "bot> Hello! I'm the Northwind Test assistant."
PROMPT = "you> "
# Not a measurement (timing assertions are flaky on shared machines): a process that waits for
# Enter after Ctrl-C never exits at all, and one that stops at once does so well within this.
STOPS_WITHIN = 10.0


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "IMAP_", "SMTP_"))
    }
    base.update(
        NO_COLOR="1",
        COMPANY_NAME="Northwind Test",
        CATALOG_DIR="",
        TIMEZONE="UTC",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'touchpoint.db'}",
    )
    return base


def test_the_bot_greets_first_and_then_waits_for_the_customer(env: dict[str, str]) -> None:
    with Terminal(env, "shell", "--as", "anna") as anna:
        greeted = anna.expect(GREETING)
        anna.expect("4) Talk to a person", after=greeted)
        anna.expect(PROMPT, after=greeted)

        anna.write("hello\n")
        answered = anna.expect("bot> Hello again! How can I help?", after=greeted)
        assert anna.output.count("I'm the Northwind Test assistant") == 1
        anna.expect(PROMPT, after=answered)
        anna.write("\n")  # an empty line is no message: just the prompt again
        anna.expect(PROMPT + "\n" + PROMPT, after=answered)
        anna.press(CTRL_D)
        assert anna.wait() == 0


@pytest.mark.parametrize("command", [["shell", "--as", "anna"], ["run"]])
def test_ctrl_c_at_the_prompt_stops_at_once_on_a_line_of_its_own(
    env: dict[str, str], command: list[str]
) -> None:
    with Terminal(env, *command) as terminal:
        shown = terminal.expect(GREETING)
        terminal.expect(PROMPT, after=shown)
        terminal.press(CTRL_C)

        assert terminal.wait(STOPS_WITHIN) == 0
        assert "Traceback" not in terminal.output
        assert terminal.output.endswith("^C\n"), terminal.output[-200:]


def test_ctrl_c_while_typing_a_line_stops_too(env: dict[str, str]) -> None:
    with Terminal(env, "shell", "--as", "anna") as anna:
        anna.expect(PROMPT, after=anna.expect(GREETING))
        anna.write("I need a quo")  # no Enter: the line is still being typed

        anna.press(CTRL_C)

        assert anna.wait(STOPS_WITHIN) == 0
        assert "Traceback" not in anna.output


def test_a_second_ctrl_c_is_harmless(env: dict[str, str]) -> None:
    with Terminal(env, "shell", "--as", "anna") as anna:
        anna.expect(PROMPT, after=anna.expect(GREETING))
        anna.press(CTRL_C)
        anna.press(CTRL_C)

        assert anna.wait(STOPS_WITHIN) == 0
        assert "Traceback" not in anna.output


def test_ctrl_d_leaves_with_a_newline(env: dict[str, str]) -> None:
    with Terminal(env, "shell", "--as", "anna") as anna:
        anna.expect(PROMPT, after=anna.expect(GREETING))
        anna.press(CTRL_D)

        assert anna.wait(STOPS_WITHIN) == 0
        assert anna.output.endswith(PROMPT + "\n"), anna.output[-200:]


def test_sigterm_stops_a_waiting_terminal(env: dict[str, str]) -> None:
    with Terminal(env, "run") as terminal:
        terminal.expect(PROMPT, after=terminal.expect(GREETING))
        terminal.process.send_signal(signal.SIGTERM)

        assert terminal.wait(STOPS_WITHIN) == 0
        assert "Traceback" not in terminal.output


def test_the_conversation_goes_on_after_ctrl_c(env: dict[str, str]) -> None:
    with Terminal(env, "shell", "--as", "anna") as anna:
        asked = anna.expect("bot> What is your name?", after=_typed_a_request(anna))
        anna.expect(PROMPT, after=asked)
        anna.press(CTRL_C)
        assert anna.wait(STOPS_WITHIN) == 0

    with Terminal(env, "shell", "--as", "anna") as again:
        resumed = again.expect("bot> Let's continue where we stopped.")
        again.expect("bot> What is your name?", after=resumed)
        again.press(CTRL_D)
        assert again.wait() == 0


def _typed_a_request(terminal: Terminal) -> int:
    shown = terminal.expect(PROMPT, after=terminal.expect(GREETING))
    terminal.write("I need a quote for 25 office chairs\n")
    return shown
