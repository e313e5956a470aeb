"""How the Messages API answers a create that an armed fault strikes, before or after creating."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from twilio_component.sandbox.faults import Fault
from twilio_component.sandbox.replies import error_reply
from twilio_component.sandbox.server import Reply

__all__ = ["after_create", "before_create", "delayed"]

_GATEWAY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
)


def _server_error(status: int) -> Reply:
    code = 20503 if status == 503 else 20500
    message = "Service Unavailable" if status == 503 else "Internal Server Error"
    return error_reply(status, code, message)


def before_create(fault: Fault) -> Reply:
    """The answer of a fault that strikes before anything is created."""
    if fault.kind == "rate_limit":
        headers: tuple[tuple[str, str], ...] = ()
        if fault.retry_after is not None:
            headers = (("Retry-After", f"{fault.retry_after:g}"),)
        return error_reply(429, 20429, "Too Many Requests", headers)
    if fault.kind == "fail":
        return _server_error(fault.status)
    if fault.kind == "gateway_page":
        reason = HTTPStatus(fault.status).phrase
        page = _GATEWAY_PAGE.format(status=fault.status, reason=reason)
        return Reply(fault.status, page.encode(), content_type="text/html")
    return Reply(drop=True)  # drop_before_create


def after_create(fault: Fault | None, resource: dict[str, Any]) -> Reply:
    """The answer to a create that stored `resource`, as the fault (if any) shapes it."""
    body = json.dumps(resource, ensure_ascii=False).encode("utf-8")
    if fault is None:
        return Reply(201, body)
    if fault.kind == "error_after_create":
        return _server_error(fault.status)
    if fault.kind == "drop_after_create":
        return Reply(drop=True)
    if fault.kind == "garbled_created":
        return Reply(201, body[: len(body) // 2])
    return Reply(201, body, delay=fault.seconds)  # slow


def delayed(reply: Reply, delay: float) -> Reply:
    """`reply`, sent only after `delay` seconds."""
    if not delay:
        return reply
    return Reply(reply.status, reply.body, reply.content_type, reply.headers, delay=delay)
