"""One HTTP exchange with Twilio through requests: pooled, deadline-bound, classified.

Every attempt ends as an Answer (read completely) or a Failure that says whether the request may
have reached the server (``sent``) and whether trying again is worthwhile (``transient``, only
for requests that never left). Nothing from requests or urllib3 escapes: failures become values
inside their handlers, so no exception chain can carry the request and its headers along.

Timeouts: a connection must be made within ``connect_timeout``; once the request is written,
the complete answer must arrive within ``read_timeout``. The read timeout of requests only
bounds each socket read, so a watchdog thread also shuts the socket of an answer still being
read when its deadline passes: a server trickling one byte at a time cannot hold a step.
(Through a SOCKS proxy only the per-read timeout applies.)

Proxies: the Authorization header must never cross a network in clear, so a proxy is used only
for https to another machine, and only as a tunnel (CONNECT, or SOCKS): TLS runs end to end and
the proxy sees the host name and port, never the request. Loopback is never proxied, whatever
NO_PROXY says, and neither is plain http (only allowed to loopback anyway); HTTP_PROXY, the
proxy for plain-http requests, is therefore never used. An https request is never sent to a
proxy as an absolute URI (urllib3's ``use_forwarding_for_https`` stays off).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import math
import platform
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.utils
import urllib3
import urllib3.connection
import urllib3.exceptions
import urllib3.poolmanager
import urllib3.response

from twilio_component import __version__
from twilio_component.twilio.endpoint import is_loopback
from twilio_component.twilio.settings import Settings

USER_AGENT = (
    f"twilio-component/{__version__} ({platform.system()} {platform.machine()}) "
    f"Python/{platform.python_version()} requests/{requests.__version__}"
)
MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""A longer answer is cut off (a message is about 1 KiB, a page of 50 about 60 KiB)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer read completely."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Failure:
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


def _origin(url: str) -> str:
    return "/".join(url.split("/", 3)[:3])


def may_tunnel(url: str) -> bool:
    """Whether a request to ``url`` may go through a proxy: only https to another machine."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() == "https" and bool(host) and not is_loopback(host or "")


