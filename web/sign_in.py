"""The address of a one-time sign-in link, built from the console's configured address."""

from __future__ import annotations


def login_url(base_url: str, secret: str) -> str:
    return f"{base_url.rstrip('/')}/login/{secret}"
