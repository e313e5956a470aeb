"""The sandbox's own numbers as IncomingPhoneNumbers resources: list, fetch and update."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from twilio_component.sandbox.checks import Refusal, is_web_url
from twilio_component.sandbox.paging import page_payload, query_value
from twilio_component.sandbox.replies import error_reply, json_reply, not_found, refusal_reply
from twilio_component.sandbox.server import Reply
from twilio_component.sandbox.store import rfc2822

__all__ = ["PhoneNumbers", "number_sid"]

API_VERSION: Final = "2010-04-01"
INVALID_PARAMETER: Final = 20001
# Unverified: neither code appears in FACTS.md or the spec (their Invalid URL 21205 and Invalid
# Method 21209 belong to the Calls resource); they were given as IncomingPhoneNumbers' own when
# these checks were added. Every URL and method field is checked alike.
INVALID_URL: Final = 21402
INVALID_METHOD: Final = 21403
MAX_FRIENDLY_NAME: Final = 64

_E164: Final = re.compile(r"\+[1-9][0-9]{6,13}")
_APPLICATION_SID: Final = re.compile(r"AP[0-9a-fA-F]{32}")
_METHODS: Final = frozenset({"GET", "POST"})

# Form parameter → resource field, for what an update may change.
URL_FIELDS: Final[Mapping[str, str]] = {
    "SmsUrl": "sms_url",
    "SmsFallbackUrl": "sms_fallback_url",
    "StatusCallback": "status_callback",
    "VoiceUrl": "voice_url",
    "VoiceFallbackUrl": "voice_fallback_url",
}
METHOD_FIELDS: Final[Mapping[str, str]] = {
    "SmsMethod": "sms_method",
    "SmsFallbackMethod": "sms_fallback_method",
    "StatusCallbackMethod": "status_callback_method",
    "VoiceMethod": "voice_method",
    "VoiceFallbackMethod": "voice_fallback_method",
}


def number_sid(account_sid: str, phone_number: str) -> str:
    """The number's SID: ``PN`` + 32 hex digits, the same for the same account and number."""
    digest = hashlib.sha256(f"{account_sid}:{phone_number}".encode()).hexdigest()
    return "PN" + digest[:32]


def _friendly_name(phone_number: str) -> str:
    """Twilio's default friendly name: ``(500) 555-0006`` for a NANP number, else the number."""
    if len(phone_number) == 12 and phone_number.startswith("+1"):
        digits = phone_number[2:]
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return phone_number


