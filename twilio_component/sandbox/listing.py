"""A Messages list request: its To/From/DateSent filters, paging, and how to write page URIs.

`date_filters` reads the date filters of any list (DateSent, DateCreated) the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

from twilio_component.sandbox.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from twilio_component.sandbox.store import MessageFilter

__all__ = ["DateWindow", "Listing", "date_filters"]


@dataclass(frozen=True, slots=True)
class Listing:
    """A list request's filters and paging, and how to write its page URIs."""

    filters: tuple[tuple[str, str], ...]
    wanted: MessageFilter
    size: int
    number: int
    token: str | None

    @property
    def skip(self) -> int:
        """Without a page token, Page counts pages from the newest message."""
        return self.number * self.size

    @classmethod
    def parse(cls, query: dict[str, list[str]]) -> Listing:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values and values[0] != "" else None

        dates, window = date_filters(query, "DateSent")
        filters = tuple(
            (name, value) for name in ("To", "From") if (value := one(name)) is not None
        ) + tuple(dates)
        size = _integer(one("PageSize"), "PageSize", DEFAULT_PAGE_SIZE, minimum=1)
        number = _integer(one("Page"), "Page", 0, minimum=0)
        token = one("PageToken")
        if token is not None and not (token.startswith(("PA", "PB")) and len(token) > 2):
            raise ValueError(f"Invalid PageToken: {token[:64]}")
        wanted = MessageFilter(
            to=one("To"), from_=one("From"), sent_from=window.start, sent_until=window.end
        )
        return cls(filters, wanted, min(size, MAX_PAGE_SIZE), number, token)

    def uri(self, path: str, number: int, token: str | None) -> str:
        params = [*self.filters, ("PageSize", str(self.size)), ("Page", str(number))]
        if token is not None:
            params.append(("PageToken", token))
        return f"{path}?{urlencode(params)}"


def _integer(text: str | None, name: str, default: int, *, minimum: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or int(text) < minimum:
        raise ValueError(f"Invalid {name}: {text[:64]!r} is not an integer of at least {minimum}")
    return int(text)


@dataclass(frozen=True, slots=True)
class DateWindow:
    """The moments a list's date filters let through: `start` to `end`, both inclusive, UTC."""

    start: datetime | None = None
    end: datetime | None = None

    def holds(self, moment: datetime) -> bool:
        """Whether `moment` is inside the window."""
        if self.start is not None and moment < self.start:
            return False
        return self.end is None or moment <= self.end


def date_filters(
    query: Mapping[str, Sequence[str]], name: str
) -> tuple[list[tuple[str, str]], DateWindow]:
    """The filters `name`, `name<` and `name>` given in `query` (as sent, in that order, to
    echo in page URIs) and the window they make; ValueError when a value is not a date.

    `name=DAY` is that whole day; `name<` is on or before (a whole day: its end), `name>` on
    or after. An empty value counts as absent.
    """
    given = []
    for key in (name, f"{name}<", f"{name}>"):
        values = query.get(key)
        if values and values[0] != "":
            given.append((key, values[0]))
    start: datetime | None = None
    end: datetime | None = None
    for key, value in given:
        moment, whole_day = _parse_date_filter(value, name)
        if key == name:
            day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
            start, end = day, day + timedelta(days=1, microseconds=-1)
        elif key.endswith("<"):
            end = moment + timedelta(days=1, microseconds=-1) if whole_day else moment
        else:
            start = moment
    return given, DateWindow(start, end)


_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
_DATE_TIME_FORMATS = ("%m/%d/%Y %H:%M:%S",)


def _parse_date_filter(text: str, name: str) -> tuple[datetime, bool]:
    """A date filter's value as a UTC datetime, and whether it named a whole day."""
    cleaned = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).replace(tzinfo=UTC), True
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        parsed = None
    if parsed is None:
        try:
            parsed = parsedate_to_datetime(cleaned)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        # e.g. "06/11/2019 22:05:25 MST": the zone name is read as UTC.
        head = cleaned.rsplit(" ", 1)[0] if cleaned.count(" ") > 1 else cleaned
        for fmt in _DATE_TIME_FORMATS:
            try:
                parsed = datetime.strptime(head, fmt)
                break
            except ValueError:
                pass
    if parsed is None:
        raise ValueError(f"Invalid {name}: {text[:64]!r} is not a date")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC), False
