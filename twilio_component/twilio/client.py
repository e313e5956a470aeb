"""The Twilio Messages API over pooled connections, retrying only what Twilio never saw.

Retry policy (a contract): a message must never be sent twice. Only two things are retried:

* HTTP 429: Twilio never processes a rate-limited request;
* failures before the request left this machine: connection refused, DNS, connect timeout.

A read timeout, a connection dropped after the request was written, any 5xx, a redirect or
an unreadable answer (a 201 included) are reported as OutcomeUnknownError and never retried.
A 2xx is final: it is never followed by another POST. Redirects are never followed.

Timeouts: a connection must be made within ``connect_timeout``; once the request is written,
the complete answer must arrive within ``read_timeout``. The read timeout of requests only
bounds each socket read, so a watchdog thread also shuts the socket of an answer still being
read when its deadline passes: a server trickling one byte at a time cannot hold a step.
(Through a SOCKS proxy only the per-read timeout applies.)

Secrets: the Authorization header is built per request and never logged, kept or put in an
error. A failure of requests or urllib3 becomes a plain value inside its handler and our error
is raised after the handler: no exception chain can carry the request and its headers along.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import itertools
import json
import logging
import math
import platform
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.exceptions
import urllib3.poolmanager
import urllib3.response
from requests.structures import CaseInsensitiveDict

from twilio_component import __version__
from twilio_component.errors import (
    ConnectionConfigError,
    OutcomeUnknownError,
    ParameterError,
    Problem,
    RateLimitedError,
    RequestNotSentError,
    TwilioAPIError,
    TwilioError,
)
from twilio_component.settings import Settings
from twilio_component.twilio.endpoint import resolve_base_url

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
USER_AGENT = (
    f"twilio-component/{__version__} ({platform.system()} {platform.machine()}) "
    f"Python/{platform.python_version()} requests/{requests.__version__}"
)
MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""A longer answer is cut off (a message is about 1 KiB, a page of 50 about 60 KiB)."""

ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_MASK = "********"


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


# -- one exchange ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Answer:
    """An HTTP answer read completely."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class _Failure:
    """No complete answer: why, whether the request may have reached the server, and whether
    trying again is worthwhile (only for requests that never left)."""

    reason: str
    sent: bool
    transient: bool = False


class _Watchdog:
    """Shuts the socket of every answer still being read when its deadline passes.

    One daemon thread serves every client; it starts on first use and sleeps until the
    soonest deadline. Watching costs a lock and a dict entry per request.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._watched: dict[int, tuple[float, object]] = {}
        self._expired: set[int] = set()
        self._tokens = itertools.count(1)
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None

    def watch(self, sock: object, seconds: float) -> int:
        """Shut ``sock`` in ``seconds`` unless released first; returns a release token."""
        deadline = time.monotonic() + seconds
        token = next(self._tokens)
        with self._lock:
            self._watched[token] = (deadline, sock)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="twilio-component-deadlines", daemon=True
                )
                self._thread.start()
            elif deadline < self._wake_at:
                self._lock.notify()
        return token

    def release(self, token: int) -> bool:
        """Stop watching; True when the deadline passed (and the socket was shut) first."""
        with self._lock:
            self._watched.pop(token, None)
            if token in self._expired:
                self._expired.discard(token)
                return True
            return False

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for token, (deadline, sock) in list(self._watched.items()):
                    if deadline <= now:
                        del self._watched[token]
                        self._expired.add(token)
                        _shut(sock)
                self._wake_at = min((d for d, _ in self._watched.values()), default=math.inf)
                self._lock.wait(None if self._wake_at == math.inf else self._wake_at - now)


