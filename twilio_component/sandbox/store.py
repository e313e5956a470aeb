"""The sandbox's memory of messages: bounded, thread-safe, listed newest first in pages."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = [
    "MessageFilter",
    "MessageStore",
    "Observer",
    "Page",
    "StoredMessage",
    "iso_millis",
    "rfc2822",
]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

T = TypeVar("T")
U = TypeVar("U")


def rfc2822(moment: datetime) -> str:
    """Format like Twilio: ``Thu, 30 Jul 2015 20:12:31 +0000`` (always UTC, always +0000)."""
    return _stamp(int(moment.timestamp()))


def iso_millis(moment: datetime) -> str:
    """ISO 8601 in UTC to the millisecond: ``2015-07-30T20:12:31.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=64)  # many stamps fall in the same second
def _stamp(second: int) -> str:
    utc = datetime.fromtimestamp(second, UTC)
    return (
        f"{_DAYS[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} +0000"
    )


@dataclass(slots=True)
class StoredMessage:
    """One message: its public resource (Twilio's JSON) and what drives its lifecycle."""

    seq: int
    resource: dict[str, Any]
    segments: int
    status_callback: str | None = None
    failure_code: int | None = None
    send_at: datetime | None = None
    date_sent: datetime | None = None
    media: tuple[dict[str, Any], ...] = ()
    """The message's Media resources (one per MediaUrl), as Twilio lists them."""
    media_urls: tuple[str, ...] = ()
    """The MediaUrl values the message was created with."""
    created_at: datetime | None = None
    history: list[tuple[str, datetime]] = field(default_factory=list)
    """Every status the message has had, with when it took it, oldest first."""
    encoding: str | None = None
    """How the body is sent: ``GSM-7`` or ``UCS-2`` (after Smart Encoding, when asked)."""

    def record(self) -> dict[str, Any]:
        """A copy of the resource plus ``created_at``, ``encoding`` and ``status_history``."""
        copied = _copy(self.resource)
        copied["created_at"] = iso_millis(self.created_at) if self.created_at else None
        copied["encoding"] = self.encoding
        copied["status_history"] = [
            {"status": status, "at": iso_millis(at)} for status, at in self.history
        ]
        return copied

    def move_to(self, status: str, when: datetime) -> None:
        """Set the status (and ``date_updated``) and note it in the history."""
        self.resource["status"] = status
        self.resource["date_updated"] = rfc2822(when)
        self.history.append((status, when))

    @property
    def sid(self) -> str:
        """The message SID (SM… or MM…)."""
        return str(self.resource["sid"])

    @property
    def status(self) -> str:
        """The current status."""
        return str(self.resource["status"])


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """What a list request asks for: To, From and date-sent bounds (inclusive, UTC)."""

    to: str | None = None
    from_: str | None = None
    sent_from: datetime | None = None
    sent_until: datetime | None = None

    def matches(self, message: StoredMessage) -> bool:
        """Whether `message` belongs in the list."""
        resource = message.resource
        if self.to is not None and resource["to"] != self.to:
            return False
        if self.from_ is not None and resource["from"] != self.from_:
            return False
        if self.sent_from is None and self.sent_until is None:
            return True
        sent = message.date_sent
        if sent is None:
            return False
        if self.sent_from is not None and sent < self.sent_from:
            return False
        return not (self.sent_until is not None and sent > self.sent_until)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a newest-first listing, with what the next and previous page tokens need."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    has_next: bool = False


Observer = Callable[[str, StoredMessage | None], None]
"""Told of each change under the store's lock: ``created``, ``updated`` or ``removed`` with the
message, ``cleared`` with None. It must be quick and must not call the store."""


