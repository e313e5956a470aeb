"""Twilio's triggers: incoming messages and status callbacks, verified by X-Twilio-Signature.

Each webhook is checked against the signature Twilio computes over the public URL it called and
the posted fields (``signature``); a request without a valid one is answered 403 and carries no
event. A genuine one is answered with empty TwiML (``<Response/>``, text/xml), which tells
Twilio to send nothing back (plain text would be sent to the user as an SMS, JSON is error
12300). The event object is built from the descriptor's output definition: each property's
``source`` names the posted field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twilio_component.errors import ConnectionConfigError, Problem, TriggerConflictError
from twilio_component.triggers import Event, Reception, TriggerInvocation, WebhookAnswer
from twilio_component.triggers import WebhookRequest as Request
from twilio_component.twilio.client import TwilioClient
from twilio_component.twilio.messages import credentials
from twilio_component.twilio.settings import Settings
from twilio_component.twilio.signature import verify_signature

#: The answer that accepts a webhook and asks Twilio to do nothing more.
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
ACCEPTED = WebhookAnswer(200, EMPTY_TWIML, {"Content-Type": "text/xml"})
FORBIDDEN = WebhookAnswer(
    403,
    b"the X-Twilio-Signature header is missing or does not match this request\n",
    {"Content-Type": "text/plain; charset=utf-8"},
)
NOT_OURS = WebhookAnswer(
    403,
    b"this webhook is for another account or number than this trigger's\n",
    {"Content-Type": "text/plain; charset=utf-8"},
)
#: Where a message is in its life; a callback for a lower rank than one already seen is stale.
STATUS_RANKS: Mapping[str, int] = {
    "queued": 0,
    "accepted": 0,
    "scheduled": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "canceled": 3,
    "read": 4,
}
#: The header Twilio repeats on every retry of one webhook (sent, though not documented).
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
#: Shapes the trigger outputs name, built here rather than read from one field.
TRIGGER_SHAPES = frozenset({"media", "form_fields"})


def verified_fields(request: Request, invocation: TriggerInvocation) -> dict[str, list[str]] | None:
    """The fields Twilio sent, if the request carries Twilio's signature of it; else None.

    A form POST is signed over the URL and its fields; a GET over the URL with its query; a
    JSON body over the URL, whose ``bodySHA256`` query parameter is the hash of the body.
    """
    if invocation.connection.authorization != "basic_auth":
        raise ConnectionConfigError(
            [
                Problem(
                    "authorization",
                    "verifying Twilio's webhook signatures needs the Auth Token: use a "
                    "basic_auth connection (Account SID and Auth Token), not an API key",
                )
            ]
        )
    token = invocation.connection["password"]
    signature = request.headers.get("X-Twilio-Signature", "")
    query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
    kind = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if request.method.upper() == "GET":
        return query if verify_signature(token, signature, request.url) else None
    if kind == "application/json":
        if not verify_signature(token, signature, request.url, body=request.body):
            return None
        try:
            document = json.loads(request.body)
        except ValueError:
            return {}
        if not isinstance(document, dict):
            return {}
        return {k: [v if isinstance(v, str) else json.dumps(v)] for k, v in document.items()}
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    fields = parse_qs(text, keep_blank_values=True)
    return fields if verify_signature(token, signature, request.url, fields) else None


def for_someone_else(fields: Mapping[str, list[str]], invocation: TriggerInvocation) -> bool:
    """Whether a genuine webhook is about another account than the connection's, or another
    number than the trigger's ``PhoneNumber`` (when the receiver knows it)."""
    account = fields.get("AccountSid", [""])[0]
    if account and account != invocation.connection.get("username", account):
        return True
    number = invocation.parameters.get("PhoneNumber")
    return bool(number) and fields.get("To", [number])[0] != number


def event_data(output: Mapping[str, Any], fields: Mapping[str, list[str]]) -> dict[str, Any]:
    """The trigger's event object: each output property from the field its ``source`` names."""
    data: dict[str, Any] = {}
    for prop in output["properties"]:
        shape = prop.get("shape")
        if shape == "form_fields":
            data[prop["name"]] = {name: values[0] for name, values in fields.items() if values}
        elif shape == "media":
            data[prop["name"]] = _media(fields)
        else:
            values = fields.get(prop.get("source", ""), [])
            data[prop["name"]] = _typed(prop["type"], values[0]) if values else None
    return data


def _typed(kind: str, text: str) -> Any:
    if kind == "INTEGER":
        return int(text) if text.isdigit() else None
    return text


def _media(fields: Mapping[str, list[str]]) -> list[dict[str, str | None]]:
    count = _typed("INTEGER", fields.get("NumMedia", ["0"])[0]) or 0
    found = []
    for index in range(min(count, 10)):  # Twilio attaches at most 10
        url = fields.get(f"MediaUrl{index}", [None])[0]
        if url is not None:
            kind = fields.get(f"MediaContentType{index}", [None])[0]
            found.append({"url": url, "contentType": kind})
    return found


