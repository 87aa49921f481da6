"""A linear look at a mail's MIME structure on its raw bytes, before the parser sees it.

The standard library's parser builds every part before our limits on parts and depth can look
at them: half a million tiny parts cost it minutes and hundreds of MiB, and each level of
nesting makes it test every line against every enclosing boundary. `structure_problem` counts
delimiter lines and nesting the way the parser will find them — header blocks read the way
its feed parser reads them, then a jump from one boundary line of the open multiparts to the
next — and stops as soon as a limit is passed, so a hostile mail costs one pass at most.

It is a cheap early answer with a clear reason, not the guard itself: a structure it reads
differently from the parser (a boundary declared in RFC 2231 pieces, CR-only line ends) is
left to the parser, which runs in a worker with a time and memory limit
(`channels/email/sandbox.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_PARTS = 1_000
MAX_NESTING = 50

# Header lines as email.feedparser tells them (its headerRE): any other line ends the block.
_HEADER_LINES = re.compile(rb"(?:(?:From |[\x21-\x39\x3b-\x7e]*:|[ \t])[^\r\n]*(?:\r\n|\r|\n))*")
_LINE_END = re.compile(rb"\r\n|\r|\n")
_REST_OF_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)?")
_CONTENT_TYPE = re.compile(rb"(?:^|\n)content-type[ \t]*:[ \t]*([^;\s]*)([^\n]*)", re.IGNORECASE)
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_BOUNDARY = re.compile(rb';\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Frame:
    """An open container: a multipart (with its boundary) or an attached message (none)."""

    boundary: bytes | None
    digest: bool = False  # multipart/digest: a part without a type is a message


def structure_problem(raw: bytes) -> str | None:
    """Why the mail is too complex to hand to the parser (too many parts, too deep), or None."""
    return _Scan(raw).run()


class _Scan:
    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._stack: list[_Frame] = []
        self._parts = 0

    def run(self) -> str | None:
        position: int | None = self._enter(0, in_digest=False)
        while True:
            problem = self._problem()
            if problem is not None or position is None or not self._stack:
                return problem
            position = self._next_part(position)

    def _problem(self) -> str | None:
        if self._parts > MAX_PARTS:
            return f"more than {MAX_PARTS:,} MIME parts"
        if len(self._stack) > MAX_NESTING:
            return f"MIME parts nested deeper than {MAX_NESTING}"
        return None

    def _enter(self, position: int, *, in_digest: bool) -> int:
        """Read the header block of a part starting at `position`, open what it declares and
        return where its body starts; an attached message's own header block is read too."""
        while True:
            headers, position = _header_block(self._raw, position)
            kind, boundary = _content_type(headers)
            if kind is None and in_digest:
                kind = b"message/rfc822"
            if kind is not None and kind.startswith(b"multipart/") and boundary:
                self._stack.append(_Frame(boundary, digest=kind == b"multipart/digest"))
                return position
            if kind is None or not _is_message(kind) or len(self._stack) > MAX_NESTING:
                return position
            self._stack.append(_Frame(None))
            in_digest = False

    def _next_part(self, position: int) -> int | None:
        """Jump to the next boundary line of an open multipart and act on it."""
        boundaries = tuple(frame.boundary for frame in self._stack if frame.boundary)
        if not boundaries:
            return None  # only attached messages are open, and nothing can close them
        # from the line break before `position` (a body starts on a line of its own), so that
        # the pattern can begin with a literal, which the regex engine searches for fast
        found = _delimiter(boundaries).search(self._raw, max(position - 1, 0))
        if found is None:
            return None
        level = self._outermost(found.group(1))
        closing = found.group(2) is not None
        del self._stack[level + (0 if closing else 1) :]
        end = found.end()
        if closing:
            return end
        self._parts += 1
        in_digest = self._stack[level].digest
        return self._enter(_after_line(self._raw, end), in_digest=in_digest)

    def _outermost(self, boundary: bytes) -> int:
        """The outermost open multipart with this boundary: the parser lets an enclosing
        multipart's delimiter end everything inside it before an inner one sees the line."""
        for level, frame in enumerate(self._stack):
            if frame.boundary == boundary:
                return level
        raise AssertionError("a delimiter matched no open boundary")


def _header_block(raw: bytes, position: int) -> tuple[bytes, int]:
    """(the header lines, where the body starts): up to an empty line, or up to the first line
    that is not a header line (the parser then counts that line as the body)."""
    end = _HEADER_LINES.match(raw, position)
    assert end is not None  # the pattern matches the empty string too
    blank = _LINE_END.match(raw, end.end())
    return raw[position : end.end()], blank.end() if blank else end.end()


def _content_type(headers: bytes) -> tuple[bytes | None, bytes | None]:
    """(media type, boundary) of the first Content-Type header in the block."""
    found = _CONTENT_TYPE.search(_FOLD.sub(b"", headers))
    if found is None:
        return None, None
    boundary = _BOUNDARY.search(found.group(2))
    token = (boundary.group(1) or boundary.group(2)) if boundary else None
    return found.group(1).lower(), token.rstrip(b" \t") if token is not None else None


def _is_message(kind: bytes) -> bool:
    # the parser reads any message/* body as a mail of its own, except delivery reports
    return kind.startswith(b"message/") and kind != b"message/delivery-status"


def _after_line(raw: bytes, position: int) -> int:
    line = _REST_OF_LINE.match(raw, position)
    assert line is not None
    return line.end()


@lru_cache(maxsize=256)
def _delimiter(boundaries: tuple[bytes, ...]) -> re.Pattern[bytes]:
    """A line `--boundary` or `--boundary--` of any of `boundaries` (trailing blanks allowed),
    as email.feedparser matches them."""
    choices = b"|".join(re.escape(b) for b in sorted(set(boundaries), key=len, reverse=True))
    return re.compile(rb"\n--(" + choices + rb")(--)?[ \t]*\r?$", re.MULTILINE)
