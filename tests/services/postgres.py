"""A private, throwaway PostgreSQL cluster for tests, on 127.0.0.1 only.

Each cluster lives in a temporary folder of its own (data, log and Unix socket), listens on a
free port of 127.0.0.1 and lets `postgres` in without a password from there only (trust). The
system cluster is never started or changed. As root the cluster runs as the `postgres` OS user
(`su postgres -c ...`), which owns the folder; otherwise as the user running the tests.

`stop()` stops the cluster (`pg_ctl -m fast`) and removes the folder. So does a guard process
started beside it, as soon as the process that started the cluster ends without doing so
(killed, say): a test run never leaves a cluster or a folder behind.

In pytest: `postgres_server = tests.services.postgres.postgres_server` in a conftest (an
assignment, which ruff does not report as shadowed) makes the session fixture available: the
URL of a server without a database name. It is the server of
TOUCHPOINT_TEST_POSTGRES_URL when that is set (and nothing is started); otherwise a private
cluster, skipped where PostgreSQL is not installed (failed under CI). Elsewhere:

    python -m tests.services.postgres --env NAME -- COMMAND [ARG...]

runs COMMAND with NAME set to a database on a new private cluster, then removes the cluster.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

HOST = "127.0.0.1"
URL_VARIABLE = "TOUCHPOINT_TEST_POSTGRES_URL"
OS_USER = "postgres"  # who runs the cluster when the tests run as root
TIMEOUT_SECONDS = 60
PROJECT = Path(__file__).resolve().parents[2]
PORT_ATTEMPTS = 3  # a free port may be taken between choosing it and the server binding it


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot run here at all (not installed): a reason to skip, not a bug."""


class Postgres:
    """A running private cluster. `url` is its server's, without a database name."""

    host = HOST

    def __init__(self, root: Path, bindir: Path, as_postgres: bool) -> None:
        self.root = root
        self.port = 0
        self._bindir = bindir
        self._as_postgres = as_postgres
        self._guard: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, *, durable: bool = False) -> Postgres:
        """Start a cluster in a new temporary folder; raises `PostgresUnavailable`.

        `durable=False` turns fsync off: fast, and fine for data thrown away anyway.
        """
        bindir, as_postgres = _binaries(), os.geteuid() == 0
        owner = _os_user() if as_postgres else None
        server = cls(Path(tempfile.mkdtemp(prefix="touchpoint-postgres-")), bindir, as_postgres)
        try:
            server._guard = _start_guard(server.root, bindir, as_postgres)
            if owner is not None:
                os.chown(server.root, owner.pw_uid, owner.pw_gid)
            server._initdb()
            server._launch(durable)
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@{HOST}:{self.port}"

    def create_database(self, name: str) -> str:
        """Create database `name`; returns its URL."""
        self._run("createdb", "-h", HOST, "-p", str(self.port), "-U", "postgres", name)
        return f"{self.url}/{name}"

    def log(self) -> str:
        """The server's own log, for a failure's message."""
        path = self.root / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the cluster and remove its folder (the guard does both, then ends)."""
        guard, self._guard = self._guard, None
        if guard is not None:
            assert guard.stdin is not None
            guard.stdin.close()  # the end of its input is the guard's signal
            try:
                guard.wait(timeout=3 * TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                guard.kill()
                guard.wait()
        if self.root.exists():  # no guard, or the guard failed: do it here
            remove_cluster(self.root, self._bindir, self._as_postgres)

    def _initdb(self) -> None:
        data = str(self.root / "data")
        self._run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")  # fmt: skip

    def _launch(self, durable: bool) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = _free_port()
            socket_folder = shlex.quote(str(self.root))  # pg_ctl hands -o to a shell
            options = [f"-p {self.port}", f"-k {socket_folder}", f"-c listen_addresses={HOST}"]
            options += [] if durable else ["-c fsync=off"]
            done = self._run(
                "pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-w",
                "-t", str(TIMEOUT_SECONDS), "-o", " ".join(options), "start", check=False,
            )  # fmt: skip
            if done.returncode == 0:
                return
            if attempt == PORT_ATTEMPTS or "could not bind" not in self.log():
                raise RuntimeError(f"PostgreSQL did not start:\n{done.stdout}{self.log()}")

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = _run_as(self._as_postgres, [str(self._bindir / program), *args], cwd=self.root)
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} failed:\n{done.stdout}")
        return done


def remove_cluster(root: Path, bindir: Path, as_postgres: bool) -> None:
    """Stop the cluster in `root` if it runs (`pg_ctl -m fast`, by its pid file), then remove
    `root`. Does what is left to do when part of it is done already."""
    data = root / "data"
    for mode in ("fast", "immediate"):  # immediate: only when a fast stop did not end it
        if not (data / "postmaster.pid").exists():
            break
        stop = ["-D", str(data), "-m", mode, "-w", "-t", str(TIMEOUT_SECONDS), "stop"]
        _run_as(as_postgres, [str(bindir / "pg_ctl"), *stop], cwd=root)
    shutil.rmtree(root, ignore_errors=True)


def _run_as(
    as_postgres: bool, command: Sequence[str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    if as_postgres:  # PostgreSQL refuses to run as root
        command = [_su(), OS_USER, "-c", shlex.join(command)]
    return subprocess.run(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=2 * TIMEOUT_SECONDS,
        check=False,
    )


def _start_guard(root: Path, bindir: Path, as_postgres: bool) -> subprocess.Popen[bytes]:
    """A process that removes the cluster once its input ends: when `stop` closes it, or when
    the process holding it ends in any way. In a session of its own, so that a Ctrl-C reaches
    pytest (which then stops the cluster itself) but not the guard."""
    command = [sys.executable, "-m", "tests.services.postgres", "--guard", str(root), str(bindir)]
    command += ["--as-postgres"] if as_postgres else []
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=PROJECT,
        start_new_session=True,
    )  # fmt: skip


def _guard(root: Path, bindir: Path, as_postgres: bool) -> None:
    sys.stdin.buffer.read()  # until the end of input: nobody is left to stop the cluster
    remove_cluster(root, bindir, as_postgres)


def _binaries() -> Path:
    """The folder of initdb and pg_ctl: `pg_config --bindir`, else the newest
    /usr/lib/postgresql/*/bin."""
    candidates = [Path(folder) for folder in _pg_config_bindir()]
    found = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(found, key=lambda path: _version(path.parent.name), reverse=True)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "createdb")):
            return folder
    raise PostgresUnavailable(
        "PostgreSQL is not installed: no initdb in `pg_config --bindir` or "
        "/usr/lib/postgresql/*/bin (apt-get install postgresql)"
    )


