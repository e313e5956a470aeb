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
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from twilio_component.errors import ConnectionConfigError, ParameterError, Problem
from twilio_component.twilio.endpoint import product_base_url, resolve_base_url
from twilio_component.twilio.errors import (
    OutcomeUnknownError,
    RequestNotSentError,
    TwilioError,
)
from twilio_component.twilio.replies import (
    api_error,
    json_object,
    rate_limited,
    retry_after,
    unknown_status,
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
    #: How a log line names the request.
    verb: str = "create"

    def sid_of(self, resource: Mapping[str, Any] | None) -> str | None:
        """The SID of ``resource`` when it is a resource of this kind, else None."""
        sid = resource.get("sid") if resource is not None else None
        return sid if isinstance(sid, str) and self.sid.fullmatch(sid) else None


_MESSAGE = _Kind("message", re.compile(r"(?:SM|MM)[0-9a-fA-F]{32}"))
_CALL = _Kind("call", re.compile(r"CA[0-9a-fA-F]{32}"))
_VERIFICATION = _Kind("verification", re.compile(r"VE[0-9a-fA-F]{32}"), verb="verify")


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
        self.verify_url = product_base_url(self.base_url, "verify")
        self.lookups_url = product_base_url(self.base_url, "lookups")
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
        url = self.messages_url(credentials.account_sid)
        return self._post(_MESSAGE, url, credentials, form, sender=sender)

    def create_call(
        self, credentials: Credentials, form: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """POST a new call; return Twilio's Call resource. Never places it twice.

        Raises as ``create_message`` does: a call whose request may have reached Twilio is
        OutcomeUnknownError, never retried.
        """
        url = f"{self.base_url}{_calls_path(credentials.account_sid)}"
        return self._post(_CALL, url, credentials, form, sender=dict(form).get("From"))

    def update_call(
        self, credentials: Credentials, sid: str, form: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """POST changes to a call (end it, new TwiML); return the Call resource.

        Not repeated after an unknown outcome either: new TwiML restarts what the call runs.
        """
        url = f"{self.base_url}{_item_path(_calls_path, credentials, _CALL, sid)}"
        return self._post(_CALL, url, credentials, form, accepted=(200,), done="changed")

    def fetch_call(self, credentials: Credentials, sid: str) -> dict[str, Any]:
        """The Call resource ``sid`` as Twilio has it now."""
        return self._resource("GET", _item_path(_calls_path, credentials, _CALL, sid), credentials)

    def fetch_message(self, credentials: Credentials, sid: str) -> dict[str, Any]:
        """The Message resource ``sid`` as Twilio has it now."""
        path = _item_path(_messages_path, credentials, _MESSAGE, sid)
        return self._resource("GET", path, credentials)

    def start_verification(
        self, credentials: Credentials, service_sid: str, form: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """POST a verification (Verify sends a code): never twice, like a message."""
        url = f"{self.verify_url}/v2/Services/{_sid(service_sid, 'VA', 'ServiceSid')}/Verifications"
        return self._post(_VERIFICATION, url, credentials, form, sender=service_sid)

    def check_verification(
        self, credentials: Credentials, service_sid: str, form: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """POST a code to check; each check counts against Verify's five, so never twice."""
        sid = _sid(service_sid, "VA", "ServiceSid")
        url = f"{self.verify_url}/v2/Services/{sid}/VerificationCheck"
        return self._post(
            _VERIFICATION, url, credentials, form, accepted=(200, 201), done="checked"
        )

    def lookup(
        self, credentials: Credentials, number: str, query: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """Lookup v2's answer about ``number`` (E.164 or national with CountryCode)."""
        path = f"/v2/PhoneNumbers/{quote(number, safe='')}"
        if query:
            path += "?" + urlencode(query)
        return self._resource("GET", path, credentials, base=self.lookups_url)

    def _post(
        self,
        kind: _Kind,
        url: str,
        credentials: Credentials,
        form: Sequence[tuple[str, str]],
        *,
        sender: str | None = None,
        accepted: tuple[int, ...] = (201,),
        done: str = "created",
    ) -> dict[str, Any]:
        """POST ``form``; the resource of ``kind`` Twilio answered, or why it is not known."""
        _check(credentials)
        body = _encode_form(form)
        to = dict(form).get("To")
        outcome, attempted_at = self._exchange("POST", url, credentials, body)
        status = outcome.status if isinstance(outcome, Answer) else None
        noun = kind.noun
        if isinstance(outcome, Failure):
            reason = outcome.reason
        elif 200 <= outcome.status < 300:
            resource = json_object(outcome.body)
            sid = kind.sid_of(resource)
            if outcome.status in accepted and resource is not None and sid is not None:
                return resource
            if outcome.status in accepted:
                reason = f"Twilio answered HTTP {outcome.status} but not with a readable {noun}"
            else:
                reason = (
                    f"Twilio answered HTTP {outcome.status} {outcome.reason}".rstrip()
                    + f" instead of {accepted[0]}, so whether the {noun} was {done} is not known"
                )
            reason = credentials.scrub(reason)
            log.info("%s %s: outcome unknown (%s); not retried", kind.verb, noun, reason)
            raise OutcomeUnknownError(
                reason, to=to, from_=sender, attempted_at=attempted_at, status=status, sid=sid
            )
        elif 400 <= outcome.status < 500:
            raise api_error(outcome, credentials)
        else:
            reason = credentials.scrub(unknown_status(outcome))
        log.info("%s %s: outcome unknown (%s); not retried", kind.verb, noun, reason)
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
                raise api_error(outcome, credentials)
            page = json_object(outcome.body) if outcome.status == 200 else None
            if page is None:
                raise TwilioError(
                    f"listing messages failed: {credentials.scrub(unknown_status(outcome))}"
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
        self,
        method: str,
        path: str,
        credentials: Credentials,
        body: bytes | None = None,
        *,
        base: str | None = None,
    ) -> dict[str, Any]:
        """One JSON resource: Twilio's refusal raises TwilioAPIError, anything else TwilioError."""
        _check(credentials)
        outcome, _at = self._exchange(method, f"{base or self.base_url}{path}", credentials, body)
        if isinstance(outcome, Failure):
            raise TwilioError(f"{method} {path.split('?', maxsplit=1)[0]} failed: {outcome.reason}")
        if 400 <= outcome.status < 500:
            raise api_error(outcome, credentials)
        resource = json_object(outcome.body) if 200 <= outcome.status < 300 else None
        if resource is None:
            raise TwilioError(
                f"{method} {path.split('?', maxsplit=1)[0]} failed: "
                f"{credentials.scrub(unknown_status(outcome))}"
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
            if isinstance(outcome, Answer) and not rate_limited(outcome):
                return outcome, attempted_at
            asked = None
            if isinstance(outcome, Answer):
                asked = retry_after(outcome.headers.get("Retry-After"))
            delay = asked if asked is not None else policy.backoff(attempt - 1)
            delay = delay if math.isfinite(delay) and delay > 0 else 0.0
            final = (
                attempt >= policy.max_attempts
                or waited + delay > policy.max_total_wait
                or (isinstance(outcome, Failure) and not outcome.transient)
            )
            if final and isinstance(outcome, Answer):
                raise api_error(
                    outcome, credentials, attempts=attempt, waited=waited, retry_after=asked
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


def _item_path(
    list_path: Callable[[str], str], credentials: Credentials, kind: _Kind, sid: str
) -> str:
    """The path of one resource of a list, its SID checked first (ParameterError)."""
    if not kind.sid.fullmatch(sid):
        raise ParameterError([Problem("Sid", f"{sid!r} is not a {kind.noun} SID")])
    return list_path(credentials.account_sid).removesuffix(".json") + f"/{sid}.json"


def _sid(value: str, prefix: str, name: str) -> str:
    """``value`` when it is a SID with ``prefix``; ParameterError naming ``name`` otherwise."""
    if not re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value):
        raise ParameterError([Problem(name, f"{value!r} is not {prefix} and 32 hex digits")])
    return value
