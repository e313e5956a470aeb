"""Verify (startVerification, checkVerification) and reading (lookupPhoneNumber, getMessage,
listMessages): parameters to Twilio's request, its answer to the output object."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any, Final

from twilio_component.component import Invocation
from twilio_component.twilio.messages import client_and_plan, credentials, encode_form
from twilio_component.twilio.output import to_output
from twilio_component.validation import parse_date_time

__all__ = [
    "check_verification",
    "get_message",
    "list_messages",
    "lookup_phone_number",
    "start_verification",
]

#: Twilio's largest page of a list.
_PAGE: Final = 1000


def start_verification(invocation: Invocation) -> dict[str, Any]:
    """Start a verification (Verify sends a code) and return its output object (pending)."""
    client, plan = client_and_plan(invocation)
    parameters = dict(invocation.parameters)
    service = str(parameters.pop("ServiceSid"))
    form = encode_form(invocation.action, parameters)
    resource = client.start_verification(credentials(invocation.connection), service, form)
    return to_output(resource, plan)


def check_verification(invocation: Invocation) -> dict[str, Any]:
    """Check a code: the output's status is approved (valid true) when it is right, pending
    (valid false) when it is wrong; a verification that is over is Twilio's 20404."""
    client, plan = client_and_plan(invocation)
    parameters = dict(invocation.parameters)
    service = str(parameters.pop("ServiceSid"))
    form = encode_form(invocation.action, parameters)
    resource = client.check_verification(credentials(invocation.connection), service, form)
    return to_output(resource, plan)


def lookup_phone_number(invocation: Invocation) -> dict[str, Any]:
    """Look a number up (Lookup v2): validity, formats, country, and the packages asked."""
    client, plan = client_and_plan(invocation)
    parameters = invocation.parameters
    query: list[tuple[str, str]] = []
    if "CountryCode" in parameters:
        query.append(("CountryCode", str(parameters["CountryCode"])))
    if parameters.get("Fields"):
        query.append(("Fields", ",".join(str(f) for f in parameters["Fields"])))
    number = str(parameters["PhoneNumber"])
    resource = client.lookup(credentials(invocation.connection), number, query)
    return to_output(resource, plan)


def get_message(invocation: Invocation) -> dict[str, Any]:
    """One message as Twilio has it now, as the send actions' output object."""
    client, plan = client_and_plan(invocation)
    sid = str(invocation.parameters["Sid"])
    return to_output(client.fetch_message(credentials(invocation.connection), sid), plan)


def list_messages(invocation: Invocation) -> dict[str, Any]:
    """The messages matching the filters, newest first, at most ``Limit`` (default 50)."""
    client, plan = client_and_plan(invocation)
    parameters = invocation.parameters
    limit = int(parameters.get("Limit", 50))
    query = message_query(parameters)
    query["PageSize"] = str(min(limit, _PAGE))
    pages = -(-limit // _PAGE)
    found: list[Mapping[str, Any]] = []
    for message in client.list_messages(credentials(invocation.connection), query, max_pages=pages):
        found.append(message)
        if len(found) == limit:
            break
    return to_output({"messages": found}, plan)


def message_query(parameters: Mapping[str, Any]) -> dict[str, str]:
    """The Messages list filters of listMessages' parameters (dates as UTC days)."""
    query = {name: str(parameters[name]) for name in ("To", "From") if name in parameters}
    for name, operator in (("DateSentAfter", ">"), ("DateSentBefore", "<")):
        when = parse_date_time(parameters.get(name))
        if when is not None:
            query[f"DateSent{operator}"] = when.astimezone(UTC).date().isoformat()
    return query
