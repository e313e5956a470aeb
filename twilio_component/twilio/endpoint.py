"""Where the Twilio API is: the base URL from settings or the environment, and its safety rules."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from twilio_component.errors import ConnectionConfigError, Problem

DEFAULT_BASE_URL = "https://api.twilio.com"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (127.0.0.0/8, ::1 or localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_from_environment(environ: Mapping[str, str]) -> str:
    """TWILIO_API_BASE_URL, else api.{edge}.{region}.twilio.com as the official SDKs build it."""
    explicit = environ.get("TWILIO_API_BASE_URL", "").strip()
    if explicit:
        return explicit
    edge = environ.get("TWILIO_EDGE", "").strip()
    region = environ.get("TWILIO_REGION", "").strip() or ("us1" if edge else "")
    host = ".".join(part for part in ("api", edge, region, "twilio", "com") if part)
    return f"https://{host}"


def resolve_base_url(base_url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The API root to use, checked: https anywhere, plain http only on loopback."""
    url = base_url or base_url_from_environment(os.environ if environ is None else environ)
    parts = urlsplit(url)
    problem = None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problem = f"{url!r} is not an http(s) URL"
    elif parts.scheme == "http" and not is_loopback(parts.hostname):
        problem = (
            f"{url!r} uses plain http to a host that is not this machine; only https may leave "
            "the machine (use https://, or http:// on 127.0.0.1 / localhost for a local sandbox)"
        )
    elif parts.username or parts.password or parts.query or parts.fragment:
        problem = f"{url!r} must not carry credentials, a query or a fragment"
    if problem:
        raise ConnectionConfigError([Problem("TWILIO_API_BASE_URL", problem)])
    return url.rstrip("/")
