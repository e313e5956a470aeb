"""Twilio's Calls API as the sandbox answers it: create (checked as Twilio checks, test-mode magic
numbers included), fetch, list with filters and paging, update and delete; each call is then
simulated by ``call_flow``."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from twilio_component.sandbox.checks import Refusal
from twilio_component.sandbox.replies import (
    error_reply,
    json_reply,
    method_not_allowed,
    not_found,
    refusal_reply,
)
from twilio_component.sandbox.server import Reply
from twilio_component.sandbox.store import rfc2822

__all__ = ["CallRecord", "CallsAPI", "formatted"]

API_VERSION: Final = "2010-04-01"
EVENTS: Final = frozenset({"initiated", "ringing", "answered", "completed"})
FINAL: Final = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
#: Test-mode magic numbers (FACTS, test credentials): To → (code, message).
MAGIC_TO: Final = {
    "+15005550001": (21217, "Phone number does not appear to be valid"),
    "+15005550002": (21214, "'To' phone number cannot be reached"),
    "+15005550003": (21215, "Geo Permission configuration is not permitting call"),
    "+15005550004": (21216, "Call blocked by Twilio blocklist"),
}
_CALLEE: Final = re.compile(
    r"\+[1-9][0-9]{1,14}|[Ss][Ii][Pp][Ss]?:[^\s@]+@[^\s@]+|client:[A-Za-z0-9_.@-]{1,256}"
)
_DIGITS: Final = re.compile(r"[0-9A-D#*wW]{1,32}")
_SID: Final = re.compile(r"Calls/(CA[0-9a-fA-F]{32}|[^/]+)\.json")
_URL: Final = re.compile(r"https?://[^\s/?#@_]+(?:[/?#]\S*)?", re.IGNORECASE)


@dataclass
class CallRecord:
    """One call: its resource (as the API answers it) and what the simulation needs."""

    resource: dict[str, Any]
    twiml: str | None
    url: str | None
    method: str
    status_callback: str | None
    events: frozenset[str]
    created_at: datetime
    history: list[tuple[str, datetime]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    sequence: int = 0
    #: Set to end the call from outside (update Status=completed or canceled).
    hang_up: threading.Event = field(default_factory=threading.Event)
    #: New instructions from an update (Twiml or Url), taken by the running call.
    redirect: tuple[str | None, str | None, str] | None = None
    #: When it was answered; seconds spoken or played (counted, not waited for); who calls.
    answered_at: datetime | None = None
    spoken: float = 0.0
    recipient: str | None = None

    @property
    def sid(self) -> str:
        return str(self.resource["sid"])

    def record(self) -> dict[str, Any]:
        """The control API's view: the resource, its status history and its transcript."""
        return {
            **self.resource,
            "status_history": [{"status": s, "at": at.isoformat()} for s, at in self.history],
            "transcript": list(self.transcript),
        }


def formatted(number: str) -> str:
    """``(415) 867-5309`` for a NANP number, the number itself otherwise (Twilio's
    ``to_formatted``)."""
    if re.fullmatch(r"\+1[0-9]{10}", number):
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


