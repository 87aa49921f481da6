"""A `touchpoint` command on a pseudo-terminal of its own, driven as a person at a keyboard.

    with Terminal(env, "shell", "--as", "anna") as anna:
        anna.expect("you> ")
        anna.write("I need a quote\\n")
        anna.press(CTRL_C)
        assert anna.wait() == 0

The pty is the process's controlling terminal, so Ctrl-C typed into it is SIGINT from the
terminal driver, exactly as at a keyboard. Standard library only (`os.openpty`, `subprocess`).
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import termios
import time
from types import TracebackType

CTRL_C = b"\x03"
CTRL_D = b"\x04"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WAIT = 60.0  # seconds: generous, for a subprocess on a loaded machine; nothing measures time


def _take_the_terminal() -> None:
    # In the child, after setsid: the pty on stdin becomes its controlling terminal.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    def __init__(self, env: dict[str, str], *args: str) -> None:
        master, slave = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            stdin=slave, stdout=slave, stderr=slave, env=env,
            start_new_session=True, preexec_fn=_take_the_terminal,
        )  # fmt: skip
        os.close(slave)
        self._master = master
        self._shown = b""

    @property
    def output(self) -> str:
        """What the terminal shows, as a person reads it: no styles, CR LF as one line break."""
        text = ANSI.sub("", self._shown.decode("utf-8", errors="replace"))
        return text.replace("\r\n", "\n")

    def write(self, text: str) -> None:
        os.write(self._master, text.encode())

    def press(self, key: bytes) -> None:
        os.write(self._master, key)

    def expect(self, text: str, timeout: float = WAIT, *, after: int = 0) -> int:
        """Wait until `text` is shown (after position `after`); returns where it ends."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(text, after)) < 0:
            if not self._read_until(deadline):
                raise AssertionError(f"{text!r} never shown; the terminal reads:\n{self.output}")
        return found + len(text)

    def wait(self, timeout: float = WAIT) -> int:
        """The exit status, reading the output meanwhile; a process still running fails."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read_until(min(deadline, time.monotonic() + 0.1))
        self._read_until(time.monotonic() + 0.2)
        code = self.process.poll()
        if code is None:
            raise AssertionError(f"still running after {timeout} s; it shows:\n{self.output}")
        return code

    def _read_until(self, deadline: float) -> bool:
        """Read what is there (waiting until `deadline`); False when nothing more came."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self._master], [], [], remaining)
        if not ready:
            return False
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # the process is gone and the pty closed
            return False
        self._shown += chunk
        return bool(chunk)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        os.close(self._master)
