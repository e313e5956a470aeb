"""Twilio's list-page shape for small collections (phone numbers, media), paged by Page/PageSize."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "page_payload", "query_value"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def query_value(query: dict[str, list[str]], name: str) -> str | None:
    """The first non-empty value of a query parameter, or None."""
    values = query.get(name)
    return values[0] if values and values[0] != "" else None


def page_payload(
    path: str,
    key: str,
    items: Sequence[dict[str, Any]],
    query: dict[str, list[str]],
    filters: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """One page of `items` under `key`, with Twilio's paging fields; ValueError on bad paging.

    `filters` are the query parameters echoed in every page URI (before PageSize and Page).
    """
    size = _integer(query_value(query, "PageSize"), "PageSize", DEFAULT_PAGE_SIZE, 1)
    size = min(size, MAX_PAGE_SIZE)
    number = _integer(query_value(query, "Page"), "Page", 0, 0)
    start = number * size
    found = list(items[start : start + size])

    def uri(page: int) -> str:
        return f"{path}?{urlencode([*filters, ('PageSize', str(size)), ('Page', str(page))])}"

    return {
        "end": start + len(found) - 1 if found else start,
        "first_page_uri": uri(0),
        "next_page_uri": uri(number + 1) if start + size < len(items) else None,
        "page": number,
        "page_size": size,
        "previous_page_uri": uri(number - 1) if number > 0 else None,
        key: found,
        "start": start,
        "uri": uri(number),
    }


def _integer(text: str | None, name: str, default: int, minimum: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or len(text) > 9 or int(text) < minimum:
        raise ValueError(f"Invalid {name}: {text[:64]!r} is not an integer of at least {minimum}")
    return int(text)
