"""Twilio's Messages API as the sandbox answers it: auth, routing, create, fetch, list."""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import threading
import traceback
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, unquote

from twilio_component.sandbox.account import account_resource
from twilio_component.sandbox.admission import Admission
from twilio_component.sandbox.answers import AnswerLog
from twilio_component.sandbox.calls import CallsAPI
from twilio_component.sandbox.checks import MessageRequest, Refusal, check_create
from twilio_component.sandbox.clock import Clock
from twilio_component.sandbox.fault_replies import after_create, before_create, delayed
from twilio_component.sandbox.faults import Faults
from twilio_component.sandbox.lifecycle import Lifecycle
from twilio_component.sandbox.listing import Listing
from twilio_component.sandbox.media import fetch_media_reply, list_media_reply, media_resources
from twilio_component.sandbox.message_updates import update_message_reply
from twilio_component.sandbox.numbers import PhoneNumbers
from twilio_component.sandbox.optouts import OptOutList
from twilio_component.sandbox.replies import (
    error_reply,
    json_reply,
    method_not_allowed,
    not_found,
    unauthorized,
)
from twilio_component.sandbox.server import Reply, Request
from twilio_component.sandbox.store import (
    MessageStore,
    StoredMessage,
    message_resource,
    message_uri,
    rfc2822,
)
from twilio_component.twilio.segments import count_segments, smart_encode

__all__ = ["MessagesAPI", "RecordedRequest", "error_reply"]

API_VERSION = "2010-04-01"
PREFIX = f"/{API_VERSION}/Accounts/"

_FETCH = re.compile(r"Messages/((?:SM|MM)[0-9a-fA-F]{32}|[^/]+)\.json")
_MEDIA = re.compile(r"Messages/([^/]+)/Media\.json")
_MEDIA_ITEM = re.compile(r"Messages/([^/]+)/Media/([^/]+)\.json")
_NUMBER = re.compile(r"IncomingPhoneNumbers/([^/]+)\.json")
_FORM_ONLY = (
    "The request body was sent as application/json; Twilio's API reads only form-encoded "
    "(application/x-www-form-urlencoded) parameters."
)


#: Answers the other products' paths (``/v2/…``: Verify, Lookup) on the same port:
#: (method, path, query, form) → reply.
Products = Callable[[str, str, dict[str, list[str]], dict[str, list[str]]], Reply]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the sandbox received. The password is never kept."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    auth_username: str | None
    received_at: datetime


