"""Reps' secret reply addresses: `sales+r<token>@example.com` on `EMAIL_FROM`'s mailbox.

Every mail to a rep carries the rep's token in its Reply-To; a rep's answer comes back to that
address (a plus address reaches the same mailbox on nearly every mail system), and the token in
its To, Cc or Delivered-To is what shows the answer is the rep's. A From line proves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import getaddresses

TOKEN = re.compile(r"[0-9a-f]{8,64}")
MARK = "+r"


def reply_address(base: str, token: str) -> str:
    """`base` (an address) with the token as its plus part: `sales+r1a2b...@example.com`."""
    local, _, domain = base.partition("@")
    return f"{local}{MARK}{token}@{domain}"


def token_addressed(base: str, recipients: Iterable[str]) -> str | None:
    """The token of the first of `recipients` that is `base` plus a token, or None."""
    local, _, domain = base.lower().partition("@")
    prefix = f"{local}{MARK}"
    for _, address in getaddresses([value for value in recipients if value]):
        mailbox, _, host = address.lower().partition("@")
        token = mailbox.removeprefix(prefix) if mailbox.startswith(prefix) else ""
        if host == domain and TOKEN.fullmatch(token):
            return token
    return None
