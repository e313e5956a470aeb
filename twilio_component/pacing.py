"""Pacing sends per sender in message segments per second, with a cap on concurrent requests."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: Twilio's default throughput per sender type, in message segments per second (MPS).
LONG_CODE_MPS = 1.0
TOLL_FREE_MPS = 3.0
SHORT_CODE_MPS = 100.0
ALPHANUMERIC_MPS = 10.0
WHATSAPP_MPS = 10.0
WHATSAPP_MEDIA_MPS = 1.5

#: After 429s a sender's rate never falls below this share of its configured rate.
SLOWEST_SHARE = 0.1
#: Each second without a 429 gives back this share of the configured rate.
RECOVERY_SHARE_PER_SECOND = 0.1
#: How long `Pacer.pause` stops a sender unless told (after 21611, its queue is full).
DEFAULT_PAUSE = 60.0

_NEGLIGIBLE = 1e-9

_TOLL_FREE = re.compile(r"\+1(?:800|833|844|855|866|877|888)[0-9]{7}")
_SHORT_CODE = re.compile(r"[0-9]{5,6}")
_MESSAGING_SERVICE = re.compile(r"MG[0-9a-fA-F]{32}")


def default_mps(sender: str, *, has_media: bool = False) -> float:
    """Twilio's default throughput of `sender`, in message segments per second.

    From Twilio's table of default MPS per sender type:

    - a ``whatsapp:`` address: 10 (1.5 for a message with media);
    - toll-free, ``+1`` then 800, 833, 844, 855, 866, 877 or 888 and 7 digits: 3;
    - a short code, 5 or 6 digits: 100;
    - an alphanumeric sender ID, with a letter and neither ``+`` nor ``:``: 10;
    - a Messaging Service SID, ``MG`` and 32 hexadecimal digits: 1, as a US/CA long code;
    - any other E.164 number (a US/CA long code): 1.

    Anything else gets 1, the slowest. A 10DLC number or a Messaging Service is often
    provisioned faster: give the rate to `Pacer` (``mps``) to override these defaults.
    `has_media` only changes WhatsApp's pace.
    """
    if sender[:9].lower() == "whatsapp:":
        return WHATSAPP_MEDIA_MPS if has_media else WHATSAPP_MPS
    if _TOLL_FREE.fullmatch(sender):
        return TOLL_FREE_MPS
    if _MESSAGING_SERVICE.fullmatch(sender):
        return LONG_CODE_MPS
    if _SHORT_CODE.fullmatch(sender):
        return SHORT_CODE_MPS
    if any(c.isalpha() for c in sender) and "+" not in sender and ":" not in sender:
        return ALPHANUMERIC_MPS
    return LONG_CODE_MPS


def _media_weight(sender: str) -> float:
    """How many text messages' worth of the sender's pace one media message takes."""
    return default_mps(sender) / default_mps(sender, has_media=True)


@dataclass(frozen=True)
class SenderPace:
    """One sender's pace, as `Pacer.stats` reports it."""

    #: Segments per second the sender is paced at without any 429.
    configured: float
    #: Segments per second now: lower than `configured` for a while after a 429.
    rate: float
    #: Seconds left of a pause (after 21611); 0 when not paused.
    paused: float
    #: Seconds a one-segment message reserved now would wait.
    backlog: float


class _Sender:
    """The state of one sender's token bucket, kept as the time its schedule is booked to.

    ``booked`` is the time at which the bucket is empty again once every reservation so far
    has been sent: the bucket holds ``rate * (now - booked)`` tokens (at most its capacity);
    when ``booked`` is in the future, that much is owed by the reservations already made.
    """

    __slots__ = ("booked", "configured", "paused_until", "slowed", "slowed_at")

    def __init__(self, configured: float, booked: float) -> None:
        self.configured = configured
        self.booked = booked
        self.paused_until = -math.inf
        self.slowed: float | None = None
        self.slowed_at = 0.0

    def rate(self, now: float) -> float:
        if self.slowed is None:
            return self.configured
        recovered = self.slowed + RECOVERY_SHARE_PER_SECOND * self.configured * (
            now - self.slowed_at
        )
        if recovered >= self.configured:
            self.slowed = None
            return self.configured
        return recovered


