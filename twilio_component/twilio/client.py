"""The Twilio Messages API over pooled connections, retrying only what Twilio never saw.

Retry policy (a contract): a message must never be sent twice. Only two things are retried:

* HTTP 429: Twilio never processes a rate-limited request;
* failures before the request left this machine: connection refused, DNS, connect timeout.

A read timeout, a connection dropped after the request was written, any 5xx, a redirect or
an unreadable answer (a 201 included) are reported as OutcomeUnknownError and never retried.
Only 201 Created with a Message resource is a sent message: any other 2xx (200, 202, 204…)
leaves the outcome unknown (Twilio creates with 201; the message may exist). A 2xx is final: it
is never followed by another POST. Redirects are never followed.

Timeouts and the classification of failures live in ``transport``.

Secrets: the Authorization header is built per request and never logged, kept or put in an
error. A failure of requests or urllib3 becomes a plain value inside its handler and our error
is raised after the handler: no exception chain can carry the request and its headers along.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

from twilio_component.errors import ConnectionConfigError, ParameterError, Problem
from twilio_component.twilio.endpoint import resolve_base_url
from twilio_component.twilio.errors import (
    OutcomeUnknownError,
    RateLimitedError,
    RequestNotSentError,
    TwilioAPIError,
    TwilioError,
)
from twilio_component.twilio.settings import Settings
from twilio_component.twilio.transport import Answer, Failure, Transport

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_MASK = "********"


@dataclass(frozen=True, slots=True)
class _Kind:
    """A resource Twilio creates: its name in messages and the form of its SIDs."""

    noun: str
    sid: re.Pattern[str]

    def sid_of(self, resource: Mapping[str, Any] | None) -> str | None:
        """The SID of ``resource`` when it is a resource of this kind, else None."""
        sid = resource.get("sid") if resource is not None else None
        return sid if isinstance(sid, str) and self.sid.fullmatch(sid) else None

    def verb(self, updated: bool) -> str:
        """How a log line names the request."""
        return "update" if updated else "create"


_MESSAGE = _Kind("message", re.compile(r"(?:SM|MM)[0-9a-fA-F]{32}"))
_CALL = _Kind("call", re.compile(r"CA[0-9a-fA-F]{32}"))


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who is calling: the account in the URL path and the Basic auth pair (kept out of repr)."""

    account_sid: str
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(account_sid={self.account_sid!r}, username={self.username!r})"

    def authorization(self) -> str:
        """The Authorization header value."""
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def problems(self) -> list[Problem]:
        """What makes these credentials unusable; checked before anything is sent."""
        found: list[Problem] = []
        sid: object = self.account_sid
        if not isinstance(sid, str) or not ACCOUNT_SID.fullmatch(sid):
            found.append(
                Problem(
                    "Account SID",
                    f"{sid!r} is not AC followed by 32 hexadecimal digits "
                    "(it goes into the request's URL path)",
                )
            )
        for name, value in (("username", self.username), ("password", self.password)):
            if not isinstance(value, str) or not value:
                found.append(Problem(name, "is required"))
            elif not _encodable(value):
                found.append(Problem(name, "is not valid text (it holds a lone surrogate)"))
        return found

    def scrub(self, text: str) -> str:
        """``text`` with the password and the Authorization value masked (for server text)."""
        if len(self.password) >= 4:
            text = text.replace(self.password, _MASK)
        with contextlib.suppress(UnicodeEncodeError):
            text = text.replace(self.authorization().partition(" ")[2], _MASK)
        return text


