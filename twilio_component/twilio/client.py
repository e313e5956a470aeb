"""The Twilio Messages API over a pooled requests session, retrying only what Twilio never saw.

Retry policy (a contract): a message must never be sent twice. Only two things are retried:

* HTTP 429 — Twilio says a rate-limited request was never processed;
* failures before the request left this machine — connection refused, DNS, connect timeout.

A read timeout, a connection dropped after the request was written, any 5xx, an unreadable
answer or a redirect are reported as OutcomeUnknownError and never retried. A 2xx is final.
"""

from __future__ import annotations

import base64
import errno
import json
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

import requests
import requests.adapters
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from twilio_component import __version__
from twilio_component.errors import (
    OutcomeUnknownError,
    RateLimitedError,
    RequestNotSentError,
    TwilioAPIError,
)
from twilio_component.settings import Settings
from twilio_component.twilio.endpoint import resolve_base_url

API_VERSION = "2010-04-01"
USER_AGENT = (
    f"twilio-component/{__version__} ({platform.system()} {platform.machine()}) "
    f"Python/{platform.python_version()} requests/{requests.__version__}"
)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who is calling: the account in the URL path and the Basic auth pair (kept out of repr)."""

    account_sid: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(account_sid={self.account_sid!r}, username={self.username!r})"

    def authorization(self) -> str:
        """The Authorization header value."""
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


class _NotSent(Exception):
    """The request never left: safe to retry."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.transient = transient


class _Unknown(Exception):
    """The request may have reached the server."""


class TwilioClient:
    """Calls the Messages API. One per Host; thread-safe; keeps connections alive.

    The environment (proxies, CA bundle) is read once here rather than on every call.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = resolve_base_url(settings.base_url, settings.environ)
        self._session = requests.Session()
        self._adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self._session.mount("https://", self._adapter)
        self._session.mount("http://", self._adapter)
        environment = self._session.merge_environment_settings(self.base_url, {}, None, None, None)
        self._send_options: dict[str, Any] = {
            "stream": False,
            "timeout": (settings.connect_timeout, settings.read_timeout),
            "verify": environment["verify"],
            "cert": environment["cert"],
            "proxies": environment["proxies"],
        }

    def __repr__(self) -> str:
        return f"TwilioClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    # -- API --------------------------------------------------------------------------------

    def messages_url(self, account_sid: str) -> str:
        """The Messages list URL of an account."""
        return f"{self.base_url}/{API_VERSION}/Accounts/{quote(account_sid, safe='')}/Messages.json"

    def create_message(
        self, credentials: Credentials, form: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """POST a new message; return Twilio's Message resource. Never sends it twice."""
        fields = dict(form)
        attempted_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = urlencode(form).encode("ascii")
        url = self.messages_url(credentials.account_sid)
        policy = self.settings.retry
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send("POST", url, credentials, body)
            except _NotSent as failure:
                delay = policy.backoff(attempt - 1)
                if (
                    not failure.transient
                    or attempt >= policy.max_attempts
                    or waited + delay > policy.max_total_wait
                ):
                    tries = f" after {attempt} attempt(s)" if attempt > 1 else ""
                    raise RequestNotSentError(
                        f"could not reach Twilio at {self.base_url}{tries}: {failure}. "
                        "Nothing was sent; check the address and network, then try again."
                    ) from None
                policy.sleep(delay)
                waited += delay
                continue
            except _Unknown as failure:
                raise OutcomeUnknownError(
                    str(failure),
                    to=fields.get("To"),
                    from_=fields.get("From") or fields.get("MessagingServiceSid"),
                    attempted_at=attempted_at,
                ) from None
            status = response.status_code
            if status == 429:
                retry_after = _retry_after(response.headers.get("Retry-After"))
                delay = retry_after if retry_after is not None else policy.backoff(attempt - 1)
                if attempt >= policy.max_attempts or waited + delay > policy.max_total_wait:
                    _raise_api_error(response, attempts=attempt, retry_after=retry_after)
                policy.sleep(delay)
                waited += delay
                continue
            if 200 <= status < 300:
                resource = _json_object(response)
                if resource is None or not isinstance(resource.get("sid"), str):
                    raise OutcomeUnknownError(
                        f"Twilio answered HTTP {status} (created) but the answer could not be read",
                        to=fields.get("To"),
                        from_=fields.get("From"),
                        attempted_at=attempted_at,
                    )
                return resource
            if 400 <= status < 500:
                _raise_api_error(response)
            raise OutcomeUnknownError(
                _unknown_status(response),
                to=fields.get("To"),
                from_=fields.get("From") or fields.get("MessagingServiceSid"),
                attempted_at=attempted_at,
            )

    def list_messages(
        self, credentials: Credentials, query: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """One page of messages matching ``query`` (To, From, DateSent>, PageSize...)."""
        url = self.messages_url(credentials.account_sid) + "?" + urlencode(dict(query))
        try:
            response = self._send("GET", url, credentials, None)
        except (_NotSent, _Unknown) as failure:
            raise RequestNotSentError(f"could not list messages: {failure}") from None
        if response.status_code != 200:
            _raise_api_error(response)
        page = _json_object(response) or {}
        messages = page.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    # -- transport --------------------------------------------------------------------------

    def _send(
        self, method: str, url: str, credentials: Credentials, body: bytes | None
    ) -> requests.Response:
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
        try:
            return self._adapter.send(request, **self._send_options)
        except requests.exceptions.ConnectTimeout:
            raise _NotSent("the connection timed out", transient=True) from None
        except requests.exceptions.SSLError:
            raise _NotSent("the TLS handshake failed", transient=False) from None
        except requests.exceptions.ProxyError:
            raise _NotSent("the proxy could not be reached", transient=True) from None
        except requests.exceptions.ReadTimeout:
            raise _Unknown(
                f"no answer within the {self.settings.read_timeout:g} s read timeout"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            reason = _reason(exc)
            if isinstance(reason, urllib3.exceptions.NewConnectionError):
                raise _NotSent(_describe_connect_failure(reason), transient=True) from None
            raise _Unknown("the connection was dropped after the request was sent") from None
        except requests.exceptions.RequestException as exc:
            raise _Unknown(f"the answer could not be read ({type(exc).__name__})") from None


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
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _unknown_status(response: requests.Response) -> str:
    status = response.status_code
    if 300 <= status < 400:
        return f"Twilio answered HTTP {status} (a redirect, which is never followed)"
    kind = response.headers.get("Content-Type", "").split(";")[0] or "no content type"
    error = _json_object(response)
    if error and "message" in error:
        return f"Twilio answered HTTP {status}: {error.get('message')}"
    return f"Twilio answered HTTP {status} ({kind})"


def _raise_api_error(
    response: requests.Response, *, attempts: int = 0, retry_after: float | None = None
) -> NoReturn:
    status = response.status_code
    error = _json_object(response) or {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    message = str(error.get("message") or response.reason or f"HTTP {status}")
    more_info = error.get("more_info") if isinstance(error.get("more_info"), str) else None
    detail = error.get("detail") if isinstance(error.get("detail"), str) else None
    if status == 429:
        raise RateLimitedError(
            f"{message} (gave up after {attempts} attempt(s); try again later)",
            attempts=attempts,
            retry_after=retry_after,
            status=status,
            code=code,
            more_info=more_info,
            detail=detail,
        )
    raise TwilioAPIError(message, status=status, code=code, more_info=more_info, detail=detail)
