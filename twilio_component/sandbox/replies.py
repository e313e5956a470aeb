"""Answers every sandbox endpoint shares: JSON bodies and Twilio's error replies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from twilio_component.sandbox.checks import Refusal
from twilio_component.sandbox.server import Reply

__all__ = [
    "error_reply",
    "json_reply",
    "method_not_allowed",
    "not_found",
    "refusal_reply",
    "unauthorized",
]


def json_reply(
    status: int, payload: Mapping[str, Any], headers: tuple[tuple[str, str], ...] = ()
) -> Reply:
    """`payload` as UTF-8 JSON with `status`."""
    return Reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), headers=headers)


def error_reply(
    status: int, code: int, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> Reply:
    """A Twilio error answer: ``{"code", "message", "more_info", "status"}`` as JSON."""
    return json_reply(status, Refusal(status, code, message).body(), headers)


def refusal_reply(refusal: Refusal) -> Reply:
    """The answer for a refused request."""
    return json_reply(refusal.status, refusal.body())


def unauthorized() -> Reply:
    """401 with code 20003, as Twilio answers missing or wrong credentials."""
    return error_reply(
        401, 20003, "Authenticate", (("WWW-Authenticate", 'Basic realm="Twilio API"'),)
    )


def not_found(path: str) -> Reply:
    """404 with code 20404."""
    return error_reply(404, 20404, f"The requested resource {path[:256]} was not found")


def method_not_allowed(method: str, path: str) -> Reply:
    """405 with code 20004."""
    return error_reply(405, 20004, f"Method {method[:16]} not allowed on {path[:256]}")