class TwilioClient:
    """Calls the Messages API. One per Host; thread-safe; keeps connections alive.

    The environment (proxies, CA bundle) is read once here rather than on every call.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = resolve_base_url(settings.base_url, settings.environ)
        self._transport = Transport(settings, self.base_url)

    def __repr__(self) -> str:
        return f"TwilioClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._transport.close()

    # -- API --------------------------------------------------------------------------------

    def messages_url(self, account_sid: str) -> str:
        """The Messages list URL of an account."""
        return f"{self.base_url}{_messages_path(account_sid)}"

    def create_message(
        self, credentials: Credentials, form: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """POST a new message; return Twilio's Message resource. Never sends it twice.

        Raises ConnectionConfigError or ParameterError before sending anything, TwilioAPIError
        (RateLimitedError) when Twilio refused, RequestNotSentError when Twilio could not be
        reached, OutcomeUnknownError when the message may or may not exist.
        """
        fields = dict(form)
        sender = fields.get("From") or fields.get("MessagingServiceSid")
        return self._create(_MESSAGE, _messages_path, credentials, form, sender=sender)

    def create_call(
        self, credentials: Credentials, form: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """POST a new call; return Twilio's Call resource. Never places it twice.

        Raises as ``create_message`` does: a call whose request may have reached Twilio is
        OutcomeUnknownError, never retried.
        """
        return self._create(_CALL, _calls_path, credentials, form, sender=dict(form).get("From"))

    def update_call(
        self, credentials: Credentials, sid: str, form: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """POST changes to a call (end it, new TwiML); return the Call resource.

        Not repeated after an unknown outcome either: new TwiML restarts what the call runs.
        """
        if not _CALL.sid.fullmatch(sid):
            raise ParameterError([Problem("Sid", f"{sid!r} is not a Call SID (CA…)")])
        path = _calls_path(credentials.account_sid).removesuffix(".json") + f"/{sid}.json"
        return self._create(_CALL, lambda _account: path, credentials, form, updated=True)

    def fetch_call(self, credentials: Credentials, sid: str) -> dict[str, Any]:
        """The Call resource ``sid`` as Twilio has it now."""
        if not _CALL.sid.fullmatch(sid):
            raise ParameterError([Problem("Sid", f"{sid!r} is not a Call SID (CA…)")])
        path = _calls_path(credentials.account_sid).removesuffix(".json") + f"/{sid}.json"
        return self._resource("GET", path, credentials)

    def _create(
        self,
        kind: _Kind,
        path_of: Callable[[str], str],
        credentials: Credentials,
        form: Sequence[tuple[str, str]],
        *,
        sender: str | None = None,
        updated: bool = False,
    ) -> dict[str, Any]:
        """POST ``form``; the resource of ``kind`` Twilio answered, or why it is not known."""
        _check(credentials)
        body = _encode_form(form)
        to = dict(form).get("To")
        outcome, attempted_at = self._exchange(
            "POST", f"{self.base_url}{path_of(credentials.account_sid)}", credentials, body
        )
        status = outcome.status if isinstance(outcome, Answer) else None
        expected = 200 if updated else 201
        noun = kind.noun
        if isinstance(outcome, Failure):
            reason = outcome.reason
        elif 200 <= outcome.status < 300:
            resource = _json_object(outcome.body)
            sid = kind.sid_of(resource)
            if outcome.status == expected and resource is not None and sid is not None:
                return resource
            if outcome.status == expected:
                reason = f"Twilio answered HTTP {expected} but not with a readable {noun}"
            else:
                reason = (
                    f"Twilio answered HTTP {outcome.status} {outcome.reason}".rstrip()
                    + f" instead of {expected}, so whether the {noun} was "
                    + ("changed" if updated else "created")
                    + " is not known"
                )
            reason = credentials.scrub(reason)
            log.info("%s %s: outcome unknown (%s); not retried", kind.verb(updated), noun, reason)
            raise OutcomeUnknownError(
                reason, to=to, from_=sender, attempted_at=attempted_at, status=status, sid=sid
            )
        elif 400 <= outcome.status < 500:
            raise _api_error(outcome, credentials)
        else:
            reason = credentials.scrub(_unknown_status(outcome))
        log.info("%s %s: outcome unknown (%s); not retried", kind.verb(updated), noun, reason)
        raise OutcomeUnknownError(
            reason, to=to, from_=sender, attempted_at=attempted_at, status=status
        )

    def list_messages(
        self, credentials: Credentials, query: Mapping[str, str], *, max_pages: int = 1
    ) -> Iterator[dict[str, Any]]:
        """Messages matching ``query`` (To, From, PageSize…), page after page, as Twilio lists
        them (newest first), fetching at most ``max_pages`` pages, each only when needed."""
        _check(credentials)
        path = _messages_path(credentials.account_sid)
        url = f"{self.base_url}{path}?{urlencode(dict(query))}"
        for _ in range(max_pages):
            outcome, _at = self._exchange("GET", url, credentials, None)
            if isinstance(outcome, Failure):
                raise TwilioError(f"listing messages failed: {outcome.reason}")
            if 400 <= outcome.status < 500:
                raise _api_error(outcome, credentials)
            page = _json_object(outcome.body) if outcome.status == 200 else None
            if page is None:
                raise TwilioError(
                    f"listing messages failed: {credentials.scrub(_unknown_status(outcome))}"
                )
            messages = page.get("messages")
            if isinstance(messages, list):
                yield from (m for m in messages if isinstance(m, dict))
            next_uri = page.get("next_page_uri")
            if not isinstance(next_uri, str) or not next_uri.startswith(path + "?"):
                return
            url = f"{self.base_url}{next_uri}"

    def incoming_numbers(self, credentials: Credentials, phone_number: str) -> list[dict[str, Any]]:
        """The account's IncomingPhoneNumbers whose PhoneNumber is ``phone_number``."""
        query = urlencode({"PhoneNumber": phone_number})
        page = self._resource(
            "GET", _numbers_path(credentials.account_sid) + "?" + query, credentials
        )
        numbers = page.get("incoming_phone_numbers")
        return [n for n in numbers if isinstance(n, dict)] if isinstance(numbers, list) else []

    def update_incoming_number(
        self, credentials: Credentials, sid: str, form: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """Update an IncomingPhoneNumber (e.g. its SmsUrl); return the updated resource.

        Setting a webhook twice sets the same value, so unlike a message create this is
        safe to repeat after an unknown outcome.
        """
        if not re.fullmatch(r"PN[0-9a-fA-F]{32}", sid):
            raise TwilioError(f"{sid!r} is not an IncomingPhoneNumber SID (PN…)")
        path = _numbers_path(credentials.account_sid).removesuffix(".json") + f"/{sid}.json"
        return self._resource("POST", path, credentials, _encode_form(form))

    def _resource(
        self, method: str, path: str, credentials: Credentials, body: bytes | None = None
    ) -> dict[str, Any]:
        """One JSON resource: Twilio's refusal raises TwilioAPIError, anything else TwilioError."""
        _check(credentials)
        outcome, _at = self._exchange(method, f"{self.base_url}{path}", credentials, body)
        if isinstance(outcome, Failure):
            raise TwilioError(f"{method} {path.split('?', maxsplit=1)[0]} failed: {outcome.reason}")
        if 400 <= outcome.status < 500:
            raise _api_error(outcome, credentials)
        resource = _json_object(outcome.body) if 200 <= outcome.status < 300 else None
        if resource is None:
            raise TwilioError(
                f"{method} {path.split('?', maxsplit=1)[0]} failed: "
                f"{credentials.scrub(_unknown_status(outcome))}"
            )
        return resource

    # -- attempts ---------------------------------------------------------------------------

    def _exchange(
        self, method: str, url: str, credentials: Credentials, body: bytes | None
    ) -> tuple[Answer | Failure, datetime]:
        """Send until an answer other than 429 or a failure after sending; retry only 429s and
        failures before the request left. Returns the outcome and when its attempt began."""
        policy = self.settings.retry
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            attempted_at = datetime.now(UTC)
            log.debug("%s %s: attempt %d", method, url, attempt)
            outcome = self._transport.send(method, url, credentials.authorization(), body)
            if isinstance(outcome, Failure) and outcome.sent:
                return outcome, attempted_at
            if isinstance(outcome, Answer) and outcome.status != 429:
                return outcome, attempted_at
            retry_after = None
            if isinstance(outcome, Answer):
                retry_after = _retry_after(outcome.headers.get("Retry-After"))
            delay = retry_after if retry_after is not None else policy.backoff(attempt - 1)
            delay = delay if math.isfinite(delay) and delay > 0 else 0.0
            final = (
                attempt >= policy.max_attempts
                or waited + delay > policy.max_total_wait
                or (isinstance(outcome, Failure) and not outcome.transient)
            )
            if final and isinstance(outcome, Answer):
                raise _api_error(
                    outcome, credentials, attempts=attempt, waited=waited, retry_after=retry_after
                )
            if final and isinstance(outcome, Failure):
                raise RequestNotSentError(outcome.reason, base_url=self.base_url, attempts=attempt)
            what = "HTTP 429" if isinstance(outcome, Answer) else outcome.reason
            log.info(
                "%s %s: %s; retrying in %.2f s (attempt %d)", method, url, what, delay, attempt
            )
            policy.sleep(delay)
            waited += delay


def _check(credentials: Credentials) -> None:
    problems = credentials.problems()
    if problems:
        raise ConnectionConfigError(problems)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encode_form(form: Sequence[tuple[str, str]]) -> bytes:
    bad = [
        Problem(name, "is not valid text (it holds a lone surrogate); nothing was sent")
        for name, value in form
        if not _encodable(value)
    ]
    if bad:
        raise ParameterError(bad)
    return urlencode(form).encode("ascii")


def _numbers_path(account_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{quote(account_sid, safe='')}/IncomingPhoneNumbers.json"


def _messages_path(account_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{quote(account_sid, safe='')}/Messages.json"


def _calls_path(account_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{quote(account_sid, safe='')}/Calls.json"


def _retry_after(value: str | None) -> float | None:
    """Seconds asked for by a Retry-After header, or None when it is absent or unreadable.

    Either delay-seconds (``120``) or an HTTP date (RFC 7231: IMF-fixdate ``Wed, 21 Oct 2026
    07:28:00 GMT``, or the obsolete RFC 850 and asctime forms), read as the seconds from now
    until then, 0 when it has passed. A date without a zone is GMT, as HTTP dates always are.
    The caller bounds the wait as every wait: beyond the policy's budget, no retry.
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), 1e9)  # "inf" or a far date: more than any wait budget


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _unknown_status(answer: Answer) -> str:
    status = answer.status
    if 300 <= status < 400:
        return f"HTTP {status}, a redirect, which is never followed"
    error = _json_object(answer.body) or {}
    message = _text(error.get("message"))
    if message:
        return f"Twilio answered HTTP {status}: {message[:300]}"
    kind = answer.headers.get("Content-Type", "").split(";")[0] or "no content type"
    return f"HTTP {status} {answer.reason} ({kind}) from a gateway or proxy on the way to Twilio"


def _api_error(
    answer: Answer,
    credentials: Credentials,
    *,
    attempts: int = 1,
    waited: float = 0.0,
    retry_after: float | None = None,
) -> TwilioAPIError:
    error = _json_object(answer.body) or {}
    code = error.get("code")
    scrub = credentials.scrub
    message = scrub(_text(error.get("message")) or answer.reason or f"HTTP {answer.status}")
    details: dict[str, Any] = {
        "status": answer.status,
        "code": code if isinstance(code, int) and not isinstance(code, bool) else None,
        "more_info": scrub(more) if (more := _text(error.get("more_info"))) else None,
        "detail": scrub(detail) if (detail := _text(error.get("detail"))) else None,
    }
    if answer.status == 429:
        return RateLimitedError(
            message, attempts=attempts, retry_after=retry_after, waited=waited, **details
        )
    return TwilioAPIError(message, **details)
