"""Status callbacks: signed form POSTs to loopback URLs from a background worker, all recorded."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import queue
import secrets
import socket
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from twilio_component.twilio.signature import compute_signature

__all__ = ["CallbackDispatcher", "CallbackRecord", "is_loopback_url"]

_USER_AGENT = "TwilioProxy/1.1"


@dataclass(frozen=True, slots=True)
class CallbackRecord:
    """One status callback: what was (or would have been) POSTed, and how it went."""

    url: str
    params: dict[str, str]
    signature: str
    attempted_at: datetime
    status_code: int | None = None
    """The HTTP status the callback URL answered; None when it did not answer or was refused."""
    error: str | None = None
    """Why it was not delivered: the URL is not on loopback, or the connection failed."""
    refused: bool = False
    """True when the URL was not on this machine, so nothing was sent."""

    @property
    def delivered(self) -> bool:
        """Whether the callback URL answered with a 2xx status."""
        return self.status_code is not None and 200 <= self.status_code < 300


def is_loopback_url(url: str) -> bool:
    """Whether `url` is http(s) to 127.0.0.0/8, ::1 or localhost (resolving only to loopback)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host.lower().rstrip(".") != "localhost":
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


class CallbackDispatcher:
    """Delivers status callbacks in order from one daemon thread, so creates never wait on them."""

    def __init__(self, *, auth_token: str, timeout: float, log_size: int = 10_000) -> None:
        self._auth_token = auth_token
        self._timeout = timeout
        self._jobs: queue.SimpleQueue[tuple[str, dict[str, str]] | None] = queue.SimpleQueue()
        self._log: deque[CallbackRecord] = deque(maxlen=log_size)
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._in_flight: http.client.HTTPConnection | None = None

    @property
    def records(self) -> list[CallbackRecord]:
        """Every callback attempted so far (the newest `log_size`), oldest first."""
        with self._idle:
            return list(self._log)

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name="twilio-sandbox-callbacks", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the worker: the callback in flight is cut off, those still queued are dropped."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._jobs.put(None)
        with self._idle:
            in_flight = self._in_flight
        if in_flight is not None and in_flight.sock is not None:
            with contextlib.suppress(OSError):
                in_flight.sock.shutdown(socket.SHUT_RDWR)
        thread.join(self._timeout + 1.0)

    def send(self, url: str, params: dict[str, str]) -> None:
        """Queue one callback."""
        with self._idle:
            self._pending += 1
        self._jobs.put((url, params))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued callback has been attempted; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def clear(self) -> None:
        """Forget the log (callbacks already queued are still delivered)."""
        with self._idle:
            self._log.clear()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            url, params = job
            record = None if self._stopping.is_set() else self._deliver(url, params)
            with self._idle:
                if record is not None:
                    self._log.append(record)
                self._pending -= 1
                self._idle.notify_all()

    def _deliver(self, url: str, params: dict[str, str]) -> CallbackRecord:
        signature = compute_signature(self._auth_token, url, params)
        now = datetime.now(UTC)
        if not is_loopback_url(url):
            return CallbackRecord(
                url,
                params,
                signature,
                now,
                error="refused: the sandbox only calls back loopback addresses",
                refused=True,
            )
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        body = urlencode(params).encode("ascii")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": _USER_AGENT,
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            "Connection": "close",
        }
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(parts.hostname or "", parts.port, timeout=self._timeout)
        with self._idle:
            self._in_flight = connection
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            return CallbackRecord(
                url, params, signature, now, error=f"{type(error).__name__}: {error}"
            )
        finally:
            with self._idle:
                self._in_flight = None
            connection.close()
        return CallbackRecord(url, params, signature, now, status_code=response.status)
