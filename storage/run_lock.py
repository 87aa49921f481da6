"""One `touchpoint run` per SQLite file.

SQLite has one writer, and the things a `run` does once per installation (polling Telegram,
reading the mailbox, the terminal's own customer) are not shared between two of them; several
instances need PostgreSQL. `touchpoint shell` and the CLI commands may share the file.

The lock is `flock` on a file beside the database: the kernel releases it when its process
ends in any way, a SIGKILL included, so a crashed run never blocks the next one. The file stays
(removing it would race with a run starting); it holds the owner's pid, for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import is_sqlite

SUFFIX = ".run-lock"


class AlreadyRunning(Exception):
    """Another process holds the run lock of this SQLite file; the message is one line."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    return Path(database).resolve() if database and database != ":memory:" else None


@contextlib.contextmanager
def only_run(url: str) -> Iterator[None]:
    """Hold the run lock of `url`'s SQLite file while the block runs (nothing on PostgreSQL)."""
    path = sqlite_file(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + SUFFIX)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _take(fd, path)
        yield
    finally:
        os.close(fd)  # releases the lock


def _take(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip()
        who = f" (pid {owner})" if owner.isdigit() else ""
        raise AlreadyRunning(
            f"another `touchpoint run`{who} serves {path}: one run per SQLite file; "
            "several `run` processes need PostgreSQL (DATABASE_URL=postgresql+asyncpg://...)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
