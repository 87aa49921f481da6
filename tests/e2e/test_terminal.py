"""The terminal as a person uses it: `touchpoint shell` and `touchpoint run` on a pseudo-terminal,
with Ctrl-C, Ctrl-D and SIGTERM, the bot speaking first, and several customers' terminals on
one database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.tables import outbox
from storage.uow import Database
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


# --- several terminals on one database -------------------------------------------------------

COMPLAINT = "My order 5531 arrived damaged, two chairs have broken armrests"
RETURNED = "bot> You're back with the assistant. How can I help?"


@pytest.fixture
def shared_env(env: dict[str, str], database_url: str) -> dict[str, str]:
    """Terminals of several customers on one database, SQLite or PostgreSQL; follow-ups due
    after 3.6 s."""
    return {**env, "DATABASE_URL": database_url, "FOLLOWUP_AFTER_HOURS": "0.001"}


def test_replies_nobody_typed_for_reach_only_their_own_terminal(shared_env: dict[str, str]) -> None:
    # Regression: a follow-up, a rep's answer or the notice that a hand-off ended was printed by
    # whichever terminal's relay took it first, often another customer's.
    assert cli(shared_env, "reps", "add", "Olga", "--telegram", "4242").returncode == 0
    with (
        Terminal(shared_env, "shell", "--as", "anna") as anna,
        Terminal(shared_env, "shell", "--as", "boris") as boris,
    ):
        ready = anna.expect(PROMPT, after=anna.expect(GREETING))
        boris.expect(PROMPT, after=boris.expect(GREETING))
        anna.write(COMPLAINT + "\n")
        opened = anna.expect("bot> Your request #1001 is open.", after=ready)
        # A timer: fired by either process's scheduler, shown by anna's terminal only.
        followed = anna.expect("bot> Following up on your request #1001", after=opened)
        anna.write("I want to talk to a human\n")
        anna.expect("bot> I'm passing your conversation", after=followed)
        # An operator's action from the command line: anna is told in her terminal.
        assert cli(shared_env, "handoffs", "close", "1", "--return").returncode == 0
        anna.expect(RETURNED, after=followed)

        boris.write("thanks\n")
        boris.expect("bot> You're welcome!")
        assert "#1001" not in boris.output
        assert "back with the assistant" not in boris.output


def test_a_reply_for_a_closed_terminal_waits_until_it_opens_again(
    shared_env: dict[str, str],
) -> None:
    # A rep is registered (off duty): the hand-off waits for her.
    assert cli(shared_env, "reps", "add", "Olga", "--telegram", "4242").returncode == 0
    with Terminal(shared_env, "shell", "--as", "anna") as anna:
        ready = anna.expect(PROMPT, after=anna.expect(GREETING))
        anna.write("I want to talk to a human\n")
        anna.expect(PROMPT, after=anna.expect("bot> I'm passing your conversation", after=ready))
        anna.press(CTRL_D)
        assert anna.wait() == 0

    with Terminal(shared_env, "shell", "--as", "boris") as boris:
        boris.expect(PROMPT, after=boris.expect(GREETING))
        assert cli(shared_env, "handoffs", "close", "1", "--return").returncode == 0
        boris.write("thanks\n")
        boris.expect("bot> You're welcome!")
        assert unsent_to(shared_env, "anna") == ["You're back with the assistant. How can I help?"]
        assert "back with the assistant" not in boris.output

    with Terminal(shared_env, "shell", "--as", "anna") as again:
        shown = again.expect(RETURNED)
        again.expect("bot> Hello again!", after=shown)
        again.press(CTRL_D)
        assert again.wait() == 0
    assert unsent_to(shared_env, "anna") == []


# --- one `run` per SQLite file ----------------------------------------------------------------


def test_a_second_run_on_one_sqlite_file_refuses_to_start_and_a_shell_may_join(
    env: dict[str, str], tmp_path: Path
) -> None:
    with Terminal(env, "run") as first:
        first.expect(PROMPT, after=first.expect(GREETING))

        second = cli(env, "run")
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [
            f"touchpoint: another `touchpoint run` (pid {first.process.pid}) serves "
            f"{(tmp_path / 'touchpoint.db').resolve()}: one run per SQLite file; several `run` "
            "processes need PostgreSQL (DATABASE_URL=postgresql+asyncpg://...)"
        ]
        with Terminal(env, "shell", "--as", "boris") as shell:
            shell.expect(PROMPT, after=shell.expect(GREETING))
            shell.press(CTRL_D)
            assert shell.wait() == 0

        first.process.kill()  # SIGKILL: no clean-up at all
        first.wait()

    with Terminal(env, "run") as again:  # the lock went with the killed process
        again.expect(PROMPT, after=again.expect("bot> Hello again!"))
        again.press(CTRL_D)
        assert again.wait() == 0


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input="", capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def unsent_to(env: dict[str, str], address: str) -> list[str]:
    """The texts waiting in the outbox for a console address, oldest first."""

    async def read() -> list[str]:
        database = Database.from_url(env["DATABASE_URL"])
        try:
            async with database.transaction() as uow:
                query = (
                    select(outbox.c.text)
                    .where(outbox.c.address == address, outbox.c.status != "sent")
                    .order_by(outbox.c.id)
                )
                return list((await uow.connection.execute(query)).scalars())
        finally:
            await database.dispose()

    return asyncio.run(read())