class Pacer:
    """Paces sends per sender in message segments per second; thread-safe.

    Each sender (a ``From`` or a Messaging Service SID) has a token bucket refilled
    continuously at its rate: `mps` for every sender, or when it is None each sender's
    `default_mps`. The bucket holds at most one second's worth of tokens (or one message's,
    when a message has more segments than that), so a sender idle for a while bursts at most
    one second's worth; a new sender starts with one message's worth, so its first message
    goes at once and its first second sends at most ``mps`` segments more. In any window of
    one second, the send times handed out for one sender carry at most
    ``mps + max(mps, segments of the largest message)`` segments, ``mps`` its configured rate.

    `reserve` books the next slot and returns how long the caller must wait before sending
    (a Celery countdown, say); `wait` books it and sleeps that long. Every booking is made
    under one lock, so any number of threads waiting on one sender keep to its pace.
    `slot` caps the requests in flight across all senders at `max_concurrent`.

    After a 429 (20429, too many concurrent requests), `slow_down` halves the sender's rate
    (never below 10% of its configured rate), which then recovers linearly: each second
    without another 429 gives back 10% of the configured rate. After 21611 (the sender's
    queue at Twilio is full), `pause` stops the sender for a while (60 s by default).
    Slowing down and pausing change the reservations to come, not those already handed out.

    `clock` (seconds, never going back) and `sleep` can be replaced, e.g. in tests.
    """

    def __init__(
        self,
        mps: float | None = None,
        *,
        max_concurrent: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if mps is not None and (
            isinstance(mps, bool)
            or not isinstance(mps, int | float)
            or not math.isfinite(mps)
            or mps <= 0
        ):
            raise ValueError(f"mps must be a positive number of segments per second, not {mps!r}")
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise ValueError(f"max_concurrent must be an integer >= 1, not {max_concurrent!r}")
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be an integer >= 1, not {max_concurrent!r}")
        self._mps = None if mps is None else float(mps)
        self._max_concurrent = max_concurrent
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._senders: dict[str, _Sender] = {}
        self._slots = threading.BoundedSemaphore(max_concurrent)

    @property
    def max_concurrent(self) -> int:
        """How many requests `slot` lets be in flight at once."""
        return self._max_concurrent

    def configured_mps(self, sender: str) -> float:
        """The rate `sender` is paced at without any 429, in segments per second."""
        return default_mps(sender) if self._mps is None else self._mps

    def _sender(self, sender: str, now: float, cost: float = 0.0) -> _Sender:
        state = self._senders.get(sender)
        if state is None:
            configured = self.configured_mps(sender)
            # A new sender holds one message's worth of tokens: its first message goes now.
            state = _Sender(configured, booked=now - cost / configured)
            self._senders[sender] = state
        return state

    def reserve(self, sender: str, segments: int = 1, *, has_media: bool = False) -> float:
        """Book the sending of `segments` from `sender`; return the seconds to wait first.

        Never sleeps. The slot is booked at once: the caller must send after the returned
        delay (0 when it may send now), or the sender's pace is lost. `has_media` counts a
        media message at the sender's media pace (WhatsApp: 1.5 per second, not 10).
        """
        cost = _cost(sender, segments, has_media)
        with self._lock:
            now = self._clock()
            state = self._sender(sender, now, cost)
            rate = state.rate(now)
            capacity = max(rate, cost)
            start = max(state.booked, now - capacity / rate)
            state.booked = start + cost / rate
            delay = state.booked - now
            # Less than a nanosecond is rounding, not a wait.
            return delay if delay > _NEGLIGIBLE else 0.0

    def acquire(self, sender: str, segments: int = 1, *, has_media: bool = False) -> float:
        """The same as `reserve`: book the slot and return the seconds to wait first."""
        return self.reserve(sender, segments, has_media=has_media)

    def wait(self, sender: str, segments: int = 1, *, has_media: bool = False) -> float:
        """Book the sending of `segments` from `sender` and sleep until it may send.

        Returns the seconds slept (0 when it may send at once).
        """
        delay = self.reserve(sender, segments, has_media=has_media)
        if delay > 0:
            self._sleep(delay)
        return delay

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the `max_concurrent` request slots shared by every sender."""
        with self._slots:
            yield

    def slow_down(self, sender: str) -> float:
        """Halve `sender`'s rate after a 429 (never below 10% of its configured rate).

        The rate then recovers by 10% of the configured rate per second without another
        429. Returns the new rate, in segments per second.
        """
        with self._lock:
            now = self._clock()
            state = self._sender(sender, now)
            state.slowed = max(SLOWEST_SHARE * state.configured, state.rate(now) / 2)
            state.slowed_at = now
            return state.slowed

    def pause(self, sender: str, seconds: float = DEFAULT_PAUSE) -> None:
        """Give `sender` no tokens for `seconds` (after 21611: its queue is full).

        A reservation during the pause waits out what is left of it, then the usual delay
        of an empty bucket. A shorter pause never cuts a longer one short.
        """
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise ValueError(f"seconds must be a number >= 0, not {seconds!r}")
        with self._lock:
            now = self._clock()
            state = self._sender(sender, now)
            until = now + seconds
            state.paused_until = max(state.paused_until, until)
            state.booked = max(state.booked, until)

    def stats(self) -> dict[str, SenderPace]:
        """Every sender seen so far and its pace now."""
        with self._lock:
            now = self._clock()
            report = {}
            for sender, state in self._senders.items():
                rate = state.rate(now)
                start = max(state.booked, now - max(rate, 1.0) / rate)
                report[sender] = SenderPace(
                    configured=state.configured,
                    rate=rate,
                    paused=max(0.0, state.paused_until - now),
                    backlog=max(0.0, start + 1.0 / rate - now),
                )
            return report


def cost(sender: str, segments: int = 1, *, has_media: bool = False) -> float:
    """What one message of ``segments`` from ``sender`` takes of its pace, in text segments
    (a WhatsApp media message takes more than one text message's worth)."""
    return _cost(sender, segments, has_media)


def _cost(sender: str, segments: int, has_media: bool) -> float:
    if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
        raise ValueError(f"segments must be an integer >= 1, not {segments!r}")
    return segments * _media_weight(sender) if has_media else float(segments)
