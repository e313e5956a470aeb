"""How a sandbox message's status moves: queued → sending → sent → delivered (or undelivered)."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from twilio_component.sandbox.clock import Clock, ManualClock
from twilio_component.sandbox.store import MessageStore, StoredMessage, rfc2822

__all__ = ["FINAL_STATUSES", "Lifecycle", "callback_params", "delivery_error_message"]

FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "canceled", "read", "received"})
"""Statuses a message never leaves."""

PRICE_PER_SEGMENT = {"SM": 0.0079, "MM": 0.0200}
"""USD per SMS segment, and per MMS message (messages with media)."""

_NEXT = {"scheduled": "queued", "accepted": "queued", "queued": "sending", "sending": "sent"}

_DELIVERY_ERRORS = {
    30001: "Queue overflow",
    30002: "Account suspended",
    30003: "Unreachable destination handset",
    30004: "Message blocked",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Carrier violation",
    30008: "Unknown error",
    30009: "Missing segment",
    30010: "Message price exceeds max price",
}

_BATCH = 512
_GRAIN = 0.005


Arrival = Callable[[dict[str, Any], tuple[str, ...]], None]
"""Told of each delivered message: a copy of its resource and its MediaUrl values."""


class _Outcome(NamedTuple):
    """What one step did: the message, when its next step is due, and the callback to send."""

    sid: str
    follow_up: datetime | None
    callback: tuple[str, dict[str, str]] | None
    arrived: tuple[dict[str, Any], tuple[str, ...]] | None = None


def delivery_error_message(code: int) -> str:
    """Twilio's short description of a delivery error code (30xxx)."""
    return _DELIVERY_ERRORS.get(code, "Message delivery failed")