def _pg_config_bindir() -> list[str]:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return []
    done = subprocess.run(
        [pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=False
    )
    return [done.stdout.strip()] if done.returncode == 0 and done.stdout.strip() else []


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _os_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        raise PostgresUnavailable(f"there is no `{OS_USER}` OS user to run PostgreSQL") from None


def _su() -> str:
    return shutil.which("su") or "/bin/su"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


# --- pytest ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of this run's PostgreSQL server, without a database name: the server of
    TOUCHPOINT_TEST_POSTGRES_URL when set, else a private cluster for the session."""
    given = os.environ.get(URL_VARIABLE, "")
    if given:
        yield given.rsplit("/", 1)[0]
        return
    server = start_or_skip()
    try:
        yield server.url
    finally:
        server.stop()


def start_or_skip() -> Postgres:
    try:
        return Postgres.start()
    except PostgresUnavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}. CI must run the PostgreSQL half: see .ci/run")
        pytest.skip(f"the PostgreSQL half is skipped: {reason}")


# --- python -m tests.services.postgres -------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.services.postgres",
        description="Run COMMAND with NAME set to the URL of a database on a new private "
        "PostgreSQL cluster (fsync on, as a real installation), then remove the cluster. "
        "When NAME is set already, or PostgreSQL is not installed, COMMAND runs as it is.",
    )
    parser.add_argument("--env", metavar="NAME", default=URL_VARIABLE)
    parser.add_argument("--guard", nargs=2, metavar=("ROOT", "BINDIR"), help=argparse.SUPPRESS)
    parser.add_argument("--as-postgres", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", metavar="COMMAND")
    args = parser.parse_args(argv)
    if args.guard:
        _guard(Path(args.guard[0]), Path(args.guard[1]), args.as_postgres)
        return 0
    if not args.command:
        parser.error("give a COMMAND to run")
    return _run_with_database(args.env, args.command)


def _run_with_database(variable: str, command: list[str]) -> int:
    if os.environ.get(variable):
        return subprocess.run(command, check=False).returncode
    try:
        server = Postgres.start(durable=True)
    except PostgresUnavailable as reason:
        print(f"{reason}; running without {variable}", file=sys.stderr)
        return subprocess.run(command, check=False).returncode
    try:
        env = {**os.environ, variable: server.create_database("touchpoint")}
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
