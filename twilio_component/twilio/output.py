"""Maps Twilio's Message JSON to the documented output object, driven by the descriptor's output."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_tz
from functools import lru_cache
from typing import Any

from twilio_component.twilio.currencies import currency

Convert = Callable[[Any], Any]


def date_time(value: object) -> dict[str, str] | None:
    """An RFC 2822 date (the 2010 API) or an ISO 8601 one (Verify) as ``{"dateTime": local date
    and time, "zoneId": "Z" or "+HH:MM"}``."""
    if not isinstance(value, str):
        return None
    parts = _date_parts(value)
    return None if parts is None else {"dateTime": parts[0], "zoneId": parts[1]}


@lru_cache(maxsize=256)
def _date_parts(value: str) -> tuple[str, str] | None:
    """(local date and time, zone) of an RFC 2822 date; cached, as a message's dates repeat."""
    parsed = parsedate_tz(value)
    if parsed is None:
        return _iso_parts(value)
    year, month, day, hour, minute, second = parsed[:6]
    try:
        datetime(year, month, day, hour, minute, second)  # validates the fields
    except ValueError:
        return None
    offset = parsed[9] or 0
    if offset == 0:
        zone = "Z"
    else:
        sign = "+" if offset > 0 else "-"
        hours, minutes = divmod(abs(offset) // 60, 60)
        zone = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}", zone


def _iso_parts(value: str) -> tuple[str, str] | None:
    """(local date and time, zone) of an ISO 8601 date-time with a zone, such as Verify's."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    offset = parsed.utcoffset()
    if offset is None:
        return None
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    zone = "Z" if minutes == 0 else f"{sign}{hours:02d}:{rest:02d}"
    return parsed.replace(tzinfo=None, microsecond=0).isoformat(), zone


def phone_number(value: object) -> dict[str, str] | None:
    """A sender as ``{"rawNumber": ...}``, or None when Twilio gives none."""
    if value is None or isinstance(value, dict | list):
        return None
    return {"rawNumber": str(value)}


def _string(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _integer(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _object_of_strings(value: object) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _strings(value: object) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [str(item) for item in value if item is not None]


def line_type(value: object) -> str | None:
    """The line type of Lookup's line_type_intelligence object (mobile, landline…)."""
    return _string(value.get("type")) if isinstance(value, Mapping) else None


def carrier_name(value: object) -> str | None:
    """The carrier of Lookup's line_type_intelligence object, when Twilio names one."""
    return _string(value.get("carrier_name")) if isinstance(value, Mapping) else None


def price_currency(value: object) -> dict[str, Any] | None:
    """An ISO 4217 code as ``{"currencyCode", "defaultFractionDigits", "numericCode"}``."""
    return currency(value) if isinstance(value, str) else None


_SHAPES: dict[str, Convert] = {
    "phone_number": phone_number,
    "date_time": date_time,
    "currency": price_currency,
    "line_type": line_type,
    "carrier_name": carrier_name,
}
#: The output shapes this component's descriptor may name.
SHAPES = frozenset(_SHAPES)
_TYPES: dict[str, Convert] = {
    "STRING": _string,
    "INTEGER": _integer,
    "OBJECT": _object_of_strings,
    "BOOLEAN": _boolean,
}


def output_plan(output_spec: Mapping[str, Any]) -> tuple[tuple[str, str, Convert], ...]:
    """(output key, Twilio key, converter) for every output property, in the documented order."""
    steps = []
    for prop in output_spec["properties"]:
        shape = prop.get("shape")
        convert = _SHAPES[shape] if shape else _converter(prop)
        steps.append((prop["name"], prop.get("source", prop["name"]), convert))
    return tuple(steps)


def _converter(prop: Mapping[str, Any]) -> Convert:
    """How a property without a shape is built: by its type; a list of objects item by item."""
    if prop["type"] != "ARRAY":
        return _TYPES[prop["type"]]
    items = prop.get("items", {})
    if "properties" not in items:
        return _strings
    plan = output_plan(items)

    def objects(value: object) -> list[dict[str, Any]] | None:
        if not isinstance(value, list):
            return None
        return [to_output(item, plan) for item in value if isinstance(item, Mapping)]

    return objects


def to_output(
    resource: Mapping[str, Any], plan: Sequence[tuple[str, str, Convert]]
) -> dict[str, Any]:
    """The output object for one Message resource, every key present, nulls kept."""
    return {key: convert(resource.get(source)) for key, source, convert in plan}
