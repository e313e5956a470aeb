"""The send actions (sendSMS, sendMessage): parameters to Twilio's form, its answer to output."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from twilio_component.component import Connection, Invocation
from twilio_component.descriptor import Action
from twilio_component.twilio.client import Credentials, TwilioClient
from twilio_component.twilio.errors import OutcomeUnknownError
from twilio_component.twilio.output import Convert, output_plan, to_output
from twilio_component.twilio.reconcile import find_created_message
from twilio_component.twilio.settings import Settings
from twilio_component.validation import parse_date_time, utc_stamp


def encode_form(action: Action, parameters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Twilio's form fields in descriptor order: lists repeated, booleans true/false, no blanks."""
    form: list[tuple[str, str]] = []
    for prop in action.properties:
        value = parameters.get(prop.name)
        if value is None:
            continue
        if prop.type == "ARRAY":
            form.extend((prop.name, _scalar(item)) for item in value)
        elif prop.type == "OBJECT":
            form.append((prop.name, value if isinstance(value, str) else json.dumps(value)))
        elif prop.type == "DATE_TIME":
            form.append((prop.name, utc_timestamp(value)))
        else:
            form.append((prop.name, _scalar(value)))
        form.extend(prop.raw.get("sendsWith", {}).items())  # e.g. SendAt brings ScheduleType
    return form


def utc_timestamp(value: str) -> str:
    """An ISO 8601 date-time with a zone, as Twilio wants it: ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    parsed = parse_date_time(value)
    if parsed is None:  # validation refuses such a value before it gets here
        raise ValueError(f"{value!r} is not a date and time with a zone")
    return utc_stamp(parsed)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # JSON Schema's integer admits 600.0; Twilio wants 600
    return str(value)


def credentials(connection: Connection) -> Credentials:
    """The account and Basic auth pair of a connection, by its authorization."""
    if connection.authorization == "api_key":
        return Credentials(
            connection["accountSid"], connection["apiKeySid"], connection["apiKeySecret"]
        )
    return Credentials(connection["username"], connection["username"], connection["password"])


def client_and_plan(
    invocation: Invocation,
) -> tuple[TwilioClient, tuple[tuple[str, str, Convert], ...]]:
    """The host's Twilio client and the action's output plan, each made once per host."""
    runtime = invocation.runtime
    client = runtime.shared("twilio.client", lambda: TwilioClient(Settings.of(runtime.settings)))
    plan: tuple[tuple[str, str, Convert], ...] = runtime.shared(
        f"twilio.output.{invocation.action.name}", lambda: output_plan(invocation.action.output)
    )
    return client, plan


def send_message(invocation: Invocation) -> dict[str, Any]:
    """Create one message and return the documented output object.

    With ``Settings.reconcile``, an unknown outcome is followed by a lookup of the message in
    Twilio's log (never by a second send); the message found is returned instead.
    """
    client, plan = client_and_plan(invocation)
    form = encode_form(invocation.action, invocation.parameters)
    caller = credentials(invocation.connection)
    try:
        resource = client.create_message(caller, form)
    except OutcomeUnknownError as unknown:
        if not client.settings.reconcile:
            raise
        outcome = unknown
    else:
        return to_output(resource, plan)
    settings = client.settings
    resource = find_created_message(
        client, caller, form, outcome, delay=settings.reconcile_delay, sleep=settings.retry.sleep
    )
    return to_output(resource, plan)


def find_earlier_message(invocation: Invocation, attempted_at: datetime) -> dict[str, Any] | None:
    """The message an earlier attempt (around ``attempted_at``) created, from Twilio's log.

    None when two lookups (``Settings.reconcile_delay`` apart) find no such message: it was
    not created, and the step may be sent. Several matches, or a lookup that fails, raise
    OutcomeUnknownError (a person must look). Never sends.
    """
    client, plan = client_and_plan(invocation)
    form = encode_form(invocation.action, invocation.parameters)
    fields = dict(form)
    earlier = OutcomeUnknownError(
        "an earlier attempt was cut short before its outcome was recorded",
        to=fields.get("To"),
        from_=fields.get("From") or fields.get("MessagingServiceSid"),
        attempted_at=attempted_at,
    )
    settings = client.settings
    try:
        resource = find_created_message(
            client,
            credentials(invocation.connection),
            form,
            earlier,
            delay=settings.reconcile_delay,
            sleep=settings.retry.sleep,
        )
    except OutcomeUnknownError as unknown:
        if unknown.looked_up and not unknown.matches and unknown.lookup_error is None:
            return None
        raise
    return to_output(resource, plan)