class CallsAPI:
    """The Calls resource of one sandbox account; thread-safe."""

    def __init__(
        self,
        *,
        account_sid: str,
        own_numbers: Callable[[], set[str]],
        now: Callable[[], datetime],
        start: Callable[[CallRecord], None],
    ) -> None:
        self._account_sid = account_sid
        self._own_numbers = own_numbers
        self._now = now
        self._start = start
        self._lock = threading.Lock()
        self._calls: dict[str, CallRecord] = {}

    # -- the sandbox's side ----------------------------------------------------------------

    def all(self) -> list[CallRecord]:
        """Every call, oldest first."""
        with self._lock:
            return list(self._calls.values())

    def get(self, sid: str) -> CallRecord | None:
        """One call by its SID."""
        with self._lock:
            return self._calls.get(sid)

    def add(self, call: CallRecord) -> None:
        """Keep a call made elsewhere (an inbound one, a dialled leg)."""
        with self._lock:
            self._calls[call.sid] = call

    def clear(self) -> None:
        """Forget every call (those running are hung up)."""
        with self._lock:
            calls, self._calls = list(self._calls.values()), {}
        for call in calls:
            call.hang_up.set()

    def new_call(
        self,
        *,
        to: str,
        from_: str,
        direction: str,
        status: str,
        twiml: str | None = None,
        url: str | None = None,
        method: str = "POST",
        status_callback: str | None = None,
        events: frozenset[str] = frozenset({"completed"}),
        parent: str | None = None,
    ) -> CallRecord:
        """A new call's record, its resource complete (not kept yet)."""
        now = self._now()
        sid = "CA" + os.urandom(16).hex()
        uri = f"/{API_VERSION}/Accounts/{self._account_sid}/Calls/{sid}.json"
        base = uri.removesuffix(".json")
        resource: dict[str, Any] = {
            "sid": sid,
            "date_created": rfc2822(now),
            "date_updated": rfc2822(now),
            "parent_call_sid": parent,
            "account_sid": self._account_sid,
            "to": to,
            "to_formatted": formatted(to),
            "from": from_,
            "from_formatted": formatted(from_),
            "phone_number_sid": None,
            "status": status,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "direction": direction,
            "answered_by": None,
            "api_version": API_VERSION,
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": uri,
            "subresource_uris": {
                name: f"{base}/{part}.json"
                for name, part in (
                    ("feedback", "Feedback"),
                    ("notifications", "Notifications"),
                    ("recordings", "Recordings"),
                    ("payments", "Payments"),
                    ("events", "Events"),
                    ("siprec", "Siprec"),
                    ("streams", "Streams"),
                    ("transcriptions", "Transcriptions"),
                    ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
                    ("user_defined_messages", "UserDefinedMessages"),
                )
            },
        }
        return CallRecord(
            resource, twiml, url, method, status_callback, events, now, [(status, now)]
        )

    def place(self, *, to: str, from_: str, twiml: str) -> CallRecord:
        """Place an outbound call of the sandbox's own (Verify reading a code aloud)."""
        call = self.new_call(
            to=to, from_=from_, direction="outbound-api", status="queued", twiml=twiml
        )
        self.add(call)
        self._start(call)
        return call

    # -- the API ---------------------------------------------------------------------------

    def answer(
        self,
        method: str,
        path: str,
        rest: str,
        query: dict[str, list[str]],
        form: dict[str, list[str]],
    ) -> Reply | None:
        """The answer to ``rest`` (the path after the account) when it is a Calls path."""
        if rest == "Calls.json":
            if method == "POST":
                return self._create(form)
            if method == "GET":
                return self._list(path, query)
            return method_not_allowed(method, path)
        match = _SID.fullmatch(rest)
        if match is None:
            return None
        call = self.get(match.group(1))
        if call is None:
            return not_found(path)
        if method == "GET":
            return json_reply(200, dict(call.resource))
        if method == "DELETE":
            with self._lock:
                self._calls.pop(call.sid, None)
            return Reply(204, b"")
        if method == "POST":
            return self._update(call, form)
        return method_not_allowed(method, path)

    def _create(self, form: dict[str, list[str]]) -> Reply:
        fields = {name: values[0] for name, values in form.items() if values}
        try:
            call = self._checked(fields, form.get("StatusCallbackEvent", []))
        except Refusal as refusal:
            return refusal_reply(refusal)
        with self._lock:
            self._calls[call.sid] = call
        created = dict(call.resource)
        self._start(call)
        return json_reply(201, created)

    def _checked(self, fields: Mapping[str, str], events: list[str]) -> CallRecord:
        to, from_ = fields.get("To", ""), fields.get("From", "")
        if not to:
            raise Refusal(400, 21201, "No 'To' number is specified")
        if not from_:
            raise Refusal(400, 21213, "No 'From' number is specified")
        if to in MAGIC_TO:
            code, message = MAGIC_TO[to]
            raise Refusal(400, code, message)
        if not _CALLEE.fullmatch(to):
            raise Refusal(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if from_ == "+15005550001" or not _CALLEE.fullmatch(from_):
            raise Refusal(400, 21212, f"The 'From' number {from_} is not a valid phone number.")
        if from_.startswith("+") and from_ not in self._own_numbers():
            raise Refusal(
                400, 21210, f"The source phone number provided, {from_}, is not yet verified"
            )
        twiml, url = fields.get("Twiml"), fields.get("Url")
        if not (twiml or url or fields.get("ApplicationSid")):
            raise Refusal(400, 21200, "Url, Twiml or ApplicationSid is required to make a call")
        if twiml is not None and len(twiml) > 4000:  # the code is unverified (FACTS)
            raise Refusal(400, 21200, "Twiml is longer than 4000 characters")
        for name in ("Url", "FallbackUrl", "StatusCallback"):
            value = fields.get(name)
            if value is not None and not _URL.fullmatch(value):
                raise Refusal(400, 21205, f"{name} is not a valid URL: {value[:128]}")
        for name in ("Method", "FallbackMethod", "StatusCallbackMethod"):
            if fields.get(name, "POST").upper() not in ("GET", "POST"):
                raise Refusal(400, 21209, f"{name} must be GET or POST")
        timeout = fields.get("Timeout", "60")
        if not timeout.isdigit() or not 1 <= int(timeout) <= 600:
            raise Refusal(400, 21208, "Timeout must be a number of seconds from 1 to 600")
        digits = fields.get("SendDigits")
        if digits is not None and not _DIGITS.fullmatch(digits):
            raise Refusal(400, 21206, "SendDigits may hold up to 32 of 0-9, A-D, #, *, w and W")
        if any(event not in EVENTS for event in events):
            raise Refusal(
                400, 21200, "StatusCallbackEvent must be initiated, ringing, answered or completed"
            )
        return self.new_call(
            to=to,
            from_=from_,
            direction="outbound-api",
            status="queued",
            twiml=None if url else twiml,  # Twilio ignores Twiml when Url is given too
            url=url,
            method=fields.get("Method", "POST").upper(),
            status_callback=fields.get("StatusCallback"),
            events=frozenset(events) if events else frozenset({"completed"}),
        )

    def _update(self, call: CallRecord, form: dict[str, list[str]]) -> Reply:
        fields = {name: values[0] for name, values in form.items() if values}
        status = fields.get("Status")
        twiml, url = fields.get("Twiml"), fields.get("Url")
        state = call.resource["status"]
        if state in FINAL:
            return error_reply(400, 21220, "Call is not in-progress. Cannot redirect.")
        if status is not None and status not in ("canceled", "completed"):
            return error_reply(400, 21200, "Status must be canceled or completed")
        if twiml is not None and url is not None:
            return error_reply(400, 21200, "Twiml and Url are mutually exclusive")
        if status == "completed" or (status == "canceled" and state in ("queued", "ringing")):
            call.hang_up.set()
        elif twiml is not None or url is not None:
            call.redirect = (twiml, url, fields.get("Method", "POST").upper())
        if status is not None or twiml is not None or url is not None:
            call.resource["date_updated"] = rfc2822(self._now())
        return json_reply(200, dict(call.resource))

    def _list(self, path: str, query: dict[str, list[str]]) -> Reply:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        try:
            size = int(one("PageSize") or 50)
            page = int(one("Page") or 0)
        except ValueError:
            return error_reply(400, 20001, "PageSize and Page must be whole numbers")
        if not 1 <= size <= 1000 or page < 0:
            return error_reply(400, 20001, "PageSize is 1 to 1000 and Page 0 or more")
        wanted = {name: one(name) for name in ("To", "From", "Status", "ParentCallSid")}
        keys = {"To": "to", "From": "from", "Status": "status", "ParentCallSid": "parent_call_sid"}
        found = [
            dict(c.resource)
            for c in reversed(self.all())
            if all(v is None or c.resource[keys[k]] == v for k, v in wanted.items())
        ]
        shown = found[page * size : (page + 1) * size]
        filters = {k: v for k, v in wanted.items() if v is not None}

        def page_uri(number: int) -> str:
            return f"{path}?{urlencode({**filters, 'PageSize': size, 'Page': number})}"

        start = page * size
        return json_reply(
            200,
            {
                "calls": shown,
                "end": start + len(shown) - 1 if shown else start,
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if len(found) > start + size else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": start,
                "uri": page_uri(page),
            },
        )
