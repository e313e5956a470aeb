"""Quiet hours: a send window in the recipient's local time, from the time zones of their number
(all of them must be inside it), or a time zone given for numbers that have none."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["SendWindow", "time_zone"]

_WINDOW = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]|24):([0-5][0-9])")
#: How far ahead ``opens_in`` looks for the window (a day and a half covers every zone).
_HORIZON = timedelta(hours=36)


def time_zone(name: str) -> ZoneInfo:
    """An IANA time zone by name (e.g. America/New_York); ValueError when there is none."""
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not an IANA time zone (e.g. America/New_York, Europe/London)"
        ) from None


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class SendWindow:
    """When messages may be sent, in each recipient's local time: from ``start`` up to ``end``
    (a window such as 21:00-08:00 runs past midnight). ``fallback`` is the time zone of
    numbers that have none of their own."""

    start: time
    end: time
    fallback: str | None = None

    @classmethod
    def parse(cls, text: str, fallback: str | None = None) -> SendWindow:
        """``HH:MM-HH:MM`` (24-hour clock); ValueError saying what is wrong."""
        match = _WINDOW.fullmatch(text.strip())
        if match is None:
            raise ValueError(
                f"{text!r} is not a window such as 08:00-21:00 (HH:MM-HH:MM, 24-hour clock)"
            )
        start = time(int(match.group(1)), int(match.group(2)))
        end_hour, end_minute = int(match.group(3)), int(match.group(4))
        if end_hour == 24 and end_minute:
            raise ValueError(f"{text!r}: the window ends at 24:00 at the latest")
        end = time(23, 59, 59, 999999) if end_hour == 24 else time(end_hour, end_minute)
        if start == end:
            raise ValueError(f"{text!r} is empty: give a start and an end that differ")
        if fallback is not None:
            time_zone(fallback)
        return cls(start, end, fallback)

    def zones_of(self, address: str) -> tuple[str, ...]:
        """The time zones of a recipient's number, else the fallback's; empty: none known."""
        from twilio_component.phone_numbers import time_zones

        number = address.rpartition(":")[2]
        zones = time_zones(number) if number.startswith("+") else ()
        if zones:
            return zones
        return (self.fallback,) if self.fallback else ()

    def is_open(self, zones: Sequence[str], now: datetime | None = None) -> bool:
        """Whether it is inside the window in every one of ``zones`` at ``now``."""
        moment = now or datetime.now(UTC)
        return bool(zones) and all(self._inside(moment, zone) for zone in zones)

    def opens_in(self, zones: Sequence[str], now: datetime | None = None) -> float | None:
        """Seconds until the window is open in every zone (0 when it is), to the minute; None
        when it never is within a day and a half (zones too far apart for the window)."""
        moment = now or datetime.now(UTC)
        step = timedelta(minutes=1)
        ahead = timedelta(0)
        while ahead <= _HORIZON:
            if self.is_open(zones, moment + ahead):
                return ahead.total_seconds()
            ahead += step if ahead else timedelta(seconds=60 - moment.second)
        return None

    def _inside(self, moment: datetime, zone: str) -> bool:
        local = moment.astimezone(time_zone(zone)).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # past midnight

    def __str__(self) -> str:
        end = "24:00" if self.end == time(23, 59, 59, 999999) else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"