class MessageStore:
    """Messages in creation order, at most `cap` of them (the oldest is forgotten first)."""

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError(f"message_cap must be at least 1, not {cap!r}")
        self._cap = cap
        self._messages: OrderedDict[str, StoredMessage] = OrderedDict()
        self._lock = threading.Lock()
        self._next_seq = 0
        self._observer: Observer | None = None

    def observe(self, observer: Observer | None) -> None:
        """Tell `observer` of every change from now on (None: tell nobody)."""
        with self._lock:
            self._observer = observer

    def _told(self, change: str, message: StoredMessage | None) -> None:
        if self._observer is not None:
            self._observer(change, message)

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)

    def add(self, make: Callable[[int], StoredMessage]) -> StoredMessage:
        """Store the message `make(seq)` builds, evicting the oldest past the cap."""
        with self._lock:
            self._next_seq += 1
            message = make(self._next_seq)
            self._messages[message.sid] = message
            while len(self._messages) > self._cap:
                self._told("removed", self._messages.popitem(last=False)[1])
            self._told("created", message)
            return message

    def get(self, sid: str) -> dict[str, Any] | None:
        """A copy of the resource with that SID, or None."""
        with self._lock:
            message = self._messages.get(sid)
            return _copy(message.resource) if message is not None else None

    def media(self, sid: str) -> list[dict[str, Any]] | None:
        """Copies of the message's Media resources, or None when there is no such message."""
        with self._lock:
            message = self._messages.get(sid)
            return [dict(item) for item in message.media] if message is not None else None

    def update(self, sid: str, change: Callable[[StoredMessage], T]) -> T | None:
        """Run `change` on the stored message under the lock; None when it is gone."""
        with self._lock:
            message = self._messages.get(sid)
            if message is None:
                return None
            result = change(message)
            self._told("updated", message)
            return result

    def update_many(
        self, items: list[tuple[str, U]], change: Callable[[StoredMessage, U], T]
    ) -> list[T]:
        """Run `change(message, item)` per (sid, item) under one lock, skipping gone SIDs."""
        results: list[T] = []
        with self._lock:
            for sid, item in items:
                message = self._messages.get(sid)
                if message is not None:
                    results.append(change(message, item))
                    self._told("updated", message)
        return results

    def remove(self, sid: str) -> bool:
        """Forget one message; whether it existed."""
        with self._lock:
            message = self._messages.pop(sid, None)
            if message is None:
                return False
            self._told("removed", message)
            return True

    def snapshot(self) -> list[dict[str, Any]]:
        """Copies of every resource, oldest first."""
        with self._lock:
            return [_copy(message.resource) for message in self._messages.values()]

    def records(self) -> list[dict[str, Any]]:
        """Every message's resource with ``created_at`` and ``status_history``, oldest first."""
        with self._lock:
            return [message.record() for message in self._messages.values()]

    def statuses(self) -> list[str]:
        """The status of every stored message, oldest first."""
        with self._lock:
            return [message.status for message in self._messages.values()]

    def clear(self) -> None:
        """Forget every message."""
        with self._lock:
            self._messages.clear()
            self._told("cleared", None)

    def page(
        self,
        wanted: MessageFilter,
        *,
        size: int,
        skip: int = 0,
        older_than: str | None = None,
        newer_than: str | None = None,
    ) -> Page:
        """A newest-first page of matching messages.

        `older_than`/`newer_than` are SIDs from page tokens: the page holds the matching messages
        just older (next page) or just newer (previous page) than that message. A token whose
        message was evicted gives an empty next page (everything older is gone too).
        """
        with self._lock:
            if newer_than is not None:
                return self._page_newer(wanted, size, newer_than)
            newest_first: Iterator[StoredMessage] = reversed(self._messages.values())
            if older_than is not None:
                anchor = self._messages.get(older_than)
                if anchor is None:
                    return Page()
                newest_first = (m for m in newest_first if m.seq < anchor.seq)
            found: list[dict[str, Any]] = []
            for message in newest_first:
                if not wanted.matches(message):
                    continue
                if skip:
                    skip -= 1
                    continue
                if len(found) == size:
                    return Page(found, has_next=True)
                found.append(_copy(message.resource))
            return Page(found, has_next=False)

    def _page_newer(self, wanted: MessageFilter, size: int, newer_than: str) -> Page:
        anchor = self._messages.get(newer_than)
        floor = anchor.seq if anchor is not None else 0
        oldest_first = (m for m in self._messages.values() if m.seq > floor and wanted.matches(m))
        found: list[dict[str, Any]] = []
        for message in oldest_first:
            found.append(_copy(message.resource))
            if len(found) == size:
                break
        found.reverse()
        return Page(found, has_next=True)


def _copy(resource: dict[str, Any]) -> dict[str, Any]:
    copied = dict(resource)
    uris = copied.get("subresource_uris")
    if isinstance(uris, dict):
        copied["subresource_uris"] = dict(uris)
    return copied


#: The API version in every resource's URI.
API_VERSION = "2010-04-01"


def message_uri(account_sid: str, sid: str) -> str:
    """A message's URI without its ``.json`` (its media and feedback hang below it)."""
    return f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"


def message_resource(
    *,
    account_sid: str,
    sid: str,
    body: str,
    num_segments: str,
    direction: str,
    sender: str | None,
    to: str,
    num_media: int,
    status: str,
    stamp: str,
    messaging_service_sid: str | None = None,
    date_sent: str | None = None,
) -> dict[str, Any]:
    """A new message's resource, every field in the order Twilio sends them."""
    uri = message_uri(account_sid, sid)
    return {
        "body": body,
        "num_segments": num_segments,
        "direction": direction,
        "from": sender,
        "to": to,
        "date_updated": stamp,
        "price": None,
        "error_message": None,
        "uri": f"{uri}.json",
        "account_sid": account_sid,
        "num_media": str(num_media),
        "status": status,
        "messaging_service_sid": messaging_service_sid,
        "sid": sid,
        "date_sent": date_sent,
        "date_created": stamp,
        "error_code": None,
        "price_unit": "USD",
        "api_version": API_VERSION,
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
    }
