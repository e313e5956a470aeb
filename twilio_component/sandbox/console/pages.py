"""The console's static files (one HTML page, one stylesheet, one script), served with its token."""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Final

from twilio_component.sandbox.console.access import CONSOLE_CHALLENGE, ConsoleAccess
from twilio_component.sandbox.server import Reply, Request

__all__ = ["CONSOLE_PREFIX", "ConsolePages"]

CONSOLE_PREFIX: Final = "/_console"
_SLOT: Final = "{{token}}"

_FILES: Final = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/console.css": ("console.css", "text/css; charset=utf-8"),
    "/console.js": ("console.js", "text/javascript; charset=utf-8"),
}
_SECURITY_HEADERS: Final = (
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
)
_UNAUTHORIZED_PAGE: Final = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Console: token required</title>"
    "<h1>401: the console needs its access token</h1><p>Open the <code>console_url</code> "
    "that <code>twilio-component sandbox</code> printed (it ends with <code>?token=…</code>)."
    "</p></html>\n"
)


@functools.cache
def _read(name: str) -> str:
    return (files("twilio_component.sandbox.console") / "static" / name).read_text("utf-8")


class ConsolePages:
    """Answers ``/_console/…``: the page and its two assets, only with the console's token.

    The token travels in each asset's URL (the page links them with it), so every file under
    the prefix answers 401 without it. Nothing is cached, nothing leaves the sandbox.
    """

    def __init__(self, access: ConsoleAccess) -> None:
        self._access = access

    def __call__(self, request: Request) -> Reply:
        rest = request.path[len(CONSOLE_PREFIX) :]
        if rest == "":
            query = f"?{request.query_string}" if request.query_string else ""
            return Reply(308, b"", headers=(("Location", f"{CONSOLE_PREFIX}/{query}"),))
        if not self._access.in_query(request):
            return Reply(
                401,
                _UNAUTHORIZED_PAGE.encode(),
                "text/html; charset=utf-8",
                (*_SECURITY_HEADERS, ("WWW-Authenticate", CONSOLE_CHALLENGE)),
            )
        found = _FILES.get(rest)
        if found is None:
            return Reply(404, b"not found\n", "text/plain; charset=utf-8", _SECURITY_HEADERS)
        if request.method != "GET":
            return Reply(
                405,
                b"use GET\n",
                "text/plain; charset=utf-8",
                (*_SECURITY_HEADERS, ("Allow", "GET")),
            )
        name, content_type = found
        text = _read(name)
        if name == "index.html":
            text = text.replace(_SLOT, self._access.token)
        return Reply(200, text.encode("utf-8"), content_type, _SECURITY_HEADERS)