def tunnel_proxies(url: str, proxies: Mapping[str, str]) -> dict[str, str]:
    """The proxy a request to ``url`` may use, as requests wants it: ``{"https": proxy}`` from
    the https (or all) entries of ``proxies`` when ``url`` is https to another machine, else
    ``{}``. The http entry (HTTP_PROXY) is never taken."""
    if not may_tunnel(url):
        return {}
    usable = {k: v for k, v in proxies.items() if not k.lower().startswith("http:")}
    usable.pop("http", None)
    proxy = requests.utils.select_proxy(url, usable)
    return {"https": proxy} if proxy else {}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter (proxies, CA bundles) with connections that report to ``send``.

    Two costs of every call are paid once instead: the pool key of an origin (requests parses
    the URL and stats the CA bundle each time) and the cookie jar of each response (Twilio
    sets no cookies we use).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_keys: dict[tuple[str, object, object], Any] = {}
        self._may_tunnel: dict[str, bool] = {}

    def send(  # noqa: PLR0917 (requests' signature)
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send, with a proxy only as a tunnel for https to another machine (see the module)."""
        chosen: dict[str, str] = {}
        if proxies:
            origin = _origin(str(request.url))
            allowed = self._may_tunnel.get(origin)
            if allowed is None:
                allowed = self._may_tunnel[origin] = may_tunnel(origin)
            proxy = proxies.get("https") if allowed else None
            if proxy:
                chosen["https"] = proxy
        return super().send(request, stream, timeout, verify, cert, chosen)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:
        key = (_origin(str(request.url)), verify, cert)
        found: Any = self._pool_keys.get(key)
        if found is None:
            found = super().build_connection_pool_key_attributes(request, verify, cert)
            self._pool_keys[key] = found
        return dict(found[0]), dict(found[1])

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = resp.status
        response.headers = resp.headers  # urllib3's: already case-insensitive
        response.raw = resp
        response.reason = resp.reason
        response.url = str(req.url)
        response.request = req
        response.connection = self
        return response

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        if not proxy.lower().startswith("socks"):
            proxy_kwargs["use_forwarding_for_https"] = False  # https only through CONNECT
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:
            manager.pool_classes_by_scheme = dict(_POOLS)  # not SOCKS: it has its own classes
        return manager


class Transport:
    """Sends requests over pooled keep-alive connections; thread-safe. One per client.

    The environment (proxies, CA bundle) is read once here rather than on every call; of the
    proxies only the one that may carry requests to ``base_url`` is kept (``tunnel_proxies``).
    """

    def __init__(self, settings: Settings, base_url: str) -> None:
        self.settings = settings
        self._adapter = _Adapter(pool_connections=4, pool_maxsize=32)
        with requests.Session() as session:
            environment = session.merge_environment_settings(base_url, {}, None, None, None)
        self._send_options: dict[str, Any] = {
            "timeout": (settings.connect_timeout, settings.read_timeout),
            "verify": environment["verify"],
            "cert": environment["cert"],
            "proxies": tunnel_proxies(base_url, environment["proxies"]),
        }

    def close(self) -> None:
        """Close pooled connections."""
        self._adapter.close()

    def send(
        self, method: str, url: str, authorization: str, body: bytes | None
    ) -> Answer | Failure:
        """One attempt: the complete answer, or why there is none and whether it was sent."""
        request = requests.PreparedRequest()
        request.method = method
        request.url = url
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "Authorization": authorization,
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Content-Length"] = str(len(body))
        request.headers = headers  # type: ignore[assignment] # requests only reads it
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
            return Failure(self._timed_out(), sent=True)
        return outcome

    def _exchange_once(self, request: requests.PreparedRequest) -> Answer | Failure:
        try:
            response = self._adapter.send(request, **self._send_options)
        except Exception as exc:  # every failure is classified; none escapes
            return self._classify(exc, written=bool(getattr(_attempt, "written", False)))
        return _read(response)

    def _timed_out(self) -> str:
        return f"no complete answer within the {self.settings.read_timeout:g} s read timeout"

    def _classify(self, exc: Exception, *, written: bool) -> Failure:
        """What a failure of requests means: sent or not, worth retrying or not."""
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            timeout = self.settings.connect_timeout
            return Failure(f"no connection within {timeout:g} s", sent=False, transient=True)
        if isinstance(exc, requests.exceptions.ProxyError):
            return Failure("the proxy could not be reached", sent=False, transient=True)
        if isinstance(exc, requests.exceptions.ConnectionError):
            reason = _reason(exc)
            if isinstance(reason, urllib3.exceptions.NewConnectionError):
                return Failure(_describe_connect_failure(reason), sent=False, transient=True)
        if not written:
            if isinstance(exc, requests.exceptions.SSLError):
                return Failure(
                    "the TLS handshake failed (check the certificate, the CA bundle or a proxy)",
                    sent=False,
                )
            return Failure(f"the request could not be made ({type(exc).__name__})", sent=False)
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return Failure(self._timed_out(), sent=True)
        if isinstance(exc, requests.exceptions.ConnectionError):
            return Failure("the connection was dropped after the request was sent", sent=True)
        return Failure(f"the answer could not be read ({type(exc).__name__})", sent=True)


def _read(response: requests.Response) -> Answer | Failure:
    """Read the whole answer (within the watchdog's deadline and MAX_ANSWER_BYTES)."""
    failure = None
    try:
        body = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
    except Exception as exc:  # the request was written: any failure is "unknown"
        failure = Failure(
            f"the connection broke while the answer was read ({type(exc).__name__})", True
        )
    else:
        if len(body) > MAX_ANSWER_BYTES:
            failure = Failure(f"the answer was longer than {MAX_ANSWER_BYTES} bytes", True)
    if failure is not None:
        with contextlib.suppress(Exception):
            response.close()
        return failure
    return Answer(response.status_code, response.reason or "", response.headers, body)


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
