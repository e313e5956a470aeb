"""Twilio's call triggers: an incoming call answered with the workflow's TwiML, and call status
callbacks ranked in a call's life; both verified by X-Twilio-Signature like the SMS triggers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from xml.sax.saxutils import escape

from twilio_component.triggers import Event, Reception, TriggerInvocation, WebhookAnswer
from twilio_component.triggers import WebhookRequest as Request
from twilio_component.twilio.triggers import (
    ACCEPTED,
    FORBIDDEN,
    NOT_OURS,
    NumberWebhook,
    aliases,
    event_data,
    for_someone_else,
    verified_fields,
)
from twilio_component.twilio.voice import twiml_problem

__all__ = ["CALL_STATUS_RANKS", "HANG_UP", "CallStatuses", "IncomingCalls"]

#: What a call hears when its workflow gives no answer: Twilio hangs up.
HANG_UP: Final = WebhookAnswer(
    200,
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>',
    {"Content-Type": "text/xml"},
)
#: Where a call is in its life; a callback ranked at or below one already seen is stale.
CALL_STATUS_RANKS: Final[Mapping[str, int]] = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "answered": 3,
    "completed": 4,
    "busy": 4,
    "failed": 4,
    "no-answer": 4,
    "canceled": 4,
}


class IncomingCalls(NumberWebhook):
    """newIncomingCall: one event per call to the number (its VoiceUrl points here); the call
    hears the workflow's ``answer``, resolved after its tasks ran."""

    url_field = "voice_url"
    method_field = "voice_method"
    url_parameter = "VoiceUrl"
    method_parameter = "VoiceMethod"

    def receive(self, request: Request, invocation: TriggerInvocation, /) -> Reception:
        """Verify the webhook; the call is the event, its SID the identity."""
        fields = verified_fields(request, invocation)
        if fields is None:
            return Reception(FORBIDDEN)
        if for_someone_else(fields, invocation):
            return Reception(NOT_OURS)
        data = event_data(invocation.trigger.output, fields)
        sid = data.get("callSid")
        if not sid:
            return Reception(HANG_UP)  # signed but not a call: nothing to run
        return Reception(HANG_UP, (Event(f"call {sid}", data, aliases=aliases(request)),))

    def answer_problem(self, text: str, /) -> str | None:
        """Why a workflow's answer (its references filled with sample text) is no TwiML."""
        return twiml_problem(text)

    def escape(self, text: str, /) -> str:
        """A referenced value as it goes into the TwiML: XML-escaped text."""
        return escape(text, {'"': "&quot;", "'": "&apos;"})

    def answer(self, text: str, /) -> WebhookAnswer:
        """The resolved TwiML as Twilio wants it."""
        return WebhookAnswer(200, text.encode("utf-8"), {"Content-Type": "text/xml"})


class CallStatuses:
    """callStatus: one event per new status of a call (its StatusCallback points here)."""

    def receive(self, request: Request, invocation: TriggerInvocation, /) -> Reception:
        """Verify the callback; the identity is the call and status, ranked in its life."""
        fields = verified_fields(request, invocation)
        if fields is None:
            return Reception(FORBIDDEN)
        if for_someone_else(fields, invocation):
            return Reception(NOT_OURS)
        data = event_data(invocation.trigger.output, fields)
        sid, status = data.get("callSid"), data.get("callStatus")
        if not sid or not status:
            return Reception(ACCEPTED)
        event = Event(
            f"call status {sid} {status}",
            data,
            sequence=f"call {sid}",
            rank=CALL_STATUS_RANKS.get(status, 4),  # an unknown status is taken as final
            aliases=aliases(request),
        )
        return Reception(ACCEPTED, (event,))

    def enable(self, invocation: TriggerInvocation, /, *, take_over: bool) -> dict[str, Any]:
        """Nothing to register: each call names its StatusCallback when it is placed."""
        return {}

    def disable(self, invocation: TriggerInvocation, state: Mapping[str, Any], /) -> None:
        """Nothing to restore."""
