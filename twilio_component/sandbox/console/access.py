"""The console's access token: random per sandbox, offered in the page's URL or a header."""

from __future__ import annotations

import hmac
import secrets
from typing import Final
from urllib.parse import parse_qs

from twilio_component.sandbox.server import Request

__all__ = ["CONSOLE_CHALLENGE", "CONSOLE_HEADER", "ConsoleAccess"]

CONSOLE_HEADER: Final = "x-sandbox-console-token"
"""The header the console's script sends its token in (header names are lower-case here)."""
CONSOLE_CHALLENGE: Final = 'ConsoleToken realm="Twilio sandbox console"'
"""The WWW-Authenticate of a 401 to the console: a scheme no browser prompts a password for."""


class ConsoleAccess:
    """Checks the console's token in constant time; the token is never the Auth Token.

    The page is opened with ``?token=…`` in its URL; its script then calls the control API
    with the token in the ``X-Sandbox-Console-Token`` header, or (for the event stream,
    which a browser opens without custom headers) in the query string.
    """

    def __init__(self, token: str | None = None) -> None:
        self._token = token if token is not None else secrets.token_urlsafe(24)
        if not self._token:
            raise ValueError("the console token must not be empty")

    def __repr__(self) -> str:
        return "ConsoleAccess(token=<hidden>)"

    @property
    def token(self) -> str:
        """The secret itself (URL-safe characters only)."""
        return self._token

    def matches(self, offered: str | None) -> bool:
        """Whether `offered` is the token."""
        if not offered:
            return False
        return hmac.compare_digest(offered.encode("utf-8"), self._token.encode("utf-8"))

    def in_query(self, request: Request) -> bool:
        """Whether the request's query string carries the token (``token=…``)."""
        values = parse_qs(request.query_string).get("token", []) if request.query_string else []
        return any(self.matches(value) for value in values)

    def in_header(self, request: Request) -> bool:
        """Whether the request carries the token in the X-Sandbox-Console-Token header."""
        return self.matches(request.headers.get(CONSOLE_HEADER))
