"""A private Dovecot IMAP server for tests, on 127.0.0.1 only.

Each instance lives in a temporary folder of its own: its own config (never the system's),
users in a passwd-file, a plain IMAP port (STARTTLS offered) and an IMAPS port, both on
127.0.0.1, with a throwaway self-signed certificate that clients trust through `ca_file`.
The processes are its own: `stop()` ends the master it started (which ends its children)
by pid. Needs root (Dovecot drops to its `dovecot`/`dovenull` users) and `dovecot-imapd`.

In pytest: `from tests.services.dovecot import dovecot` makes the session fixture `dovecot`
available (skipped when Dovecot is missing, failed under CI). Elsewhere:
`server = Dovecot.start()` ... `server.stop()`.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import aioimaplib
import pytest

from tests.waiting import eventually

HOST = "127.0.0.1"
USERS = ("bot@example.com", "customer@example.org")
START_SECONDS = 15.0

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


class DovecotUnavailable(RuntimeError):
    """Dovecot cannot run here at all (not installed, not root): a reason to skip, not a bug."""


class Dovecot:
    """A running private Dovecot. Users are `users` (name → password)."""

    host = HOST

    def __init__(self, root: Path, ports: tuple[int, int], users: dict[str, str]) -> None:
        self.root = root
        self.port, self.tls_port = ports
        self.users = users
        self.ca_file = str(root / "cert.pem")
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, users: Iterable[str] = USERS) -> Dovecot:
        """Start an instance in a new temporary folder; raises `DovecotUnavailable`."""
        binaries = _binaries()
        root = Path(tempfile.mkdtemp(prefix="touchpoint-dovecot-"))
        server = cls(root, _free_ports(), {user: secrets.token_hex(8) for user in users})
        try:
            server._prepare()
            server._launch(binaries["dovecot"])
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        """End the master this instance started (by its pid) and remove the folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # the master ends its own children
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    def kick(self, user: str) -> None:
        """Drop every connection of `user` (each gets `* BYE` and is closed)."""
        self._doveadm("kick", user)

    def log(self) -> str:
        """Dovecot's own log, for a failing test's output."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def append(
        self,
        user: str,
        raw: bytes,
        mailbox: str = "INBOX",
        flags: Sequence[str] = (),
        received: datetime | None = None,
    ) -> int:
        """Deliver `raw` into `mailbox` (created if missing) as `user`; returns its UID.
        `received` is its INTERNALDATE (now when not given), as a restore from a backup keeps
        the dates the mail first arrived on."""
        async with self.imap(user) as client:
            response = await _append(client, raw, mailbox, flags, received)
            if response.result != "OK" and b"TRYCREATE" in b" ".join(response.lines):
                await _expect(client.create(_quoted(mailbox)), "CREATE")
                response = await _append(client, raw, mailbox, flags, received)
        return _appended_uid(response)

    async def set_seen(self, user: str, uid: int, mailbox: str = "INBOX") -> None:
        """Mark a message read, as a person in webmail would."""
        async with self.imap(user) as client:
            await _expect(client.select(_quoted(mailbox)), "SELECT")
            await _expect(client.uid("store", str(uid), "+FLAGS", r"(\Seen)"), "STORE")

    async def flags(self, user: str, uid: int, mailbox: str = "INBOX") -> set[str]:
        async with self.imap(user) as client:
            await _expect(client.select(_quoted(mailbox)), "SELECT")
            lines = await _expect(client.uid("fetch", str(uid), "(UID FLAGS)"), "FETCH")
        found = re.search(rb"FLAGS \(([^)]*)\)", b" ".join(lines))
        return set(found.group(1).decode().split()) if found else set()

    async def create_mailbox(self, user: str, mailbox: str) -> None:
        async with self.imap(user) as client:
            await client.create(_quoted(mailbox))  # "already exists" is fine too

    async def reset_mailbox(self, user: str, mailbox: str = "INBOX") -> None:
        """Empty `mailbox` and give it a new UIDVALIDITY, UIDs starting again at 1.

        Like a server rebuilding a mailbox, this first drops the user's connections.
        """
        await self._disconnect(user)
        if mailbox.upper() == "INBOX":  # Dovecot refuses to delete INBOX: remove its folder
            await asyncio.to_thread(shutil.rmtree, self._inbox(user), True)
            return
        async with self.imap(user) as client:
            await client.delete(_quoted(mailbox))  # absent already is fine
            await _expect(client.create(_quoted(mailbox)), "CREATE")

    @asynccontextmanager
    async def imap(self, user: str) -> AsyncIterator[Any]:
        """A logged-in aioimaplib client on the plain port (loopback, so no TLS needed)."""
        client = aioimaplib.IMAP4(host=self.host, port=self.port, timeout=30)
        try:
            await client.wait_hello_from_server()
            await _expect(client.login(_quoted(user), self.users[user]), "LOGIN")
            yield client
        finally:
            with suppress(Exception):
                await client.logout()
            if client.protocol.transport is not None:
                client.protocol.transport.close()

    def _prepare(self) -> None:
        self.root.chmod(0o755)  # the mail processes run as `dovecot` and must get in
        for name in ("run", "state", "mail", "home"):
            (self.root / name).mkdir()
        owner = _dovecot_account()
        for name in ("mail", "home"):
            os.chown(self.root / name, owner.pw_uid, owner.pw_gid)
        lines = (f"{user}:{{PLAIN}}{password}\n" for user, password in self.users.items())
        (self.root / "users").write_text("".join(lines))
        _make_certificate(self.root)
        (self.root / "dovecot.conf").write_text(_config(self.root, self.port, self.tls_port))

    def _launch(self, dovecot: str) -> None:
        conf = str(self.root / "dovecot.conf")
        with (self.root / "stderr.log").open("wb") as stderr:
            # -F: stays in the foreground, so the master is our child and `stop` can wait for it
            self._process = subprocess.Popen(
                [dovecot, "-F", "-c", conf], stdin=subprocess.DEVNULL, stderr=stderr
            )
        deadline = time.monotonic() + START_SECONDS
        while not (_answers(self.port) and _answers(self.tls_port)):
            if self._process.poll() is not None or time.monotonic() > deadline:
                details = (self.root / "stderr.log").read_text(errors="replace") + self.log()
                raise RuntimeError(f"Dovecot did not start:\n{details}")
            time.sleep(0.05)

    async def _disconnect(self, user: str) -> None:
        """Kick `user` and wait until their sessions are gone (so no one writes the mailbox)."""
        await asyncio.to_thread(self.kick, user)
        await eventually(
            lambda: self._gone(user),
            what=f"{user} disconnected by a kick",
            timeout=10,
            interval=0.05,
            context=self.log,
        )

    async def _gone(self, user: str) -> bool:
        who = await asyncio.to_thread(self._doveadm, "who", "-1", user)
        return user not in who.split()

    def _doveadm(self, *args: str) -> str:
        command = [_binaries()["doveadm"], "-c", str(self.root / "dovecot.conf"), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode not in (0, 68):  # 68: nobody to act on (e.g. no one to kick)
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr or done.stdout}")
        return done.stdout

    def _inbox(self, user: str) -> Path:
        return self.root / "mail" / user / "INBOX"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One private Dovecot for the test session; isolate tests by mailbox or `reset_mailbox`."""
    server = start_or_skip()
    try:
        yield server
    finally:
        server.stop()


