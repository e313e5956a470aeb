"""The sandbox's voice: the Calls API, the calls it simulates, and their control endpoints
(``GET /_sandbox/calls``, ``POST /_sandbox/calls/inbound``, call faults for a recipient)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from twilio_component.sandbox.call_flow import CALL_FAULTS, CallFlow
from twilio_component.sandbox.calls import CallsAPI
from twilio_component.sandbox.events import EventHub
from twilio_component.sandbox.numbers import PhoneNumbers
from twilio_component.sandbox.replies import error_reply, json_reply, method_not_allowed
from twilio_component.sandbox.server import Reply

__all__ = ["Voice"]


class Voice:
    """Calls for one sandbox account."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        numbers: PhoneNumbers,
        now: Callable[[], datetime],
        send_callback: Callable[[str, dict[str, str]], None],
        timeout: float,
        events: EventHub | None = None,
    ) -> None:
        self._events = events
        own = lambda: {n["phone_number"] for n in numbers.all()}  # noqa: E731
        self.calls = CallsAPI(account_sid=account_sid, own_numbers=own, now=now, start=self._start)
        self.flow = CallFlow(
            account_sid=account_sid,
            auth_token=auth_token,
            calls=self.calls,
            numbers=numbers,
            now=now,
            send_callback=send_callback,
            timeout=timeout,
            changed=self._changed,
        )

    def _changed(self) -> None:
        """Tell the console's stream that a call changed (its status, hence its transcript)."""
        if self._events is not None and self._events.listening:
            self._events.publish("calls", self._listed)

    def _listed(self) -> dict[str, Any]:
        return {"calls": [call.record() for call in self.calls.all()]}

    def _start(self, call: Any) -> None:
        self.flow.start(call)

    def clear(self) -> None:
        """Forget every call and every recipient's behaviour."""
        self.calls.clear()
        self.flow.clear()

    def control(self, method: str, path: str, body: Any) -> Reply | None:
        """The voice control endpoints; None for any other path (or fault kind)."""
        if path == "/faults" and isinstance(body, dict):
            if body.get("kind") not in (*CALL_FAULTS, "press"):
                return None
            try:
                return json_reply(201, self.flow.arm(body))
            except ValueError as problem:
                return error_reply(400, 20001, str(problem))
        if path == "/calls":
            if method != "GET":
                return method_not_allowed(method, path)
            return json_reply(200, self._listed())
        if path == "/calls/inbound":
            if method != "POST":
                return method_not_allowed(method, path)
            fields = body if isinstance(body, dict) else {}
            sender, to = fields.get("From"), fields.get("To")
            if not isinstance(sender, str) or not isinstance(to, str):
                return error_reply(400, 20001, "From and To (the sandbox's number) are required")
            digits = fields.get("Digits")
            try:
                answer = self.flow.inbound(sender, to, str(digits) if digits else None)
            except LookupError as problem:
                return error_reply(404, 20404, str(problem))
            return json_reply(201, answer)
        return None