class Lifecycle:
    """Moves stored messages through their statuses, one step every `interval`.

    With a ManualClock the steps run when the clock advances, in the advancing thread;
    with any other clock a daemon thread runs them as their time comes. Each change is
    stamped with the time it was due, so `date_sent` and `date_updated` are deterministic
    under a ManualClock. `arrived`, when given, is told of each message that reaches
    ``delivered`` (outside the store's lock).
    """

    def __init__(
        self,
        *,
        store: MessageStore,
        clock: Clock,
        interval: timedelta,
        sender: str,
        notify: Callable[[str, dict[str, str]], None],
        arrived: Arrival | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._interval = interval
        self._sender = sender
        self._notify = notify
        self._arrived = arrived
        self._due: list[tuple[datetime, int, str]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = True
        self._thread: threading.Thread | None = None
        self._running = threading.Lock()

    @property
    def manual(self) -> bool:
        """Whether steps run only when a ManualClock advances."""
        return isinstance(self._clock, ManualClock)

    def start(self) -> None:
        """Begin running due steps (a background thread, or a ManualClock subscription)."""
        with self._wake:
            self._stopped = False
        if isinstance(self._clock, ManualClock):
            self._clock.subscribe(self.run_due)
        elif self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="twilio-sandbox-lifecycle", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop running steps; pending ones are kept but never run."""
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if isinstance(self._clock, ManualClock):
            self._clock.unsubscribe(self.run_due)
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(2.0)

    def barrier(self) -> None:
        """Wait until the batch of steps running now (if any) has told what it caused."""
        with self._running:
            pass

    def clear(self) -> None:
        """Forget every pending step."""
        with self._wake:
            self._due.clear()

    def begin(self, message: StoredMessage, created: datetime) -> None:
        """Plan the first step of a newly stored message.

        Its first status (queued, or accepted/scheduled with a Messaging Service) is not
        announced: Twilio sends no status callback for it, only for the statuses after it.
        """
        if message.send_at is not None and message.status == "scheduled":
            self._plan([(message.send_at, message.sid)])
        else:
            self._plan([(created + self._interval, message.sid)])

    def cancel(self, sid: str, when: datetime) -> tuple[bool, dict[str, Any]] | None:
        """Cancel a scheduled message and call back ``canceled``.

        Returns None when there is no such message, else whether it was canceled (only a
        ``scheduled`` message can be) and a copy of its resource.
        """

        def change(message: StoredMessage) -> tuple[bool, dict[str, Any], str | None]:
            resource = message.resource
            if message.status != "scheduled":
                return False, _copied(resource), None
            message.move_to("canceled", when)
            return True, _copied(resource), message.status_callback

        outcome = self._store.update(sid, change)
        if outcome is None:
            return None
        canceled, resource, url = outcome
        if canceled and url:
            self._notify(url, callback_params(resource))
        return canceled, resource

    def run_due(self, now: datetime) -> int:
        """Run every step due at or before `now`, in time order; how many ran."""
        ran = 0
        with self._running:  # one runner at a time keeps each message's steps in order
            while True:
                with self._wake:
                    if self._stopped:
                        return ran
                    batch: list[tuple[str, datetime]] = []
                    while self._due and self._due[0][0] <= now and len(batch) < _BATCH:
                        due, _, sid = heapq.heappop(self._due)
                        batch.append((sid, due))
                if not batch:
                    return ran
                outcomes = self._store.update_many(batch, self._step)
                self._plan([(o.follow_up, o.sid) for o in outcomes if o.follow_up is not None])
                for outcome in outcomes:
                    if outcome.callback is not None:
                        self._notify(*outcome.callback)
                    if outcome.arrived is not None and self._arrived is not None:
                        self._arrived(*outcome.arrived)
                ran += len(batch)

    def _plan(self, steps: list[tuple[datetime, str]]) -> None:
        if not steps:
            return
        with self._wake:
            earliest = self._due[0][0] if self._due else None
            for due, sid in steps:
                heapq.heappush(self._due, (due, next(self._order), sid))
            if earliest is None or self._due[0][0] < earliest:
                self._wake.notify()

    def _step(self, message: StoredMessage, due: datetime) -> _Outcome:
        resource = message.resource
        status = message.status
        if status in _NEXT:
            new_status = _NEXT[status]
        elif status == "sent":
            new_status = "delivered" if message.failure_code is None else "undelivered"
        else:
            return _Outcome(message.sid, None, None)
        stamp = rfc2822(due)
        message.move_to(new_status, due)
        if new_status == "queued":
            if resource["from"] is None:
                resource["from"] = self._sender
            resource["num_segments"] = str(message.segments)
        elif new_status == "sent":
            message.date_sent = due
            resource["date_sent"] = stamp
            unit_price = PRICE_PER_SEGMENT[message.sid[:2]]
            charged = message.segments if message.sid.startswith("SM") else 1
            resource["price"] = f"{-unit_price * charged:.5f}"
            resource["price_unit"] = "USD"
        elif new_status == "undelivered" and message.failure_code is not None:
            resource["error_code"] = message.failure_code
            resource["error_message"] = delivery_error_message(message.failure_code)
        follow_up = None if new_status in FINAL_STATUSES else due + self._interval
        url = message.status_callback
        callback = (url, callback_params(resource)) if url else None
        arrived = None
        if new_status == "delivered" and self._arrived is not None:
            arrived = (_copied(resource), message.media_urls)
        return _Outcome(message.sid, follow_up, callback, arrived)

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopped:
                    return
                if not self._due:
                    self._wake.wait()
                    continue
                wait = (self._due[0][0] - self._clock.now()).total_seconds()
                if wait > 0:
                    # Sleeping at least _GRAIN lets steps due close together run as one batch.
                    self._wake.wait(min(max(wait, _GRAIN), 1.0))
                    continue
            self.run_due(self._clock.now())


def callback_params(resource: Mapping[str, Any]) -> dict[str, str]:
    """The form Twilio POSTs to a StatusCallback URL for the resource's current status."""
    status = str(resource["status"])
    params = {
        "ApiVersion": str(resource["api_version"]),
        "AccountSid": str(resource["account_sid"]),
        "MessageSid": str(resource["sid"]),
        "SmsSid": str(resource["sid"]),
        "MessageStatus": status,
        "SmsStatus": status,
        "To": str(resource["to"]),
    }
    if resource["from"] is not None:
        params["From"] = str(resource["from"])
    if resource["messaging_service_sid"] is not None:
        params["MessagingServiceSid"] = str(resource["messaging_service_sid"])
    if resource["error_code"] is not None:
        params["ErrorCode"] = str(resource["error_code"])
    return params


def _copied(resource: Mapping[str, Any]) -> dict[str, Any]:
    copied = dict(resource)
    copied["subresource_uris"] = dict(resource["subresource_uris"])
    return copied