def aliases(request: Request) -> tuple[str, ...]:
    """Other identities of a delivery: Twilio's idempotency token, repeated on its retries."""
    token = request.headers.get(IDEMPOTENCY_HEADER)
    return (f"token {token}",) if token else ()


class NumberWebhook:
    """A trigger that points one of the account's numbers at its webhook (a URL field and its
    method field of the IncomingPhoneNumber) and puts back what was there."""

    url_field = "sms_url"
    method_field = "sms_method"
    url_parameter = "SmsUrl"
    method_parameter = "SmsMethod"

    def enable(self, invocation: TriggerInvocation, /, *, take_over: bool) -> dict[str, Any]:
        """Point the number's URL (POST) at the webhook; return its previous URL and method."""
        client, number = self._number(invocation)
        current = number.get(self.url_field) or ""
        if current and current != invocation.webhook_url and not take_over:
            raise TriggerConflictError(
                f"twilio/v1/{invocation.trigger.name}", number["phone_number"], current
            )
        state = {
            "sid": number["sid"],
            self.url_field: current,
            self.method_field: number.get(self.method_field) or "POST",
        }
        form = [(self.url_parameter, invocation.webhook_url), (self.method_parameter, "POST")]
        client.update_incoming_number(credentials(invocation.connection), number["sid"], form)
        return state

    def disable(self, invocation: TriggerInvocation, state: Mapping[str, Any], /) -> None:
        """Put the number's URL and method back as they were before ``enable``, unless it no
        longer points at this webhook (someone changed it since: TriggerConflictError, and it
        is left as it is)."""
        client, number = self._number(invocation)
        current = number.get(self.url_field) or ""
        if current != invocation.webhook_url:
            raise TriggerConflictError(
                f"twilio/v1/{invocation.trigger.name}", number["phone_number"], current
            )
        form = [
            (self.url_parameter, str(state.get(self.url_field, ""))),
            (self.method_parameter, str(state[self.method_field])),
        ]
        client.update_incoming_number(credentials(invocation.connection), number["sid"], form)

    @staticmethod
    def _number(invocation: TriggerInvocation) -> tuple[TwilioClient, dict[str, Any]]:
        runtime = invocation.runtime
        client = runtime.shared(
            "twilio.client", lambda: TwilioClient(Settings.of(runtime.settings))
        )
        wanted = invocation.parameters["PhoneNumber"]
        found = client.incoming_numbers(credentials(invocation.connection), wanted)
        if not found:
            raise ConnectionConfigError(
                [
                    Problem(
                        "PhoneNumber",
                        f"{wanted} is not one of this account's phone numbers "
                        "(IncomingPhoneNumbers); give a number the account owns",
                    )
                ]
            )
        return client, found[0]


class IncomingMessages(NumberWebhook):
    """newIncomingSMS: one event per message received by the number (its SmsUrl points here)."""

    def receive(self, request: Request, invocation: TriggerInvocation, /) -> Reception:
        """Verify the webhook; the message is the event, its SID the identity."""
        fields = verified_fields(request, invocation)
        if fields is None:
            return Reception(FORBIDDEN)
        if for_someone_else(fields, invocation):
            return Reception(NOT_OURS)
        data = event_data(invocation.trigger.output, fields)
        sid = data.get("messageSid") or fields.get("SmsSid", [""])[0]
        if not sid:
            return Reception(ACCEPTED)  # signed but not a message: nothing to run
        return Reception(ACCEPTED, (Event(f"message {sid}", data, aliases=aliases(request)),))


class MessageStatuses:
    """messageStatus: one event per new status of a message (StatusCallback points here)."""

    def receive(self, request: Request, invocation: TriggerInvocation, /) -> Reception:
        """Verify the callback; the identity is the message and status, ranked in its life."""
        fields = verified_fields(request, invocation)
        if fields is None:
            return Reception(FORBIDDEN)
        if for_someone_else(fields, invocation):
            return Reception(NOT_OURS)
        data = event_data(invocation.trigger.output, fields)
        sid, status = data.get("messageSid"), data.get("messageStatus")
        if not sid or not status:
            return Reception(ACCEPTED)
        rank = STATUS_RANKS.get(status, 3)  # an unknown status is taken as final
        event = Event(
            f"status {sid} {status}",
            data,
            sequence=f"message {sid}",
            rank=rank,
            aliases=aliases(request),
        )
        return Reception(ACCEPTED, (event,))

    def enable(self, invocation: TriggerInvocation, /, *, take_over: bool) -> dict[str, Any]:
        """Nothing to register: each message names its StatusCallback when it is sent."""
        return {}

    def disable(self, invocation: TriggerInvocation, state: Mapping[str, Any], /) -> None:
        """Nothing to restore."""
