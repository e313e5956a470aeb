"""The sandbox control API under ``/_sandbox/``: inbound messages, read-back, faults, events."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Final

from twilio_component.sandbox.answers import AnswerLog
from twilio_component.sandbox.console import (
    CONSOLE_CHALLENGE,
    CONSOLE_HEADER,
    CONSOLE_PREFIX,
    ConsoleAccess,
    ConsolePages,
)
from twilio_component.sandbox.events import EventHub
from twilio_component.sandbox.faults import Faults
from twilio_component.sandbox.inbound import Inbound, InboundRefused, parse_inbound
from twilio_component.sandbox.numbers import PhoneNumbers
from twilio_component.sandbox.replies import json_reply
from twilio_component.sandbox.server import Reply, Request
from twilio_component.sandbox.store import MessageStore

__all__ = ["PREFIX", "ControlAPI", "SandboxApp", "arm_fault", "armed_faults"]

PREFIX: Final = "/_sandbox"
DEFAULT_DELIVERY_ERROR: Final = 30003

# Fault kinds and the optional numeric settings each takes (name → Faults keyword).
_FAULT_SETTINGS: Final[Mapping[str, tuple[str, ...]]] = {
    "rate_limit": ("retry_after",),
    "fail": ("status",),
    "error_after_create": ("status",),
    "drop_before_create": (),
    "drop_after_create": (),
    "slow": ("seconds",),
    "gateway_page": ("status",),
    "garbled_created": (),
}


# What GET /_sandbox/numbers tells of each number: where its messages' webhooks go.
_NUMBER_FIELDS: Final = ("phone_number", "sid", "sms_url", "sms_method", "status_callback")


class ControlRefused(Exception):
    """A control request that cannot be served: its status, reason and the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class ControlAPI:
    """Answers ``/_sandbox/…`` with JSON, for the sandbox account's credentials only.

    Besides Basic auth (account SID and Auth Token, or an API key) it accepts the console's
    token in the ``X-Sandbox-Console-Token`` header, and in the query string (``?token=``)
    for ``GET /_sandbox/events`` alone, since a browser's EventSource sends no headers.
    """

    def __init__(
        self,
        *,
        authenticate: Callable[[str | None], bool],
        inbound: Inbound,
        store: MessageStore,
        faults: Faults,
        forget_messages: Callable[[], None],
        access: ConsoleAccess | None = None,
        events: EventHub | None = None,
        answers: AnswerLog | None = None,
        reset: Callable[[], None] | None = None,
        numbers: PhoneNumbers | None = None,
        more: Callable[[str, str, Any], Reply | None] | None = None,
    ) -> None:
        #: Other products' endpoints: (method, path, JSON body) → reply, or None: not theirs.
        self._more = more
        self._authenticate = authenticate
        self._inbound = inbound
        self._store = store
        self._faults = faults
        self._forget_messages = forget_messages
        self._access = access
        self._events = events if events is not None else EventHub()
        self._answers = answers if answers is not None else AnswerLog()
        self._reset = reset
        self._numbers = numbers

    def _allowed(self, request: Request) -> bool:
        if self._authenticate(request.headers.get("authorization")):
            return True
        access = self._access
        if access is None:
            return False
        if access.in_header(request):
            return True
        is_events = request.path.rstrip("/") == f"{PREFIX}/events" and request.method == "GET"
        return is_events and access.in_query(request)

    def __call__(self, request: Request) -> Reply:
        if not self._allowed(request):
            # A page offering a (stale) console token must not make the browser ask for a
            # password: only a caller without one is invited to Basic auth.
            offered = CONSOLE_HEADER in request.headers or "token=" in request.query_string
            scheme = CONSOLE_CHALLENGE if offered else 'Basic realm="Twilio sandbox"'
            return _error(
                401,
                "authentication required: Basic auth with the account SID and Auth Token "
                "(or the console's token)",
                headers=(("WWW-Authenticate", scheme),),
            )
        try:
            return self._route(request.method, request.path[len(PREFIX) :].rstrip("/"), request)
        except ControlRefused as refused:
            return _error(refused.status, str(refused), field=refused.field)
        except InboundRefused as refused:
            return _error(refused.status, str(refused), field=refused.field)
        except Exception:  # a sandbox bug still gets a JSON answer
            traceback.print_exc()
            return _error(500, "internal error in the sandbox")

    def _route(self, method: str, path: str, request: Request) -> Reply:
        if path == "/faults" and method == "POST" and self._more is not None:
            other = self._more(method, path, _json_body(request))  # a recipient's call fault
            if other is not None:
                return other
        if path == "/inbound":
            _allow(method, "POST")
            answer = self._inbound.receive(parse_inbound(_json_body(request)))
            return json_reply(201, answer)
        if path == "/messages":
            _allow(method, "GET", "DELETE")
            if method == "DELETE":
                self._forget_messages()
                return Reply(204, b"")
            return json_reply(200, {"messages": self._store.records()})
        if path == "/faults":
            _allow(method, "GET", "POST", "DELETE")
            if method == "DELETE":
                self._faults.clear()
                return Reply(204, b"")
            if method == "POST":
                arm_fault(self._faults, _json_body(request))
            return json_reply(201 if method == "POST" else 200, armed_faults(self._faults))
        if path == "/events":
            _allow(method, "GET")
            return Reply(
                200,
                content_type="text/event-stream; charset=utf-8",
                headers=(("Cache-Control", "no-store"), ("X-Accel-Buffering", "no")),
                stream=self._events.subscribe(),
            )
        if path == "/requests":
            _allow(method, "GET", "DELETE")
            if method == "DELETE":
                self._answers.clear()
                return Reply(204, b"")
            listed = [answer.to_json() for answer in self._answers.answers]
            return json_reply(200, {"requests": listed})
        if path == "/numbers":
            _allow(method, "GET")
            found = self._numbers.all() if self._numbers is not None else []
            listed = [{name: number[name] for name in _NUMBER_FIELDS} for number in found]
            return json_reply(200, {"numbers": listed})
        if path == "/reset":
            _allow(method, "POST")
            if self._reset is None:
                raise ControlRefused(404, "this sandbox has no reset")
            self._reset()
            return Reply(204, b"")
        if path == "/deliveries":
            _allow(method, "GET", "DELETE")
            if method == "DELETE":
                self._inbound.clear()
                return Reply(204, b"")
            listed = [delivery.to_json() for delivery in self._inbound.deliveries]
            return json_reply(200, {"deliveries": listed})
        if self._more is not None:
            body = _json_body(request) if method == "POST" else None
            more = self._more(method, path, body)
            if more is not None:
                return more
        raise ControlRefused(404, f"no such control endpoint: {PREFIX}{path[:128]}")


