"""Twilio's products beside the 2010 API on the sandbox's one port: Verify (``/v2/Services…``)
and Lookup (``/v2/PhoneNumbers/…``), and their control endpoints (``/_sandbox/verifications``,
``/_sandbox/clock``)."""

from __future__ import annotations

from typing import Any

from twilio_component.sandbox.lookup import PREFIX as LOOKUP_PREFIX
from twilio_component.sandbox.lookup import lookup_reply
from twilio_component.sandbox.replies import error_reply, json_reply, method_not_allowed, not_found
from twilio_component.sandbox.server import Reply
from twilio_component.sandbox.verify import VerifyService

__all__ = ["Products"]


class Products:
    """Routes ``/v2/…`` requests (already authenticated) and the products' control requests."""

    def __init__(self, verify: VerifyService) -> None:
        self.verify = verify

    def __call__(
        self, method: str, path: str, query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Reply:
        if path.startswith(LOOKUP_PREFIX):
            if method != "GET":
                return method_not_allowed(method, path)
            return lookup_reply(path, query)
        if path == "/v2/Services" or path.startswith("/v2/Services/"):
            return self.verify.answer(method, path, form)
        return not_found(path)

    def control(self, method: str, path: str, body: Any) -> Reply | None:
        """``GET /_sandbox/verifications`` and ``POST /_sandbox/clock {"advance": SECONDS}``;
        None for any other path."""
        if path == "/verifications":
            if method == "DELETE":
                self.verify.clear()
                return Reply(204, b"")
            if method != "GET":
                return method_not_allowed(method, path)
            return json_reply(200, {"verifications": self.verify.verifications()})
        if path == "/clock":
            if method == "GET":
                return json_reply(200, {"now": self.verify.now().isoformat()})
            if method != "POST":
                return method_not_allowed(method, path)
            seconds = body.get("advance") if isinstance(body, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                return error_reply(400, 20001, 'give {"advance": SECONDS} (a number, 0 or more)')
            return json_reply(200, {"now": self.verify.advance(float(seconds)).isoformat()})
        return None
