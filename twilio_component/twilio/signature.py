"""X-Twilio-Signature: computing and verifying Twilio's webhook request signatures."""

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit

Params = Mapping[str, str | Sequence[str]]

_DEFAULT_PORTS = {"https": 443, "http": 80}


def _string_to_sign(url: str, params: Params | None) -> str:
    """The URL followed by each parameter name and value, sorted by name then value."""
    parts = [url]
    given: Params = params or {}
    for name in sorted(given):
        value = given[name]
        values = [value] if isinstance(value, str) else sorted(value)
        parts.extend(name + item for item in values)
    return "".join(parts)


def compute_signature(auth_token: str, url: str, params: Params | None = None) -> str:
    """Base64 HMAC-SHA1, keyed by the Auth Token, of the URL and the sorted POST parameters."""
    if not auth_token:
        raise ValueError("an Auth Token is required to compute a Twilio signature")
    digest = hmac.new(
        auth_token.encode("utf-8"), _string_to_sign(url, params).encode("utf-8"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """The URL as given, plus the same URL with its default port added or removed."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    if default is None or not parts.hostname:
        return [url]
    try:
        port = parts.port
    except ValueError:
        return [url]
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if port is None and not hostport.endswith(":"):
        hostport = f"{hostport}:{default}"
    elif port == default:
        hostport = hostport.rsplit(":", 1)[0]
    else:
        return [url]
    other = urlunsplit(parts._replace(netloc=userinfo + at + hostport))
    return [url, other]


def _body_matches(url: str, body: bytes | str) -> bool:
    """Whether the URL's bodySHA256 query parameter is the hex SHA-256 of `body`."""
    claimed = parse_qs(urlsplit(url).query).get("bodySHA256")
    if not claimed:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    actual = hashlib.sha256(raw).hexdigest()
    return hmac.compare_digest(actual.encode("ascii"), claimed[0].lower().encode("utf-8"))


def verify_signature(
    auth_token: str,
    signature: str,
    url: str,
    params: Params | None = None,
    *,
    body: bytes | str | None = None,
) -> bool:
    """Whether `signature` is Twilio's signature of this request.

    For a JSON-bodied webhook pass the raw `body`: its SHA-256 must match the URL's bodySHA256
    parameter and the signature then covers the URL alone. The URL is accepted with or without
    its default port, as Twilio's own validators accept it.
    """
    if body is not None:
        if not _body_matches(url, body):
            return False
        params = None
    given = signature.encode("utf-8")
    matched = False
    for candidate in _url_variants(url):
        expected = compute_signature(auth_token, candidate, params).encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    return matched