class MessagesAPI:
    """Answers requests for one account; `__call__` is the HTTP server's application."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        own_numbers: Collection[str],
        store: MessageStore,
        numbers: PhoneNumbers,
        lifecycle: Lifecycle,
        clock: Clock,
        faults: Faults,
        delivery_failures: Mapping[str, int],
        admission: Admission | None = None,
        answers: AnswerLog | None = None,
        log_size: int = 10_000,
        products: Products | None = None,
        optouts: OptOutList | None = None,
        calls: CallsAPI | None = None,
    ) -> None:
        self._optouts = optouts
        self._calls = calls
        self._account_sid = account_sid
        self._own_numbers = frozenset(own_numbers)
        self._store = store
        self._numbers = numbers
        self._lifecycle = lifecycle
        self._created = rfc2822(clock.now())
        self._clock = clock
        self._faults = faults
        self._failures = dict(delivery_failures)
        self._admission = admission if admission is not None else Admission()
        self._log: deque[RecordedRequest] = deque(maxlen=log_size)
        self._log_lock = threading.Lock()
        self._answers = answers
        self._products = products
        self._credentials: list[tuple[bytes, str]] = []
        self._credentials_lock = threading.Lock()
        self.add_credentials(account_sid, auth_token)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (the newest `log_size`), oldest first."""
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forget the received requests and their answers."""
        with self._log_lock:
            self._log.clear()
        if self._answers is not None:
            self._answers.clear()

    def add_credentials(self, username: str, password: str) -> None:
        """Accept Basic auth with this username and password (an account SID or an API key)."""
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        with self._credentials_lock:
            self._credentials = [c for c in self._credentials if c[1] != username]
            self._credentials.append((token.encode("ascii"), username))

    def __call__(self, request: Request) -> Reply:
        try:
            with self._admission.admit():
                return self._answer(request)
        except Exception:  # a sandbox bug must still get an answer, as Twilio's 500 would
            traceback.print_exc()
            return error_reply(500, 20500, "Internal Server Error")

    def _answer(self, request: Request) -> Reply:
        path = request.path
        query_string = request.query_string
        query = parse_qs(query_string, keep_blank_values=True) if query_string else {}
        form: dict[str, list[str]] = {}
        if request.body and request.method in ("POST", "PUT", "PATCH"):
            try:
                form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                form = {}
        username, authenticated = self._authenticate(request.headers.get("authorization"))
        now = self._clock.now()
        with self._log_lock:
            self._log.append(RecordedRequest(request.method, path, query, form, username, now))
        reply = self._authorized(request, path, query, form) if authenticated else unauthorized()
        if self._answers is not None:
            self._answers.note(request.method, path, form, reply, now)
        return reply

    def _authorized(
        self,
        request: Request,
        path: str,
        query: dict[str, list[str]],
        form: dict[str, list[str]],
    ) -> Reply:
        if path.startswith("/v2/") and self._products is not None:  # Verify, Lookup
            return self._products(request.method, path, query, form)
        if not path.startswith(PREFIX):
            return not_found(path)
        account, _, rest = path[len(PREFIX) :].partition("/")
        if not rest and account.endswith(".json"):
            return self._account(request.method, path, unquote(account[: -len(".json")]))
        if unquote(account) != self._account_sid:
            # Valid credentials, but not for the account in the path.
            return unauthorized()
        is_json = request.method == "POST" and _content_type(request) == "application/json"
        if is_json and rest != "Messages.json":
            return error_reply(400, 20001, _FORM_ONLY)
        return self._route(request.method, path, rest, query, form, is_json=is_json)

    def _route(
        self,
        method: str,
        path: str,
        rest: str,
        query: dict[str, list[str]],
        form: dict[str, list[str]],
        *,
        is_json: bool,
    ) -> Reply:
        if rest == "Messages.json":
            if method == "POST":
                return self._create(form, is_json=is_json)
            if method == "GET":
                return self._list(path, query)
            return method_not_allowed(method, path)
        if rest == "IncomingPhoneNumbers.json":
            if method == "GET":
                return self._numbers.list_reply(path, query)
            return method_not_allowed(method, path)
        if (match := _FETCH.fullmatch(rest)) is not None:
            return self._message(method, path, match.group(1), form)
        if (match := _MEDIA.fullmatch(rest)) is not None:
            if method == "GET":
                return list_media_reply(self._store, path, match.group(1), query)
            return method_not_allowed(method, path)
        if (match := _MEDIA_ITEM.fullmatch(rest)) is not None:
            if method == "GET":
                return fetch_media_reply(self._store, path, match.group(1), match.group(2))
            return method_not_allowed(method, path)
        if self._calls is not None and rest.startswith("Calls"):
            answered = self._calls.answer(method, path, rest, query, form)
            if answered is not None:
                return answered
        if (match := _NUMBER.fullmatch(rest)) is not None:
            if method == "GET":
                return self._numbers.fetch_reply(path, match.group(1))
            if method == "POST":
                return self._numbers.update_reply(path, match.group(1), form, self._clock.now())
            return method_not_allowed(method, path)
        return not_found(path)

    def _message(self, method: str, path: str, sid: str, form: dict[str, list[str]]) -> Reply:
        if method == "GET":
            return self._fetch(path, sid)
        if method == "POST":
            return update_message_reply(
                store=self._store,
                lifecycle=self._lifecycle,
                path=path,
                sid=sid,
                form=form,
                now=self._clock.now(),
            )
        if method == "DELETE":
            if self._store.remove(sid):
                return Reply(204, b"")
            return not_found(path)
        return method_not_allowed(method, path)

    def _account(self, method: str, path: str, sid: str) -> Reply:
        if sid != self._account_sid:
            return unauthorized()
        if method != "GET":
            return method_not_allowed(method, path)
        return json_reply(200, account_resource(self._account_sid, self._created))

    # -- authentication ---------------------------------------------------------------------

    def authenticate(self, header: str | None) -> bool:
        """Whether an Authorization header carries credentials this API accepts."""
        return self._authenticate(header)[1]

    def _authenticate(self, header: str | None) -> tuple[str | None, bool]:
        """(username offered, whether the credentials are right), in constant time per key."""
        if not header:
            return None, False
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return None, False
        given = token.strip().encode("ascii", "replace")
        with self._credentials_lock:
            credentials = list(self._credentials)
        found: str | None = None
        for expected, username in credentials:
            if hmac.compare_digest(expected, given):
                found = username
        if found is not None:
            return found, True
        try:
            decoded = base64.b64decode(given, validate=True)
        except (binascii.Error, ValueError):
            return None, False
        offered = decoded.partition(b":")[0].decode("utf-8", "replace")
        return offered or None, False

    # -- create -----------------------------------------------------------------------------

    def _create(self, form: dict[str, list[str]], *, is_json: bool = False) -> Reply:
        if self._admission.crowded():
            return error_reply(429, 20429, "Too Many Requests")
        fault = self._faults.take()
        if fault is not None and not fault.creates:
            return before_create(fault)
        delay = fault.seconds if fault is not None else 0.0
        now = self._clock.now()
        try:
            if is_json:
                # Twilio reads no parameter from a JSON body, so the first check fails: To.
                raise Refusal(400, 21604, f"A 'To' phone number is required. {_FORM_ONLY}")
            checked = check_create(form, own_numbers=self._own_numbers, now=now)
            if self._optouts is not None and self._optouts.blocks(checked.to, checked.from_):
                raise Refusal(400, 21610, "Attempt to send to unsubscribed recipient")
        except Refusal as refusal:
            reply = json_reply(refusal.status, refusal.body())
            return delayed(reply, delay)
        message = self._store.add(lambda seq: self._new_message(seq, checked, now))
        resource = dict(message.resource)
        resource["subresource_uris"] = dict(resource["subresource_uris"])
        self._lifecycle.begin(message, now)
        return after_create(fault, resource)

    def _new_message(self, seq: int, checked: MessageRequest, now: datetime) -> StoredMessage:
        has_media = bool(checked.media_urls)
        sid = ("MM" if has_media else "SM") + os.urandom(16).hex()
        body = checked.body
        counted = count_segments(smart_encode(body)[0] if checked.smart_encoded else body)
        segments = 1 if has_media or checked.send_as_mms else counted.segments
        if checked.scheduled:
            status = "scheduled"
        elif checked.messaging_service_sid is not None and checked.from_ is None:
            status = "accepted"
        else:
            status = "queued"
        stamp = rfc2822(now)
        uri = message_uri(self._account_sid, sid)
        resource = message_resource(
            account_sid=self._account_sid,
            sid=sid,
            body=body,
            # With a Messaging Service and no sender yet, Twilio says 0 until one is assigned.
            num_segments="0" if status in ("accepted", "scheduled") else str(segments),
            direction="outbound-api",
            sender=checked.from_,
            to=checked.to,
            num_media=len(checked.media_urls),
            status=status,
            stamp=stamp,
            messaging_service_sid=checked.messaging_service_sid,
        )
        return StoredMessage(
            seq=seq,
            resource=resource,
            segments=segments,
            status_callback=checked.status_callback,
            failure_code=self._faults.delivery_failure(checked.to)
            or self._failures.get(_number_of(checked.to)),
            send_at=checked.send_at if checked.scheduled else None,
            media_urls=checked.media_urls,
            created_at=now,
            history=[(status, now)],
            encoding=counted.encoding,
            media=media_resources(
                account_sid=self._account_sid,
                message_uri=uri,
                message_sid=sid,
                urls=checked.media_urls,
                stamp=stamp,
            ),
        )

    # -- fetch and list ---------------------------------------------------------------------

    def _fetch(self, path: str, sid: str) -> Reply:
        resource = self._store.get(sid)
        if resource is None:
            return not_found(path)
        return json_reply(200, resource)

    def _list(self, path: str, query: dict[str, list[str]]) -> Reply:
        try:
            listing = Listing.parse(query)
        except ValueError as problem:
            return error_reply(400, 20001, str(problem))
        if listing.token is None:
            page = self._store.page(listing.wanted, size=listing.size, skip=listing.skip)
        elif listing.token.startswith("PA"):
            page = self._store.page(listing.wanted, size=listing.size, older_than=listing.token[2:])
        else:
            page = self._store.page(listing.wanted, size=listing.size, newer_than=listing.token[2:])
        resources = page.resources
        start = listing.number * listing.size
        current = listing.uri(path, listing.number, listing.token)
        next_uri = None
        if page.has_next and resources:
            next_uri = listing.uri(path, listing.number + 1, "PA" + resources[-1]["sid"])
        previous_uri = None
        if listing.number > 0 and resources:
            previous_uri = listing.uri(path, listing.number - 1, "PB" + resources[0]["sid"])
        payload = {
            "end": start + len(resources) - 1 if resources else start,
            "first_page_uri": listing.uri(path, 0, None),
            "next_page_uri": next_uri,
            "page": listing.number,
            "page_size": listing.size,
            "previous_page_uri": previous_uri,
            "messages": resources,
            "start": start,
            "uri": current,
        }
        return json_reply(200, payload)


def _number_of(address: str) -> str:
    """The phone number of a recipient, without a channel prefix such as whatsapp:."""
    return address.rpartition(":")[2]


def _content_type(request: Request) -> str:
    """The request's media type, lower-case, without parameters such as charset."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()