def start_or_skip() -> Dovecot:
    try:
        return Dovecot.start()
    except DovecotUnavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}. CI must install dovecot-imapd: see .ci/run")
        pytest.skip(f"no private Dovecot for the IMAP tests: {reason}")


def _binaries() -> dict[str, str]:
    found = {}
    for name in ("dovecot", "doveadm", "openssl"):
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if path is None:
            raise DovecotUnavailable(f"`{name}` is not installed (apt-get install dovecot-imapd)")
        found[name] = path
    if os.geteuid() != 0:
        raise DovecotUnavailable("a private Dovecot needs root (it drops to its own users)")
    return found


def _dovecot_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("dovecot")
    except KeyError:
        raise DovecotUnavailable("there is no `dovecot` system user") from None


def _make_certificate(root: Path) -> None:
    command = [
        *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
        *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        *("-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")),
    ]
    subprocess.run(command, capture_output=True, check=True, timeout=60)


def _config(root: Path, port: int, tls_port: int) -> str:
    return f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {HOST}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
first_valid_uid = 1
# INBOX in a folder of its own, so a test can remove it and get a new UIDVALIDITY
mail_location = maildir:{root}/mail/%u:LAYOUT=fs:INBOX={root}/mail/%u/INBOX
mail_fsync = never
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/home/%u
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


def _free_ports() -> tuple[int, int]:
    with socket.socket() as first, socket.socket() as second:
        first.bind((HOST, 0))
        second.bind((HOST, 0))
        return first.getsockname()[1], second.getsockname()[1]


def _answers(port: int) -> bool:
    with suppress(OSError), socket.create_connection((HOST, port), timeout=1):
        return True
    return False


async def _append(
    client: Any, raw: bytes, mailbox: str, flags: Sequence[str], received: datetime | None
) -> Any:
    flagged = " ".join(flags) or None
    return await client.append(raw, mailbox=_quoted(mailbox), flags=flagged, date=received)


async def _expect(call: Any, what: str) -> list[bytes]:
    response = await call
    if response.result != "OK":
        raise RuntimeError(f"{what} failed: {response.result} {response.lines}")
    return [bytes(line) for line in response.lines]


def _appended_uid(response: Any) -> int:
    found = _APPENDUID.search(b" ".join(bytes(line) for line in response.lines))
    if response.result != "OK" or found is None:
        raise RuntimeError(f"APPEND failed: {response.result} {response.lines}")
    return int(found.group(2))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
