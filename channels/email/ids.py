"""Message-IDs for outgoing mail and the References chain that threads a reply (RFC 5322 §3.6.4).

Pure functions: the SMTP sender stores `new_message_id(...)` on the outbox row before sending, and
builds `In-Reply-To` (the parent's ID) and `References` (`references_for(...)`) from stored data.
Nothing here trusts its input: IDs that could not have come from a well-formed `msg-id` are dropped
rather than copied into a header.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from email.utils import make_msgid

# One DNS label, then dot-separated labels: what we accept as the right-hand side of our own IDs.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
# `<left@right>` with no whitespace, brackets, or control characters inside.
_MSG_ID = re.compile(r"<[^<>@\s\x00-\x1f\x7f]+@[^<>@\s\x00-\x1f\x7f]+>")
_MAX_ID_LENGTH = 250


def new_message_id(domain: str) -> str:
    """A fresh `<…@domain>` Message-ID with an unguessable random part.

    `make_msgid` already mixes time, pid and a random number; the extra `secrets` token makes
    our IDs impossible to guess, so a forged In-Reply-To cannot name a reply we are about to send.
    Raises ValueError for a domain that is not a plain host name (IDN domains are IDNA-encoded).
    """
    host = _host_name(domain)
    return make_msgid(idstring=secrets.token_hex(8), domain=host)


def references_for(
    parent_references: Sequence[str], parent_id: str | None, limit: int = 10
) -> tuple[str, ...]:
    """The `References` of a reply: the parent's References, then the parent's own ID.

    RFC 5322 §3.6.4. Malformed or duplicate IDs are dropped; the parent ID always comes last.
    When the chain is longer than `limit`, the first ID (the thread's root, which many clients
    thread on) and the last `limit - 1` are kept.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    parent = normalise_message_id(parent_id or "")
    chain = _unique(normalise_message_id(item) for item in parent_references)
    chain = [item for item in chain if item != parent]
    if parent:
        chain.append(parent)
    if len(chain) <= limit:
        return tuple(chain)
    if limit == 1:
        return (chain[-1],)
    return (chain[0], *chain[-(limit - 1) :])


def normalise_message_id(value: str) -> str:
    """`<left@right>` for a well-formed ID (brackets added if missing), "" for anything else."""
    text = value.strip()
    if text and not text.startswith("<"):
        text = f"<{text}>"
    if len(text) > _MAX_ID_LENGTH or not _MSG_ID.fullmatch(text):
        return ""
    return text


def domain_of(address: str) -> str:
    """The lower-case domain of an address or a Message-ID (`a@B.example`, `<x@b.example>`,
    `Name <a@b.example>`); "" when there is none."""
    text = address.strip()
    if "<" in text:
        text = text[text.rfind("<") + 1 :]
    text = text.split(">", 1)[0].strip()
    _, at, domain = text.rpartition("@")
    if not at:
        return ""
    return domain.strip().rstrip(".").lower()


def _host_name(domain: str) -> str:
    host = domain.strip().rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise ValueError(f"not a host name: {domain!r}") from error
    if len(host) > 253 or not _DOMAIN.fullmatch(host):
        raise ValueError(f"not a host name: {domain!r}")
    return host.lower()


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out
