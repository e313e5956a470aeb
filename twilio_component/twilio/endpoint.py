"""Where the Twilio API is: the base URL from settings or the environment, and its safety rules."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

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


_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def base_url_from_environment(environ: Mapping[str, str]) -> str:
    """TWILIO_API_BASE_URL, else api.{edge}.{region}.twilio.com as the official SDKs build it."""
    if "TWILIO_API_BASE_URL" in environ:
        explicit = environ["TWILIO_API_BASE_URL"].strip()
        if not explicit:  # set but empty: never fall back to the real Twilio silently
            raise ConnectionConfigError(
                [
                    Problem(
                        "TWILIO_API_BASE_URL",
                        "is set but empty; give the API root (https://api.twilio.com) or unset it",
                    )
                ]
            )
        return explicit
    edge = environ.get("TWILIO_EDGE", "").strip()
    region = environ.get("TWILIO_REGION", "").strip() or ("us1" if edge else "")
    for variable, value in (("TWILIO_EDGE", edge), ("TWILIO_REGION", region)):
        if value and not _LABEL.fullmatch(value):
            raise ConnectionConfigError(
                [
                    Problem(
                        variable,
                        f"{value!r} is not a region or edge name (letters, digits and -, "
                        "e.g. au1 or sydney)",
                    )
                ]
            )
    host = ".".join(part for part in ("api", edge, region, "twilio", "com") if part)
    return f"https://{host}"


def resolve_base_url(base_url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The API root to use, checked: https anywhere, plain http only on loopback."""
    url = base_url or base_url_from_environment(os.environ if environ is None else environ)
    shown = repr(without_userinfo(url))
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        _ = parts.port  # ValueError when the port is not a number from 0 to 65535
    except ValueError:
        parts, hostname = None, None
    problem = None
    if parts is None or parts.scheme not in ("https", "http") or not hostname:
        problem = f"{shown} is not an http(s) URL"
    elif parts.scheme == "http" and not is_loopback(hostname):
        problem = (
            f"{shown} uses plain http to a host that is not this machine; only https may leave "
            "the machine (use https://, or http:// on 127.0.0.1 / localhost for a local sandbox)"
        )
    elif "@" in parts.netloc or parts.query or parts.fragment:
        problem = (
            f"{shown} must not carry credentials, a query or a fragment; give only the API root "
            "(the connection carries the credentials)"
        )
    if problem:
        raise ConnectionConfigError([Problem("TWILIO_API_BASE_URL", problem)])
    return url.rstrip("/")


def product_base_url(api_base: str, product: str) -> str:
    """The root of another Twilio product (``verify``, ``lookups``) beside the API root: on
    Twilio's own hosts the first label changes (``api.sydney.au1.twilio.com`` becomes
    ``verify.sydney.au1.twilio.com``, as the SDKs route regions and edges); any other root (a
    sandbox, a proxy) serves every product itself and is kept."""
    parts = urlsplit(api_base)
    host = (parts.hostname or "").lower()
    first, _, rest = host.partition(".")
    if first != "api" or not (rest == "twilio.com" or rest.endswith(".twilio.com")):
        return api_base
    netloc = f"{product}.{rest}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``, so it can be shown."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}"
