"""What a webhook URL may be, and how one is shown.

Events carry customers' names, addresses and phone numbers, so they travel over HTTPS; plain
HTTP is accepted only to this machine (127.0.0.0/8, ::1, localhost), where nothing crosses a
network. A URL may hold credentials (`https://user:password@crm.example/hook`, a token in the
query): it is stored as given and sent to, but shown, logged and quoted in errors only as
`shown_url` prints it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

MASK = "***"
TOKEN_LENGTH = 8
RULE = "a webhook URL must be https:// (http:// only to 127.0.0.0/8, ::1 or localhost)"


class BadWebhookUrl(ValueError):
    """The URL cannot be used; the message is one line and quotes only its shown form."""


def check_url(url: str) -> str:
    """The URL, stripped, or `BadWebhookUrl` saying why it cannot be used."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port out of range raises here)
    except ValueError:
        raise BadWebhookUrl(f"{RULE}; this is not a URL") from None
    if any(character.isspace() for character in url) or not parts.hostname:
        raise BadWebhookUrl(f"{RULE}; {shown_url(url)!r} has no host")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname)):
        return url
    raise BadWebhookUrl(f"{RULE}, not {shown_url(url)}")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown_url(url: str) -> str:
    """The URL without its secrets: a password and query values masked, no fragment."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return MASK
    user = f"{parts.username}:{MASK}@" if parts.password else _user(parts)
    query = "&".join(_masked(pair) for pair in parts.query.split("&")) if parts.query else ""
    return f"{parts.scheme}://{user}{host}{parts.path}" + (f"?{query}" if query else "")


def _user(parts: SplitResult) -> str:
    return f"{MASK}@" if parts.username else ""  # a lone user name is often a token itself


def _masked(pair: str) -> str:
    name, equals, _ = pair.partition("=")
    return f"{name}={MASK}" if equals else MASK


def secrets_of(url: str) -> list[str]:
    """The parts of a URL that are secret, to register with `bot.redaction`: the password (or a
    lone user name), and query values long enough to be tokens rather than words."""
    parts = urlsplit(url)
    tokens = [pair.partition("=")[2] for pair in parts.query.split("&")]
    user = parts.password or parts.username
    return [*([user] if user else []), *(t for t in tokens if len(t) >= TOKEN_LENGTH)]