class SandboxApp:
    """The server's application: ``/_sandbox/…`` to the control API, ``/_console/…`` to the
    console's page, the rest to Twilio's API."""

    def __init__(
        self,
        api: Callable[[Request], Reply],
        control: ControlAPI,
        console: ConsolePages | None = None,
    ) -> None:
        self._api = api
        self._control = control
        self._console = console

    def __call__(self, request: Request) -> Reply:
        path = request.path
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return self._control(request)
        if self._console is not None and (
            path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")
        ):
            return self._console(request)
        return self._api(request)


def arm_fault(faults: Faults, payload: object) -> None:
    """Arm what a POST /_sandbox/faults body asks for; ControlRefused names a bad field."""
    if not isinstance(payload, Mapping):
        raise ControlRefused(400, "the body must be a JSON object")
    kind = payload.get("kind")
    kinds = sorted([*_FAULT_SETTINGS, "undelivered"])
    if kind not in kinds:
        raise ControlRefused(400, f"kind must be one of {', '.join(kinds)}, not {kind!r}", "kind")
    allowed = {"kind", "to", "error_code"} if kind == "undelivered" else {"kind", "count"}
    allowed.update(_FAULT_SETTINGS.get(str(kind), ()))
    unknown = sorted(str(name) for name in payload if name not in allowed)
    if unknown:
        usable = ", ".join(sorted(allowed))
        raise ControlRefused(
            400, f"{unknown[0]!r} does not apply to {kind}: use {usable}", unknown[0]
        )
    try:
        if kind == "undelivered":
            to = payload.get("to")
            if not isinstance(to, str) or not to:
                raise ControlRefused(400, "to (the recipient's number) is required", "to")
            code = payload.get("error_code", DEFAULT_DELIVERY_ERROR)
            _check_number(code, "error_code")
            faults.undelivered(to, code)
            return
        count = payload.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ControlRefused(400, f"count must be an integer >= 1, not {count!r}", "count")
        settings: dict[str, Any] = {}
        for name in _FAULT_SETTINGS[str(kind)]:
            if name in payload:
                settings[name] = _check_number(payload[name], name)
        if kind == "slow" and "seconds" not in settings:
            raise ControlRefused(400, "seconds is required for a slow fault", "seconds")
        getattr(faults, str(kind))(count, **settings)
    except ValueError as problem:
        raise ControlRefused(400, str(problem)) from None


def armed_faults(faults: Faults) -> dict[str, list[dict[str, Any]]]:
    """What GET /_sandbox/faults lists: the create faults in order, then undelivered recipients."""
    listed: list[dict[str, Any]] = [
        {"kind": kind, "count": remaining} for kind, remaining in faults.pending
    ]
    listed.extend(
        {"kind": "undelivered", "to": to, "error_code": code}
        for to, code in faults.undelivered_recipients.items()
    )
    return {"faults": listed}


def _check_number(value: object, field: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlRefused(400, f"{field} must be a number, not {value!r}", field)
    return value


def _json_body(request: Request) -> Any:
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ControlRefused(400, "the body must be JSON (a JSON object)") from None


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ControlRefused(405, f"method {method[:16]} not allowed here: use {'/'.join(allowed)}")


def _error(
    status: int,
    message: str,
    *,
    field: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Reply:
    payload: dict[str, Any] = {"status": status, "error": message}
    if field is not None:
        payload["field"] = field
    return json_reply(status, payload, headers)
