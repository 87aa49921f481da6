"""The linear look at a mail's MIME structure: what it refuses before the parser runs, what it
lets through, and that it sees parts and nesting where the standard library's parser does."""

from __future__ import annotations

from email import policy
from email.message import Message
from email.parser import BytesParser

from channels.email.prescan import MAX_NESTING, MAX_PARTS, structure_problem

HEAD = (
    b"From: Eve <eve@example.org>\r\nTo: shop@example.com\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
)


def mixed(*parts: bytes, boundary: str = "b") -> bytes:
    """The headers and body of a multipart/mixed holding `parts` (each headers + body)."""
    mark = boundary.encode()
    body = b"".join(b"--" + mark + b"\r\n" + part for part in parts)
    return (
        b'Content-Type: multipart/mixed; boundary="' + mark + b'"\r\n\r\n'
        + body + b"--" + mark + b"--\r\n"
    )  # fmt: skip


def text(words: bytes = b"hello") -> bytes:
    return b"Content-Type: text/plain\r\n\r\n" + words + b"\r\n"


def nested(depth: int, *, same_boundary: bool = False) -> bytes:
    """`depth` multiparts, each the only part of the one around it."""
    inner = text()
    for level in range(depth):
        inner = mixed(inner, boundary="b" if same_boundary else f"b{level}")
    return inner


def forwarded(depth: int) -> bytes:
    """A mail attached to a mail, `depth` times."""
    inner = text()
    for _ in range(depth):
        inner = b"Content-Type: message/rfc822\r\n\r\nSubject: fwd\r\n" + inner
    return inner


def parser_view(raw: bytes) -> tuple[int, int]:
    """(parts, deepest nesting) as the standard library's parser builds them."""

    def walk(part: Message, depth: int) -> tuple[int, int]:
        children = part.get_payload() if part.is_multipart() else []
        counts = [walk(child, depth + 1) for child in children if isinstance(child, Message)]
        return 1 + sum(c[0] for c in counts), max([depth, *(c[1] for c in counts)])

    return walk(BytesParser(policy=policy.default).parsebytes(raw), 0)


def test_ordinary_mail_passes() -> None:
    pdf = b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"\r\n\r\n%PDF\r\n'
    alternative = mixed(text(), b"Content-Type: text/html\r\n\r\n<p>hello</p>\r\n", boundary="alt")
    assert structure_problem(HEAD + text()) is None
    assert structure_problem(HEAD + mixed(alternative, pdf, forwarded(2))) is None
    assert structure_problem(b"") is None
    assert structure_problem(b"no header at all\r\n--b\r\n") is None


def test_more_than_a_thousand_parts_are_refused() -> None:
    at_limit = HEAD + mixed(*[text(b"x")] * MAX_PARTS)
    over = HEAD + mixed(*[text(b"x")] * (MAX_PARTS + 1))
    assert parser_view(at_limit)[0] == MAX_PARTS + 1  # the parser's count includes the root
    assert structure_problem(at_limit) is None
    assert structure_problem(over) == "more than 1,000 MIME parts"


def test_half_a_million_tiny_parts_are_refused_on_the_way() -> None:
    raw = (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + b"--b\r\n\r\nx\r\n" * 500_000
    )
    assert structure_problem(raw) == "more than 1,000 MIME parts"


def test_nesting_deeper_than_fifty_is_refused() -> None:
    assert parser_view(HEAD + nested(MAX_NESTING))[1] == MAX_NESTING
    assert structure_problem(HEAD + nested(MAX_NESTING)) is None
    assert structure_problem(HEAD + nested(MAX_NESTING + 1)) == "MIME parts nested deeper than 50"
    assert structure_problem(HEAD + nested(3_000)) == "MIME parts nested deeper than 50"


def test_one_boundary_everywhere_is_many_parts_not_nesting() -> None:
    """The parser ends an inner multipart at any line of an enclosing one's boundary: with one
    boundary everywhere, every delimiter line is the outermost multipart's."""
    raw = HEAD + nested(MAX_NESTING + 10, same_boundary=True)
    assert parser_view(raw)[1] == 1
    assert structure_problem(raw) is None
    raw = HEAD + nested(MAX_PARTS + 1, same_boundary=True)
    assert structure_problem(raw) == "more than 1,000 MIME parts"


def test_mail_attached_to_mail_counts_as_nesting() -> None:
    assert structure_problem(HEAD + forwarded(MAX_NESTING)) is None
    assert structure_problem(HEAD + forwarded(3_000)) == "MIME parts nested deeper than 50"


def digests(depth: int) -> bytes:
    """Digests in digests; their parts have no Content-Type, so each is a mail by default."""
    inner = text()
    for level in range(depth):
        mark = f"d{level}".encode()
        inner = (
            b'Content-Type: multipart/digest; boundary="' + mark + b'"\r\n\r\n'
            + b"--" + mark + b"\r\n\r\nSubject: digested\r\n" + inner + b"--" + mark + b"--\r\n"
        )  # fmt: skip
    return inner


def test_a_digest_holds_mails_even_when_its_parts_do_not_say_so() -> None:
    levels = MAX_NESTING // 2  # a digest and the mail in it: two levels each
    assert parser_view(HEAD + digests(levels))[1] == 2 * levels
    assert structure_problem(HEAD + digests(levels)) is None
    assert structure_problem(HEAD + digests(levels + 1)) == "MIME parts nested deeper than 50"


def test_an_outer_boundary_closes_the_parts_inside_it() -> None:
    """Sixty multiparts that never write their closing line, side by side: the outer boundary
    ends each of them, as it does for the parser, so this is two levels, not sixty."""
    unclosed = [
        f'Content-Type: multipart/mixed; boundary="in{n}"\r\n\r\n--in{n}\r\n'.encode() + text()
        for n in range(60)
    ]
    raw = HEAD + mixed(*unclosed)
    assert parser_view(raw)[1] == 2
    assert structure_problem(raw) is None


def test_lines_that_only_look_like_boundaries_are_not_parts() -> None:
    lookalikes = b"".join(b"--b\r\n--c--\r\n-- \r\n" for _ in range(2 * MAX_PARTS))
    assert structure_problem(HEAD + text(lookalikes)) is None  # not a multipart at all
    other = mixed(text(lookalikes.replace(b"--b\r\n", b"--bb\r\n")))
    assert structure_problem(HEAD + other) is None


def test_a_folded_content_type_and_crlf_or_lf_endings_are_read() -> None:
    folded = (
        b"Content-Type: multipart/mixed;\r\n\tboundary=\"b\"\r\n\r\n"
        + b"".join(b"--b\r\n" + text(b"x") for _ in range(MAX_PARTS + 1))
        + b"--b--\r\n"
    )  # fmt: skip
    assert structure_problem(HEAD + folded) == "more than 1,000 MIME parts"
    assert (
        structure_problem((HEAD + folded).replace(b"\r\n", b"\n")) == "more than 1,000 MIME parts"
    )