def _shut(sock: object) -> None:
    """Shut a socket down for both directions, below any TLS layer, so a blocked read ends."""
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if isinstance(raw, socket.socket):
        with contextlib.suppress(OSError, ValueError):
            socket.socket.shutdown(raw, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()
_attempt = threading.local()
"""What the connection classes below tell ``_send`` about the current request in this thread:
``written`` (its bytes began to leave) and ``token`` (its watchdog registration)."""


def _watch_answer(sock: object) -> None:
    seconds = getattr(_attempt, "answer_within", None)
    if seconds is not None and sock is not None:
        _attempt.token = _WATCHDOG.watch(sock, seconds)


class _HTTPConnection(urllib3.connection.HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _attempt.written = True
        super().request(*args, **kwargs)

    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        _watch_answer(self.sock)
        return super().getresponse()


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _attempt.written = True
        super().request(*args, **kwargs)

    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        _watch_answer(self.sock)
        return super().getresponse()


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS: dict[str, type[urllib3.HTTPConnectionPool]] = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter (proxies, CA bundles) with connections that report to ``_send``."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:
            manager.pool_classes_by_scheme = dict(_POOLS)  # not SOCKS: it has its own classes
        return manager


class TwilioClient:
    """Calls the Messages API. One per Host; thread-safe; keeps connections alive.

    The environment (proxies, CA bundle) is read once here rather than on every call.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = resolve_base_url(settings.base_url, settings.environ)
        self._adapter = _Adapter(pool_connections=4, pool_maxsize=32)
        with requests.Session() as session:
            environment = session.merge_environment_settings(self.base_url, {}, None, None, None)
        self._send_options: dict[str, Any] = {
            "timeout": (settings.connect_timeout, settings.read_timeout),
            "verify": environment["verify"],
            "cert": environment["cert"],
            "proxies": environment["proxies"],
        }

    def __repr__(self) -> str:
        return f"TwilioClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._adapter.close()

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
        _check(credentials)
        body = _encode_form(form)
        fields = dict(form)
        to = fields.get("To")
        sender = fields.get("From") or fields.get("MessagingServiceSid")
        outcome, attempted_at = self._exchange(
            "POST", self.messages_url(credentials.account_sid), credentials, body
        )
        status = outcome.status if isinstance(outcome, _Answer) else None
        if isinstance(outcome, _Failure):
            reason = outcome.reason
        elif 200 <= outcome.status < 300:
            resource = _json_object(outcome.body)
            sid = resource.get("sid") if resource is not None else None
            if resource is not None and isinstance(sid, str) and sid:
                return resource
            reason = (
                f"Twilio answered HTTP {outcome.status} (created) but the answer is not a "
                "readable message resource"
            )
        elif 400 <= outcome.status < 500:
            raise _api_error(outcome, credentials)
        else:
            reason = credentials.scrub(_unknown_status(outcome))
        log.info("create message: outcome unknown (%s); not retried", reason)
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
            if isinstance(outcome, _Failure):
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

    # -- attempts ---------------------------------------------------------------------------

    def _exchange(
        self, method: str, url: str, credentials: Credentials, body: bytes | None
    ) -> tuple[_Answer | _Failure, datetime]:
        """Send until an answer other than 429 or a failure after sending; retry only 429s and
        failures before the request left. Returns the outcome and when its attempt began."""
        policy = self.settings.retry
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            attempted_at = datetime.now(UTC)
            log.debug("%s %s: attempt %d", method, url, attempt)
            outcome = self._send(method, url, credentials, body)
            if isinstance(outcome, _Failure) and outcome.sent:
                return outcome, attempted_at
            if isinstance(outcome, _Answer) and outcome.status != 429:
                return outcome, attempted_at
            retry_after = None
            if isinstance(outcome, _Answer):
                retry_after = _retry_after(outcome.headers.get("Retry-After"))
            delay = retry_after if retry_after is not None else policy.backoff(attempt - 1)
            delay = delay if math.isfinite(delay) and delay > 0 else 0.0
            final = (
                attempt >= policy.max_attempts
                or waited + delay > policy.max_total_wait
                or (isinstance(outcome, _Failure) and not outcome.transient)
            )
            if final and isinstance(outcome, _Answer):
                raise _api_error(
                    outcome, credentials, attempts=attempt, waited=waited, retry_after=retry_after
                )
            if final and isinstance(outcome, _Failure):
                raise RequestNotSentError(outcome.reason, base_url=self.base_url, attempts=attempt)
            what = "HTTP 429" if isinstance(outcome, _Answer) else outcome.reason
            log.info(
                "%s %s: %s; retrying in %.2f s (attempt %d)", method, url, what, delay, attempt
            )
            policy.sleep(delay)
            waited += delay

    # -- transport --------------------------------------------------------------------------

    def _send(
        self, method: str, url: str, credentials: Credentials, body: bytes | None
    ) -> _Answer | _Failure:
        request = requests.PreparedRequest()
        request.method = method
        request.url = url
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "Authorization": credentials.authorization(),
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Content-Length"] = str(len(body))
        request.headers = CaseInsensitiveDict(headers)
        request.body = body
        _attempt.written = False
        _attempt.token = None
        _attempt.answer_within = self.settings.read_timeout
        try:
            outcome = self._exchange_once(request)
        finally:
            token, _attempt.token, _attempt.answer_within = _attempt.token, None, None
            expired = token is not None and _WATCHDOG.release(token)
        if expired:  # the socket was shut mid-answer: what was read may be cut short
            return _Failure(self._timed_out(), sent=True)
        return outcome

    def _exchange_once(self, request: requests.PreparedRequest) -> _Answer | _Failure:
        try:
            response = self._adapter.send(request, **self._send_options)
        except Exception as exc:  # every failure is classified; none escapes
            return self._classify(exc, written=bool(getattr(_attempt, "written", False)))
        return _read(response)

    def _timed_out(self) -> str:
        return f"no complete answer within the {self.settings.read_timeout:g} s read timeout"

    def _classify(self, exc: Exception, *, written: bool) -> _Failure:
        """What a failure of requests means: sent or not, worth retrying or not."""
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            timeout = self.settings.connect_timeout
            return _Failure(f"no connection within {timeout:g} s", sent=False, transient=True)
        if isinstance(exc, requests.exceptions.ProxyError):
            return _Failure("the proxy could not be reached", sent=False, transient=True)
        if isinstance(exc, requests.exceptions.ConnectionError):
            reason = _reason(exc)
            if isinstance(reason, urllib3.exceptions.NewConnectionError):
                return _Failure(_describe_connect_failure(reason), sent=False, transient=True)
        if not written:
            if isinstance(exc, requests.exceptions.SSLError):
                return _Failure(
                    "the TLS handshake failed (check the certificate, the CA bundle or a proxy)",
                    sent=False,
                )
            return _Failure(f"the request could not be made ({type(exc).__name__})", sent=False)
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return _Failure(self._timed_out(), sent=True)
        if isinstance(exc, requests.exceptions.ConnectionError):
            return _Failure("the connection was dropped after the request was sent", sent=True)
        return _Failure(f"the answer could not be read ({type(exc).__name__})", sent=True)


def _read(response: requests.Response) -> _Answer | _Failure:
    """Read the whole answer (within the watchdog's deadline and MAX_ANSWER_BYTES)."""
    failure = None
    try:
        body = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
    except Exception as exc:  # the request was written: any failure is "unknown"
        failure = _Failure(
            f"the connection broke while the answer was read ({type(exc).__name__})", True
        )
    else:
        if len(body) > MAX_ANSWER_BYTES:
            failure = _Failure(f"the answer was longer than {MAX_ANSWER_BYTES} bytes", True)
    if failure is not None:
        with contextlib.suppress(Exception):
            response.close()
        return failure
    return _Answer(response.status_code, response.reason or "", response.headers, body)


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


def _messages_path(account_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{quote(account_sid, safe='')}/Messages.json"


def _reason(exc: requests.exceptions.ConnectionError) -> object:
    inner = exc.args[0] if exc.args else None
    return getattr(inner, "reason", inner)


def _describe_connect_failure(reason: urllib3.exceptions.NewConnectionError) -> str:
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "the host name could not be resolved"
    cause = reason.__cause__ or reason.__context__
    code = getattr(cause, "errno", None)
    if code == errno.ECONNREFUSED or "refused" in str(reason).lower():
        return "the connection was refused"
    return "the connection could not be made"


def _retry_after(value: str | None) -> float | None:
    """Seconds asked for by a Retry-After header (a number or an HTTP date), or None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
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


def _unknown_status(answer: _Answer) -> str:
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
    answer: _Answer,
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
