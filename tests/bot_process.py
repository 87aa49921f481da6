"""`touchpoint run` as a separate process, for end-to-end tests: start, wait, stop or kill.

    async with BotProcess(env, tmp_path / "bot.log") as bot:
        await bot.eventually(lambda: len(fake.sent) >= 2, what="the greeting")

A wait on a bot process fails as soon as the bot exits, and its failure shows the log's tail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import aiohttp

from tests.waiting import eventually, outcome

PROJECT = Path(__file__).resolve().parents[1]
WAIT = 60.0  # seconds: generous, for a subprocess on a loaded machine; nothing measures time


def bot_environment(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a bot process: ours minus any real accounts, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "IMAP_", "SMTP_"))}
    env.update(NO_COLOR="1", DATABASE_URL=database_url, LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    env.update(TIMEZONE="UTC")  # the times the bot shows, whatever this machine's zone is
    # On PostgreSQL a process restarted after a kill sends once its killed predecessor's
    # presence ran out (bot/bootstrap.py): 5 s here rather than the default 15.
    env.update(LEADER_TAKEOVER_SECONDS="5")
    env.update(settings)
    return env


class BotProcess:
    """`python -m bot run` with the given environment; its output goes to `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._env = env
        self.log_path = log_path
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=self.log_path.parent, env=self._env,
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
        log.close()

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the bot has not been started")
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process else None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self) -> str:
        """The end of the log, to show beside a failure."""
        return f"--- bot log ---\n{self.log()[-4000:]}"

    async def eventually(
        self,
        condition: Callable[[], object],
        *,
        what: str,
        timeout: float = WAIT,  # noqa: ASYNC109
        context: Callable[[], str] = lambda: "",
    ) -> None:
        """`eventually` while the bot runs: its exit fails the wait at once, and a failure shows
        `context()` (say the fake's recent calls) and the tail of the bot's log."""

        def evidence() -> str:
            return "\n".join(part for part in (context(), self.log_tail()) if part)

        async def met_while_running() -> object:
            found = await outcome(condition)
            if not found and self.returncode is not None:
                exited = f"the bot exited with {self.returncode} before {what}"
                raise AssertionError(f"{exited}\n{evidence()}")
            return found

        await eventually(met_while_running, what=what, timeout=timeout, context=evidence)

    async def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash or an OOM kill."""
        await self._signal(signal.SIGKILL)

    async def stop(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """SIGTERM and wait for a graceful exit; SIGKILL if it does not come."""
        await self._signal(signal.SIGTERM, timeout)
        return self.returncode if self.returncode is not None else -1

    async def _signal(self, signum: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signum)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def __aenter__(self) -> BotProcess:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


async def held_leases(metrics_port: int) -> dict[str, bool]:
    """The leases a running instance stands for and whether it holds each, as its /healthz
    says; {} while it is not serving yet."""
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{metrics_port}/healthz") as response,
        ):
            body = await response.json()
    except OSError:
        return {}
    leases: dict[str, bool] = body.get("leases", {})
    return leases


async def listening(url: str) -> bool:
    """Whether something takes connections at `url`'s host and port (an instance's webhook up:
    a balancer's health check)."""
    host, _, port = url.removeprefix("http://").partition("/")[0].partition(":")
    try:
        _, writer = await asyncio.open_connection(host, int(port))
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True
