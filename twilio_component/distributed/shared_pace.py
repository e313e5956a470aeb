"""The pace per sender and the cap on requests in flight, shared by every worker through Redis.

Each decision is one Lua script, so it is atomic however many workers ask at once, and every
worker reads the same clock (Redis's ``TIME``), so machines whose clocks differ a little still
keep one schedule. A sender's schedule is the time it is booked to (as `twilio_component.pacing`
keeps it in one process): a reservation takes the next slot, ``cost / rate`` seconds after the
one before, and says how long to wait for it. A sender idle for a while starts again with one
message's worth, never a burst: in any second, one sender's slots carry at most its rate plus
one message.

Why not a rate-limiting library: the ones that speak Redis (``limits``, ``pyrate-limiter``)
answer "may I send now?", which makes every waiting worker ask again and again; a worker here
books a future slot and hands the wait to Celery as a countdown, and after a 429 the rate halves
and recovers, which they do not model. The two scripts are twenty lines each.
"""

from __future__ import annotations

import math
import uuid
from typing import Any, cast

from twilio_component.pacing import DEFAULT_PAUSE, RECOVERY_SHARE_PER_SECOND, SLOWEST_SHARE

__all__ = ["SharedPacer"]

#: Every key this module writes starts with this.
PREFIX = "twilio-component:"

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost, configured = tonumber(ARGV[1]), tonumber(ARGV[2])
local recovery = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'booked', 'slowed', 'slowed_at')
local booked = tonumber(state[1]) or now
local rate = configured
if state[2] then
  rate = tonumber(state[2]) + recovery * configured * (now - tonumber(state[3]))
  if rate >= configured then
    rate = configured
    redis.call('HDEL', KEYS[1], 'slowed', 'slowed_at')
  end
end
if booked < now then booked = now end
local after = booked + cost / rate
redis.call('HSET', KEYS[1], 'booked', string.format('%.6f', after))
redis.call('PEXPIRE', KEYS[1], math.ceil((after - now + 3600) * 1000))
return {string.format('%.6f', booked - now), string.format('%.6f', now)}
"""

_SLOW_DOWN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local configured, slowest = tonumber(ARGV[1]), tonumber(ARGV[2])
local recovery = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'slowed', 'slowed_at')
local rate = configured
if state[1] then
  local since = now - tonumber(state[2])
  rate = math.min(configured, tonumber(state[1]) + recovery * configured * since)
end
local slowed = math.max(slowest * configured, rate / 2)
redis.call('HSET', KEYS[1], 'slowed', string.format('%.6f', slowed),
  'slowed_at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], 3600000)
return string.format('%.6f', slowed)
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
local booked = tonumber(redis.call('HGET', KEYS[1], 'booked')) or now
if booked < until_ then
  redis.call('HSET', KEYS[1], 'booked', string.format('%.6f', until_))
end
redis.call('PEXPIRE', KEYS[1], math.ceil((until_ - now + 3600) * 1000))
return 1
"""

_ENTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000))
  return 1
end
return 0
"""


class SharedPacer:
    """Paces senders and caps requests in flight for every worker sharing one Redis server.

    `reserve` books a sender's next slot and returns the seconds until it (a Celery countdown);
    `slow_down` halves a sender's rate after a 429 (never below 10% of it; it recovers by 10% of
    it per second); `pause` gives a sender no slot for a while (after 21611); `enter` and `leave`
    hold one of ``cap`` places in flight, each place a lease that ends by itself after ``ttl``
    seconds so that a killed worker's places come back.
    """

    def __init__(self, redis_url: str, *, client: Any = None) -> None:
        if client is None:
            try:
                import redis
            except ImportError:
                raise ImportError(
                    "the shared pace needs redis: pip install 'twilio-component[celery]'"
                ) from None
            client = redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)
        self._redis = client
        self._reserve = client.register_script(_RESERVE)
        self._slow_down = client.register_script(_SLOW_DOWN)
        self._pause = client.register_script(_PAUSE)
        self._enter = client.register_script(_ENTER)

    def close(self) -> None:
        """Close the connections to Redis."""
        self._redis.close()

    def reserve(self, sender: str, cost: float, mps: float) -> float:
        """Book ``cost`` segments from ``sender`` at ``mps``; the seconds to wait before sending."""
        _check_positive("cost", cost)
        _check_positive("mps", mps)
        wait, _ = self._reserve(
            keys=[_sender_key(sender)], args=[repr(float(cost)), repr(float(mps)), _RECOVERY]
        )
        return max(0.0, float(wait))

    def slow_down(self, sender: str, mps: float) -> float:
        """Halve ``sender``'s rate after a 429; the new rate in segments per second."""
        _check_positive("mps", mps)
        rate = self._slow_down(
            keys=[_sender_key(sender)], args=[repr(float(mps)), repr(SLOWEST_SHARE), _RECOVERY]
        )
        return float(rate)

    def pause(self, sender: str, seconds: float = DEFAULT_PAUSE) -> None:
        """Give ``sender`` no slot for ``seconds`` (a shorter pause never cuts a longer one)."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a number >= 0, not {seconds!r}")
        self._pause(keys=[_sender_key(sender)], args=[repr(float(seconds))])

    def enter(self, cap: int, ttl: float, *, scope: str = "requests") -> str | None:
        """One of ``cap`` places in flight for ``ttl`` seconds: its token, or None when full."""
        token = uuid.uuid4().hex
        granted = self._enter(keys=[PREFIX + "in-flight:" + scope], args=[token, cap, ttl])
        return token if int(cast(int, granted)) == 1 else None

    def leave(self, token: str, *, scope: str = "requests") -> None:
        """Give back the place ``enter`` returned."""
        self._redis.zrem(PREFIX + "in-flight:" + scope, token)

    def in_flight(self, *, scope: str = "requests") -> int:
        """How many places are held now (expired ones included until the next `enter`)."""
        return int(self._redis.zcard(PREFIX + "in-flight:" + scope))


_RECOVERY = repr(RECOVERY_SHARE_PER_SECOND)


def _sender_key(sender: str) -> str:
    return PREFIX + "pace:" + sender


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a positive number, not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, not {value!r}")