class PhoneNumbers:
    """The account's phone numbers (E.164 senders only) and their webhook configuration."""

    def __init__(self, *, account_sid: str, numbers: Iterable[str], created: datetime) -> None:
        self._account_sid = account_sid
        self._lock = threading.Lock()
        self._by_sid: dict[str, dict[str, Any]] = {}
        stamp = rfc2822(created)
        for number in dict.fromkeys(numbers):
            if _E164.fullmatch(number):
                resource = self._resource(number, stamp)
                self._by_sid[resource["sid"]] = resource

    def _resource(self, number: str, stamp: str) -> dict[str, Any]:
        sid = number_sid(self._account_sid, number)
        # Key order and defaults as Twilio's fetch example shows them.
        return {
            "account_sid": self._account_sid,
            "address_requirements": "none",
            "address_sid": None,
            "api_version": API_VERSION,
            "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": stamp,
            "date_updated": stamp,
            "emergency_status": "Inactive",
            "emergency_address_sid": None,
            "emergency_address_status": "unregistered",
            "friendly_name": _friendly_name(number),
            "identity_sid": None,
            "origin": "twilio",
            "phone_number": number,
            "sid": sid,
            "sms_application_sid": None,
            "sms_fallback_method": "POST",
            "sms_fallback_url": "",
            "sms_method": "POST",
            "sms_url": "",
            "status_callback": "",
            "status_callback_method": "POST",
            "trunk_sid": None,
            "uri": f"/{API_VERSION}/Accounts/{self._account_sid}/IncomingPhoneNumbers/{sid}.json",
            "voice_application_sid": None,
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": None,
            "voice_method": "POST",
            "voice_url": None,
            "voice_receive_mode": "voice",
            "status": "in-use",
            "bundle_sid": None,
            "type": "local",
        }

    # -- reading ----------------------------------------------------------------------------

    def get(self, sid: str) -> dict[str, Any] | None:
        """A copy of the number with that SID, or None."""
        with self._lock:
            resource = self._by_sid.get(sid)
            return _copy(resource) if resource is not None else None

    def find(self, phone_number: str) -> dict[str, Any] | None:
        """A copy of the number's resource (e.g. its ``sms_url``), or None when not ours."""
        with self._lock:
            for resource in self._by_sid.values():
                if resource["phone_number"] == phone_number:
                    return _copy(resource)
        return None

    def all(self) -> list[dict[str, Any]]:
        """Copies of every number, in the order they were given."""
        with self._lock:
            return [_copy(resource) for resource in self._by_sid.values()]

    # -- changing ---------------------------------------------------------------------------

    def update(
        self, sid: str, form: Mapping[str, Sequence[str]], now: datetime
    ) -> dict[str, Any] | None:
        """Apply an update form (Refusal when a value is invalid); None when there is no number."""
        changes = _changes(form)
        with self._lock:
            resource = self._by_sid.get(sid)
            if resource is None:
                return None
            if changes:
                resource.update(changes)
                resource["date_updated"] = rfc2822(now)
            return _copy(resource)

    # -- HTTP -------------------------------------------------------------------------------

    def list_reply(self, path: str, query: dict[str, list[str]]) -> Reply:
        """``GET …/IncomingPhoneNumbers.json`` with the PhoneNumber and FriendlyName filters."""
        wanted_number = query_value(query, "PhoneNumber")
        wanted_name = query_value(query, "FriendlyName")
        matches = _number_matcher(wanted_number)
        items = [
            resource
            for resource in self.all()
            if matches(resource["phone_number"])
            and (wanted_name is None or resource["friendly_name"] == wanted_name)
        ]
        filters = [
            (name, value)
            for name, value in (("PhoneNumber", wanted_number), ("FriendlyName", wanted_name))
            if value is not None
        ]
        try:
            payload = page_payload(path, "incoming_phone_numbers", items, query, filters)
        except ValueError as problem:
            return error_reply(400, INVALID_PARAMETER, str(problem))
        return json_reply(200, payload)

    def fetch_reply(self, path: str, sid: str) -> Reply:
        """``GET …/IncomingPhoneNumbers/{Sid}.json``."""
        resource = self.get(sid)
        return not_found(path) if resource is None else json_reply(200, resource)

    def update_reply(
        self, path: str, sid: str, form: Mapping[str, Sequence[str]], now: datetime
    ) -> Reply:
        """``POST …/IncomingPhoneNumbers/{Sid}.json``."""
        if self.get(sid) is None:
            return not_found(path)
        try:
            resource = self.update(sid, form, now)
        except Refusal as refusal:
            return refusal_reply(refusal)
        return not_found(path) if resource is None else json_reply(200, resource)


def _changes(form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The resource fields an update form sets; an empty value clears a URL."""
    changes: dict[str, Any] = {}
    for name, field in URL_FIELDS.items():
        value = _given(form, name)
        if value is None:
            continue
        if value and not is_web_url(value, callback=False):
            raise _refuse(
                f"{name} {_shown(value)!r} is not a valid http or https URL.", INVALID_URL
            )
        changes[field] = value
    for name, field in METHOD_FIELDS.items():
        value = _given(form, name)
        if value is None:
            continue
        if value.upper() not in _METHODS:
            raise _refuse(
                f"{name} {_shown(value)!r} is not valid: use GET or POST.", INVALID_METHOD
            )
        changes[field] = value.upper()
    application = _given(form, "SmsApplicationSid")
    if application is not None:
        if application and not _APPLICATION_SID.fullmatch(application):
            raise _refuse(f"SmsApplicationSid {_shown(application)!r} is not an AP SID.")
        changes["sms_application_sid"] = application or None
    friendly = _given(form, "FriendlyName")
    if friendly is not None:
        if len(friendly) > MAX_FRIENDLY_NAME:
            raise _refuse(f"FriendlyName is longer than {MAX_FRIENDLY_NAME} characters.")
        changes["friendly_name"] = friendly
    return changes


def _number_matcher(pattern: str | None) -> Callable[[str], bool]:
    """A test for PhoneNumber filters: part of a number, ``*`` standing for any one digit."""
    if pattern is None:
        return lambda number: True
    parts = [re.escape(part) for part in pattern.strip().split("*")]
    compiled = re.compile("[0-9]".join(parts))
    return lambda number: compiled.search(number) is not None


def _given(form: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The first value sent for `name` (possibly empty), or None when it was not sent."""
    values = form.get(name)
    if not values:
        return None
    return values if isinstance(values, str) else values[0]


def _refuse(message: str, code: int = INVALID_PARAMETER) -> Refusal:
    return Refusal(400, code, message)


def _shown(value: str) -> str:
    return value if len(value) <= 64 else value[:61] + "..."


def _copy(resource: dict[str, Any]) -> dict[str, Any]:
    copied = dict(resource)
    copied["capabilities"] = dict(resource["capabilities"])
    return copied
