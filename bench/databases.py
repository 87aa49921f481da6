"""Databases of a benchmark run's own: empty, or a copy of a prepared history.

A run writes into its database, so it never gets the prepared one itself: on SQLite a copy of
the cached file (bench/console.py keeps it), on PostgreSQL a database made from the prepared
one as a template (CREATE DATABASE ... TEMPLATE, a file-level copy). Each yields the URL and a
temporary folder for the run's other files (its log); both are removed after the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from bench.console import prepare
from storage.uow import Database
from tests.conftest import administer

SQLITE = "sqlite+aiosqlite:///"


@contextlib.asynccontextmanager
async def sqlite_copy(source: str | None) -> AsyncIterator[tuple[str, Path]]:
    """A SQLite file in a folder of its own: empty, or a copy of `source`'s file (its WAL too)."""
    with tempfile.TemporaryDirectory(prefix="touchpoint-bench-") as name:
        folder = Path(name)
        if source is not None:
            original = Path(source.removeprefix(SQLITE))
            for part in original.parent.glob(original.name + "*"):
                shutil.copy(part, folder / part.name.replace(original.name, "run.db"))
        yield f"{SQLITE}{folder / 'run.db'}", folder


@contextlib.asynccontextmanager
async def postgres_copy(
    url: str, template: str | None, run: int
) -> AsyncIterator[tuple[str, Path]]:
    """A database of this run's own on `url`'s server: empty, or made from `template`."""
    server = server_of(url)
    name = f"touchpoint_bench_{os.getpid()}_{run}"
    create = f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")
    await administer(server, _drop(name), create)
    try:
        with tempfile.TemporaryDirectory(prefix="touchpoint-bench-") as folder:
            yield f"{server}/{name}", Path(folder)
    finally:
        await administer(server, _drop(name))


@contextlib.asynccontextmanager
async def postgres_history(url: str, contacts: int) -> AsyncIterator[str]:
    """A database on `url`'s server holding the history of `contacts`, to copy; its name."""
    server = server_of(url)
    name = f"touchpoint_bench_history_{os.getpid()}"
    await administer(server, _drop(name), f"CREATE DATABASE {name}")
    try:
        await prepare(f"{server}/{name}", contacts)
        yield name
    finally:
        await administer(server, _drop(name))


async def migrated(url: str) -> None:
    """The schema, before any clock starts: migrating is a deployment step."""
    database = Database.from_url(url)
    try:
        await database.upgrade()
    finally:
        await database.dispose()


def server_of(url: str) -> str:
    """`postgresql+asyncpg://user@host:port/db` → the same without `/db`."""
    return url.rpartition("/")[0]


def _drop(name: str) -> str:
    return f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
