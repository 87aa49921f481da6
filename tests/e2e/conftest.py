"""Fixtures of the end-to-end tests, whose bot runs as a subprocess and takes a database URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ENGINES, administer, run_blocking


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own, on SQLite and on PostgreSQL; `touchpoint run` (or
    `touchpoint db upgrade`) creates the schema itself.

    The PostgreSQL database is named after this pytest process, so parallel runs never share
    one; tests of one process run one at a time, each dropping its database before the next.
    """
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'touchpoint.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"touchpoint_e2e_{os.getpid()}"
    drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    run_blocking(administer(server, drop, f"CREATE DATABASE {name}"))
    try:
        yield f"{server}/{name}"
    finally:
        run_blocking(administer(server, drop))
