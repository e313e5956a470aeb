"""Reconciliation: after an unknown outcome, find the message Twilio may have created; never send.

Twilio has no idempotency key for messages, so when a create's outcome is unknown the only way
to learn what happened is to look: list the account's messages To the recipient From the sender
(Twilio's list filters), keep those created around the attempt, and compare the body. The time
is compared here on ``date_created``: Twilio's DateSent filters only match messages already
sent, and a message a moment old is usually still queued.

Exactly one match is returned as the step's message. None, or several (which one would be a
guess), keep the outcome unknown. Nothing here ever POSTs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn

from twilio_component.twilio.client import Credentials, TwilioClient
from twilio_component.twilio.errors import OutcomeUnknownError, TwilioError
from twilio_component.twilio.segments import smart_encode

log = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(seconds=10)
"""How far Twilio's clock (``date_created``, whole seconds) may be from ours."""
PAGE_SIZE = 50
MAX_PAGES = 4
"""At most this many pages (of PAGE_SIZE messages between the same two numbers) are read."""


def find_created_message(
    client: TwilioClient,
    credentials: Credentials,
    form: Sequence[tuple[str, str]],
    unknown: OutcomeUnknownError,
    *,
    delay: float = 1.0,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """The message resource that the attempt behind ``unknown`` created.

    Looks once, and when nothing matches, once more after ``delay`` seconds. Raises
    OutcomeUnknownError when no single message matches (``looked_up`` set) or when the
    lookup itself fails.
    """
    fields = _fields(form)
    since = (unknown.attempted_at or datetime.now(UTC)) - CLOCK_SKEW
    found: list[dict[str, Any]] = []
    for wait in (0.0, delay):
        if wait > 0:
            sleep(wait)
        problem = None
        try:
            found = _matching(client, credentials, fields, since)
        except TwilioError as error:
            problem = str(error).splitlines()[0]
        if problem is not None:  # raised here, after the handler: no chained exception
            _raise(unknown, lookup_error=problem)
        if found:
            break
    if len(found) != 1:
        _raise(unknown, looked_up=True, matches=[str(m.get("sid")) for m in found])
    log.info(
        "outcome was unknown (%s); found message %s in Twilio's log",
        unknown.reason,
        found[0].get("sid"),
    )
    return found[0]


def _raise(
    unknown: OutcomeUnknownError,
    *,
    looked_up: bool = False,
    matches: Sequence[str] = (),
    lookup_error: str | None = None,
) -> NoReturn:
    raise OutcomeUnknownError(
        unknown.reason,
        to=unknown.to,
        from_=unknown.from_,
        attempted_at=unknown.attempted_at,
        status=unknown.status,
        sid=unknown.sid,
        looked_up=looked_up,
        matches=matches,
        lookup_error=lookup_error,
    )


def _fields(form: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for name, value in form:
        fields.setdefault(name, []).append(value)
    return fields


def _matching(
    client: TwilioClient,
    credentials: Credentials,
    fields: Mapping[str, list[str]],
    since: datetime,
) -> list[dict[str, Any]]:
    def one(name: str) -> str | None:
        values = fields.get(name)
        return values[0] if values else None

    to, sender = one("To"), one("From")
    if to is None:
        return []
    query = {"To": to, "PageSize": str(PAGE_SIZE)}
    if sender is not None:
        query["From"] = sender
    until = datetime.now(UTC) + CLOCK_SKEW
    bodies = _bodies(one("Body") or "", one("SmartEncoded") == "true")
    wanted = {
        "to": to,
        "from": sender,
        "messaging_service_sid": one("MessagingServiceSid"),
        "num_media": str(len(fields.get("MediaUrl", []))) if "MediaUrl" in fields else None,
    }
    found = []
    for message in client.list_messages(credentials, query, max_pages=MAX_PAGES):
        created = _created(message.get("date_created"))
        if created is None or not since <= created <= until:
            continue
        if message.get("body") not in bodies:
            continue
        if all(v is None or message.get(k) == v for k, v in wanted.items()):
            found.append(message)
    return found


def _bodies(body: str, smart_encoded: bool) -> set[str]:
    """The bodies Twilio may show for what was sent (Smart Encoding may have replaced some)."""
    return {body, smart_encode(body)[0]} if smart_encoded else {body}


def _created(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        created = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return created if created.tzinfo is not None else created.replace(tzinfo=UTC)
