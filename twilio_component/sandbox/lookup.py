"""Lookup v2 as the sandbox answers it, computed from libphonenumber's data (the ``phonenumbers``
package of the ``[numbers]`` extra, imported at the first lookup): validity, formats, country,
and a line type from the number's type.

libphonenumber cannot tell a US mobile from a US landline (both are FIXED_LINE_OR_MOBILE): the
sandbox calls those mobile, so they can be texted; a number libphonenumber knows as a fixed line
(a London 020 number) is a landline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, unquote

from twilio_component.sandbox.replies import error_reply, json_reply
from twilio_component.sandbox.server import Reply

__all__ = ["lookup_reply"]

PREFIX: Final = "/v2/PhoneNumbers/"
#: The data packages Lookup v2 has; each is an object of the answer, null unless asked.
PACKAGES: Final = (
    "caller_name",
    "sim_swap",
    "call_forwarding",
    "line_type_intelligence",
    "line_status",
    "identity_match",
    "reassigned_number",
    "sms_pumping_risk",
    "phone_number_quality_score",
    "pre_fill",
)
_FIELDS: Final = frozenset({*PACKAGES, "validation"})
#: libphonenumber's number types (PhoneNumberType values) as Lookup's line types.
_LINE_TYPES: Final = {
    0: "landline",
    1: "mobile",
    2: "mobile",
    3: "tollFree",
    4: "premium",
    5: "sharedCost",
    6: "nonFixedVoip",
    7: "personal",
    8: "pager",
    9: "uan",
    10: "voicemail",
}
#: Line types whose carrier Lookup leaves null.
_NO_CARRIER: Final = frozenset(
    {"personal", "tollFree", "premium", "sharedCost", "uan", "voicemail", "pager", "unknown"}
)
#: libphonenumber's parse errors (NumberParseException types) as Lookup's validation errors.
_PARSE_ERRORS: Final = {
    0: "INVALID_COUNTRY_CODE",
    1: "NOT_A_NUMBER",
    2: "TOO_SHORT",
    3: "TOO_SHORT",
    4: "TOO_LONG",
}
#: libphonenumber's ValidationResult as Lookup's validation errors.
_POSSIBLE: Final = {
    0: "INVALID_BUT_POSSIBLE",
    1: "INVALID_COUNTRY_CODE",
    2: "TOO_SHORT",
    3: "TOO_LONG",
    4: "INVALID_BUT_POSSIBLE",
    5: "INVALID_LENGTH",
}


def lookup_reply(path: str, query: Mapping[str, list[str]]) -> Reply:
    """The answer to ``GET /v2/PhoneNumbers/{PhoneNumber}`` (``path`` starts with PREFIX)."""
    try:
        import phonenumbers
    except ImportError:
        return error_reply(
            500,
            20500,
            "the sandbox's Lookup needs libphonenumber's data: pip install "
            "'twilio-component[numbers]'",
        )
    number = unquote(path[len(PREFIX) :])
    country = (query.get("CountryCode") or [""])[0].strip().upper() or "US"
    fields = {f.strip() for f in (query.get("Fields") or [""])[0].split(",") if f.strip()}
    unknown = sorted(fields - _FIELDS)
    if unknown or not number or "/" in number:
        what = "Fields" if unknown else "PhoneNumber"
        return error_reply(400, 60618, f"Invalid parameter: {what}")
    answer: dict[str, Any] = {
        "calling_country_code": None,
        "country_code": None,
        "phone_number": number,
        "national_format": None,
        "valid": False,
        "validation_errors": [],
        **dict.fromkeys(PACKAGES),
        "url": f"https://lookups.twilio.com{PREFIX}{quote(number, safe='+')}",
    }
    try:
        parsed = phonenumbers.parse(number, None if number.startswith("+") else country)
    except phonenumbers.NumberParseException as error:
        answer["validation_errors"] = [_PARSE_ERRORS.get(error.error_type, "NOT_A_NUMBER")]
        return json_reply(200, answer)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(parsed):  # as Twilio's example: only the input echoed
        reason = phonenumbers.is_possible_number_with_reason(parsed)
        answer["validation_errors"] = [_POSSIBLE.get(reason, "INVALID_BUT_POSSIBLE")]
        return json_reply(200, answer)
    answer.update(
        calling_country_code=str(parsed.country_code),
        phone_number=e164,
        country_code=phonenumbers.region_code_for_number(parsed),
        national_format=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
        valid=True,
        url=f"https://lookups.twilio.com{PREFIX}{quote(e164, safe='+')}",
    )
    if "line_type_intelligence" in fields:
        answer["line_type_intelligence"] = _line_type(parsed)
    return json_reply(200, answer)


def _line_type(parsed: Any) -> dict[str, Any]:
    """Line Type Intelligence from the number's type; the carrier libphonenumber names, if any."""
    import phonenumbers

    kind = _LINE_TYPES.get(int(phonenumbers.number_type(parsed)), "unknown")
    carrier = None
    if kind not in _NO_CARRIER:
        from phonenumbers import carrier as carriers

        carrier = carriers.name_for_number(parsed, "en") or None
    return {
        "mobile_country_code": None,
        "mobile_network_code": None,
        "carrier_name": carrier,
        "type": kind,
        "error_code": None,
    }
