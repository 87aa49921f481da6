"""Fixtures of the end-to-end tests, whose bot runs as a subprocess and takes a database URL.

What a subprocess adds over the in-process suites (which run every repository, dispatcher,
relay and transcript test on both engines) is the process: its start, its signals, its
settings and its CLI. So `database_url` is on PostgreSQL only, unless a module marks itself
`pytest.mark.engines("sqlite", "postgres")`: the crash and restart tests do, because what a
SIGKILL leaves behind (an unfinished transaction, a lease, a WAL) is the engine's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ENGINES, administer, run_blocking

DEFAULT_ENGINES = ("postgres",)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("engines")
        engines = marker.args if marker else DEFAULT_ENGINES
        if unknown := set(engines) - set(ENGINES):
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: no engine {unknown}")
        metafunc.parametrize("database_url", engines, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own, on the engines of the test's `engines` marker
    (PostgreSQL alone without one); `touchpoint run` (or `touchpoint db upgrade`) creates the
    schema itself.

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
