"""One `touchpoint run` per SQLite file: the lock beside the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.run_lock import AlreadyRunning, only_run


def test_a_sqlite_file_is_run_once_at_a_time(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'touchpoint.db'}"
    with only_run(url):
        with pytest.raises(AlreadyRunning, match="need PostgreSQL"), only_run(url):
            pass
        with only_run(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"):
            pass  # another file is another bot
    with only_run(url):  # released on leaving
        pass


def test_postgresql_and_memory_take_no_lock() -> None:
    url = "postgresql+asyncpg://touchpoint@127.0.0.1/touchpoint"
    with (
        only_run(url),
        only_run(url),
        only_run("sqlite+aiosqlite://"),
        only_run("sqlite+aiosqlite://"),
    ):
        pass
