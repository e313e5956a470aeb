"""What happens in the sandbox as server-sent events: a hub, and one stream per subscriber."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

__all__ = ["EVENT_KINDS", "EventHub", "EventStream", "sse_event"]

EVENT_KINDS: Final = (
    "message",
    "inbound",
    "status",
    "removed",
    "cleared",
    "faults",
    "request",
    "requests_cleared",
)
"""Every event name the hub publishes (the SSE ``event:`` field)."""

TICK: Final = 0.25
"""Seconds a stream waits for events before yielding b"" (so its server can notice a stop)."""
HEARTBEAT: Final = 15.0
"""Seconds of silence after which a stream sends an SSE comment (a gone client shows up)."""
BACKLOG: Final = 5_000
"""Events a slow subscriber may have waiting; past that its stream ends (it reconnects)."""
RETRY_MS: Final = 1000
"""How long a browser waits before reconnecting a dropped stream."""


def sse_event(kind: str, data: Mapping[str, Any], event_id: int) -> bytes:
    """One event in the text/event-stream format (the JSON is a single line)."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event_id}\nevent: {kind}\ndata: {payload}\n\n".encode()


class EventStream:
    """One subscriber's events as SSE bytes: an iterator for a streamed reply.

    Registered from the moment it is made, so nothing published after that is missed even
    before the first piece is read. It ends when the hub closes, when `close()` is called
    or when it falls more than BACKLOG events behind.
    """

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self._pending: deque[bytes] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._started = False
        self._last_sent = time.monotonic()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if not self._started:
            self._started = True
            self._last_sent = time.monotonic()
            return f"retry: {RETRY_MS}\n: connected\n\n".encode()
        with self._ready:
            if not self._pending and not self._closed:
                self._ready.wait(TICK)
            if self._pending:
                pieces = b"".join(self._pending)
                self._pending.clear()
            elif self._closed:
                raise StopIteration
            else:
                pieces = b""
        now = time.monotonic()
        if pieces:
            self._last_sent = now
        elif now - self._last_sent >= HEARTBEAT:
            self._last_sent = now
            pieces = b": keep-alive\n\n"
        return pieces

    def deliver(self, event: bytes) -> None:
        """Queue one encoded event (the hub calls this)."""
        with self._ready:
            if self._closed:
                return
            if len(self._pending) >= BACKLOG:
                self._pending.clear()
                self._closed = True
            else:
                self._pending.append(event)
            self._ready.notify()

    def end(self) -> None:
        """End the stream once what is queued has been read."""
        with self._ready:
            self._closed = True
            self._ready.notify()

    def close(self) -> None:
        """Unsubscribe at once: nothing more is queued or read."""
        self._hub.unsubscribe(self)
        with self._ready:
            self._closed = True
            self._pending.clear()
            self._ready.notify()


class EventHub:
    """Publishes events to every open stream; costs next to nothing while nobody listens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: set[EventStream] = set()
        self._next_id = 0
        self._closed = False

    @property
    def listening(self) -> bool:
        """Whether any stream is open (publishers skip building events otherwise)."""
        return bool(self._streams)

    def subscribe(self) -> EventStream:
        """A new stream of every event published from now on (an ended one once closed)."""
        stream = EventStream(self)
        with self._lock:
            if self._closed:
                stream.end()
            else:
                self._streams.add(stream)
        return stream

    def unsubscribe(self, stream: EventStream) -> None:
        """Forget a stream (it receives nothing more)."""
        with self._lock:
            self._streams.discard(stream)

    def publish(self, kind: str, data: Callable[[], Mapping[str, Any]]) -> None:
        """Send event `kind` to every stream; `data` builds its payload, only when listened to.

        `data` runs under the hub's lock, so two publishers of the same state (the armed
        faults) reach every stream in the order their payloads were built.
        """
        if not self._streams:
            return
        with self._lock:
            if not self._streams:
                return
            self._next_id += 1
            event = sse_event(kind, data(), self._next_id)
            for stream in self._streams:
                stream.deliver(event)

    def close(self) -> None:
        """End every stream and refuse new ones: the sandbox is stopping."""
        with self._lock:
            self._closed = True
            streams, self._streams = list(self._streams), set()
        for stream in streams:
            stream.end()
