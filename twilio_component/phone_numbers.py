"""Phone numbers as people write them, read with libphonenumber's data (the ``phonenumbers``
package, the ``[numbers]`` extra): national formats to E.164, and a number's time zones.

``phonenumbers`` is imported at first use, so nothing that does not read such numbers pays for
loading it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

__all__ = ["MISSING", "NumberError", "is_region", "time_zones", "to_e164"]

#: What to do when the package is not installed.
MISSING: Final = (
    "reading numbers in national format needs libphonenumber's data: "
    "pip install 'twilio-component[numbers]'"
)
_CHANNEL = re.compile(r"([A-Za-z][A-Za-z0-9-]*:)(.*)", re.DOTALL)


class NumberError(ValueError):
    """A number that is not valid for its region, with why."""


def _library() -> Any:
    try:
        import phonenumbers
    except ImportError:
        raise NumberError(MISSING) from None
    return phonenumbers


def is_region(code: str) -> bool:
    """Whether ``code`` is a region libphonenumber knows (two upper-case letters, e.g. US)."""
    return code in _library().SUPPORTED_REGIONS


def to_e164(text: str, region: str) -> str:
    """``text`` (``(415) 867-5309``, ``415.867.5309``, ``+1 415 867 5309``, or with a channel
    prefix such as ``whatsapp:``) in E.164, read as a number of ``region`` unless it starts
    with ``+``; NumberError saying why when it is not a valid number there."""
    channel = _CHANNEL.fullmatch(text.strip())
    prefix, number = (channel.group(1), channel.group(2)) if channel else ("", text)
    return prefix + _e164(number.strip(), region)


@lru_cache(maxsize=4096)
def _e164(number: str, region: str) -> str:
    library = _library()
    try:
        parsed = library.parse(number, region)
    except library.NumberParseException as error:
        raise NumberError(_PARSE_REASONS.get(error.error_type, "is not a phone number")) from None
    if not library.is_valid_number(parsed):
        where = library.region_code_for_number(parsed) or region
        reason = library.is_possible_number_with_reason(parsed)
        why = _POSSIBLE_REASONS.get(reason, "is not a number in use")
        raise NumberError(f"{why} for {where}")
    return str(library.format_number(parsed, library.PhoneNumberFormat.E164))


def time_zones(e164: str) -> tuple[str, ...]:
    """The IANA time zones of a number (several when its area spans them); empty when
    libphonenumber knows none."""
    library = _library()
    from phonenumbers import timezone

    try:
        parsed = library.parse(e164, None)
    except library.NumberParseException:
        return ()
    zones = tuple(timezone.time_zones_for_number(parsed))
    return () if zones == ("Etc/Unknown",) else zones


_PARSE_REASONS: Final = {
    0: "has no country code this region knows (start it with + and the country code)",
    1: "is not a phone number",
    2: "is too short after the international prefix",
    3: "is too short to be a phone number",
    4: "is too long to be a phone number",
}
_POSSIBLE_REASONS: Final = {
    1: "has a country code that does not exist",
    2: "is too short",
    3: "is too long",
    4: "is only a local number (add the area code)",
    5: "has a length no number has",
    0: "is not a number in use",
}
