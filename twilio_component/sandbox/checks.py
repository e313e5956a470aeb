"""The sandbox's checks on a create-message request, answered with Twilio's own error codes."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = [
    "MessageRequest",
    "Refusal",
    "check_create",
    "is_web_url",
]

from twilio_component.sandbox import message_spec as spec

# [0-9], never \d: \d also matches other scripts' digits. The shortest numbers in use anywhere
# have 7 digits with their country code (Niue, +683 and 4 digits); fewer is certainly no number.
_E164: Final = re.compile(r"\+[1-9][0-9]{6,13}")
_SHORT_CODE: Final = re.compile(r"[0-9]{5,6}")
_ALPHANUMERIC_SENDER: Final = re.compile(r"(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_CHANNEL_ADDRESS: Final = re.compile(r"([a-z][a-z0-9-]*):(\S+)")
# Channels the Messages API addresses by prefix, a number after it (a sender on RCS may be an
# agent ID instead); others (sms:, messenger:, ...) are refused.
_E164_CHANNELS: Final = frozenset({"whatsapp", "rcs"})
_AGENT_CHANNELS: Final = frozenset({"rcs"})
# Channels whose From and To must both carry the prefix (21910 otherwise).
_PAIRED_CHANNELS: Final = frozenset({"whatsapp"})
_SID: Final = {name: re.compile(pattern) for name, pattern in spec.SID_PATTERNS.items()}
_UNSIGNED: Final = re.compile(r"[0-9]{1,18}")
_SIGNED: Final = re.compile(r"[+-]?[0-9]{1,18}")
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_WHITESPACE: Final = re.compile(r"\s")
_BOOLEANS: Final = tuple(n for n, t in spec.PARAMETER_TYPES.items() if t == "boolean")
_ENUM_CODES: Final[Mapping[str, int]] = {"ScheduleType": spec.SCHEDULE_TYPE_INVALID}


class Refusal(Exception):
    """An API error the sandbox answers with, in Twilio's error shape."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON error body Twilio sends."""
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """A create request that passed every check, normalised."""

    to: str
    from_: str | None = None
    messaging_service_sid: str | None = None
    body: str = ""
    media_urls: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: str | None = None
    status_callback: str | None = None
    application_sid: str | None = None
    validity_period: int | None = None
    send_at: datetime | None = None
    schedule_type: str | None = None
    smart_encoded: bool = False
    shorten_urls: bool = False
    send_as_mms: bool = False
    provide_feedback: bool = False
    force_delivery: bool = False
    max_price: Decimal | None = None
    attempt: int | None = None
    content_retention: str | None = None
    address_retention: str | None = None
    risk_check: str | None = None
    traffic_type: str | None = None
    persistent_action: tuple[str, ...] = ()
    fallback_from: str | None = None

    @property
    def scheduled(self) -> bool:
        """Whether Twilio would hold the message until `send_at` (status `scheduled`)."""
        return self.schedule_type == "fixed" and self.send_at is not None


# ---------------------------------------------------------------------------------------------
# Order of checks (the first failure is the answer, as with Twilio):
#   1. To: present (21604), well formed (21211, test number +15005550001 included).
#   2. MessagingServiceSid pattern (21705); a From holding an MG SID counts as the service.
#   3. From: present unless a service is given (21603), well formed (21212), not equal to To
#      (21266), on the same channel as To for WhatsApp (21910), then test-mode senders and
#      ownership (21212/21606/21611).
#   4. To test-mode numbers (21612, 21408, 21610, 21614).
#   5. Content: ContentSid (21655), ContentVariables (21654, 21656), one of Body/MediaUrl/
#      ContentSid (21602), Body length (21617), MediaUrl count (21623) and each URL (21620).
#   6. Delivery options: StatusCallback (21609), ApplicationSid, ValidityPeriod (21624),
#      FallbackFrom, booleans, ShortenUrls, enums, MaxPrice, Attempt (20001 unless stated).
#   7. Scheduling: ScheduleType (35126, checked with the other enums in 6), SendAt missing
#      (35111), no service (35118), SendAt unparseable or too early (35114), too late (35115).
# An empty value counts as absent (Twilio's SDKs never send empty values); when a single-valued
# key is repeated, the first value counts.
# ---------------------------------------------------------------------------------------------


def check_create(
    form: Mapping[str, Sequence[str]], *, own_numbers: Collection[str], now: datetime
) -> MessageRequest:
    """Check a decoded create-message form as Twilio would; raise Refusal on the first failure."""
    to = _scalar(form, "To")
    if to is None:
        raise _refuse(spec.TO_REQUIRED, "A 'To' phone number is required.")
    if to == spec.MAGIC_TO_INVALID or not _is_recipient(to):
        raise _refuse(spec.TO_INVALID, f"The 'To' number {_shown(to)} is not a valid phone number.")

    service = _sid(form, "MessagingServiceSid", spec.SERVICE_SID_INVALID)
    sender = _scalar(form, "From")
    # Twilio accepts a Messaging Service SID in From as well.
    is_service = sender is not None and _SID["MessagingServiceSid"].fullmatch(sender) is not None
    if is_service and service in (None, sender):
        service, sender = sender, None
    if sender is None and service is None:
        raise _refuse(spec.FROM_REQUIRED, "A 'From' phone number is required.")
    if sender is not None:
        _check_sender(sender, to, own_numbers)
    if to in spec.MAGIC_TO:
        code, message = spec.MAGIC_TO[to]
        raise _refuse(code, message.format(to))

    content_sid = _sid(form, "ContentSid", spec.CONTENT_SID_INVALID)
    content_variables = _content_variables(form, content_sid)
    body = _scalar(form, "Body") or ""
    media_urls = _values(form, "MediaUrl")
    if not body and not media_urls and content_sid is None:
        raise _refuse(spec.BODY_REQUIRED, "Message body is required.")
    # Twilio counts "characters"; the sandbox counts code points (an emoji is one), the reading
    # that never refuses a body Twilio would take.
    if len(body) > spec.MAX_BODY_CHARS:
        raise _refuse(
            spec.BODY_TOO_LONG,
            f"The message body exceeds the {spec.MAX_BODY_CHARS} character limit.",
        )
    _check_media(media_urls)

    status_callback = _scalar(form, "StatusCallback")
    if status_callback is not None and not is_web_url(status_callback, callback=True):
        raise _refuse(
            spec.STATUS_CALLBACK_INVALID,
            f"The StatusCallback URL {_shown(status_callback)} is not a valid URL.",
        )
    application_sid = _sid(form, "ApplicationSid", spec.INVALID_PARAMETER)
    validity_period = _validity_period(form)
    fallback_from = _fallback_from(form, service, own_numbers)
    flags = {name: _boolean(form, name) for name in _BOOLEANS}
    if flags["ShortenUrls"] and service is None:
        raise _refuse(spec.INVALID_PARAMETER, "ShortenUrls requires a MessagingServiceSid.")
    choices = {name: _choice(form, name, allowed) for name, allowed in spec.ENUMS.items()}
    max_price = _max_price(form)
    attempt = _attempt(form)

    send_at = _schedule(form, choices["ScheduleType"], service, now)

    return MessageRequest(
        to=to,
        from_=sender,
        messaging_service_sid=service,
        body=body,
        media_urls=media_urls,
        content_sid=content_sid,
        content_variables=content_variables,
        status_callback=status_callback,
        application_sid=application_sid,
        validity_period=validity_period,
        send_at=send_at,
        schedule_type=choices["ScheduleType"],
        smart_encoded=flags["SmartEncoded"],
        shorten_urls=flags["ShortenUrls"],
        send_as_mms=flags["SendAsMms"],
        provide_feedback=flags["ProvideFeedback"],
        force_delivery=flags["ForceDelivery"],
        max_price=max_price,
        attempt=attempt,
        content_retention=choices["ContentRetention"],
        address_retention=choices["AddressRetention"],
        risk_check=choices["RiskCheck"],
        traffic_type=choices["TrafficType"],
        persistent_action=_values(form, "PersistentAction"),
        fallback_from=fallback_from,
    )


def _refuse(code: int, message: str) -> Refusal:
    return Refusal(400, code, message)


def _shown(value: str) -> str:
    """A value as quoted back in a message, cut short so a huge input cannot bloat the reply."""
    return value if len(value) <= 64 else value[:61] + "..."


def _scalar(form: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = form.get(name)
    if not values:
        return None
    value = values if isinstance(values, str) else values[0]
    return value or None


def _values(form: Mapping[str, Sequence[str]], name: str) -> tuple[str, ...]:
    values = form.get(name)
    if not values:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(value for value in values if value)


def _is_recipient(address: str) -> bool:
    """E.164, or a channel address such as whatsapp:+15552229999 or rcs:+15552229999."""
    if _E164.fullmatch(address):
        return True
    match = _CHANNEL_ADDRESS.fullmatch(address)
    if match is None:
        return False
    channel, rest = match.groups()
    return channel in _E164_CHANNELS and _E164.fullmatch(rest) is not None


def _is_sender(sender: str) -> bool:
    """E.164, short code, alphanumeric sender ID, or a channel address (an RCS agent too)."""
    if (
        _E164.fullmatch(sender) is not None
        or _SHORT_CODE.fullmatch(sender) is not None
        or _ALPHANUMERIC_SENDER.fullmatch(sender) is not None
        or _is_recipient(sender)
    ):
        return True
    match = _CHANNEL_ADDRESS.fullmatch(sender)
    return match is not None and match.group(1) in _AGENT_CHANNELS


def _channel(address: str) -> str | None:
    """The channel prefix of an address (``whatsapp``), or None for a plain number."""
    match = _CHANNEL_ADDRESS.fullmatch(address)
    return match.group(1) if match is not None else None


def _check_pair(sender: str, to: str) -> None:
    """WhatsApp talks only to WhatsApp: both addresses carry the prefix, or neither does."""
    channels = {_channel(sender), _channel(to)}
    if len(channels) > 1 and channels & _PAIRED_CHANNELS:
        raise _refuse(
            spec.CHANNEL_MISMATCH,
            f"Invalid From and To pair. From and To should be of the same channel "
            f"({_shown(sender)} and {_shown(to)}).",
        )


def _is_own(sender: str, own_numbers: Collection[str]) -> bool:
    if sender == spec.MAGIC_SENDER or sender in own_numbers:
        return True
    match = _CHANNEL_ADDRESS.fullmatch(sender)
    if match is None:
        return False
    number = match.group(2)
    return number == spec.MAGIC_SENDER or number in own_numbers


def _check_sender(sender: str, to: str, own_numbers: Collection[str]) -> None:
    if not _is_sender(sender):
        raise _refuse(
            spec.FROM_INVALID,
            f"The 'From' number {_shown(sender)} is not a valid phone number, short code, "
            "or alphanumeric sender ID.",
        )
    if sender == to:
        raise _refuse(spec.TO_EQUALS_FROM, f"'To' and 'From' number cannot be the same: {to}.")
    _check_pair(sender, to)
    if sender in spec.MAGIC_FROM:
        code, message = spec.MAGIC_FROM[sender]
        raise _refuse(code, message.format(sender))
    if not _is_own(sender, own_numbers):
        raise _refuse(
            spec.FROM_NOT_OURS,
            f"The 'From' number {_shown(sender)} is not a valid, SMS-capable phone number "
            "or short code of your account.",
        )


def _sid(form: Mapping[str, Sequence[str]], name: str, code: int) -> str | None:
    value = _scalar(form, name)
    if value is not None and not _SID[name].fullmatch(value):
        raise _refuse(code, f"The {name} {_shown(value)} is invalid.")
    return value


def _content_variables(form: Mapping[str, Sequence[str]], content_sid: str | None) -> str | None:
    value = _scalar(form, "ContentVariables")
    if value is None:
        return None
    if content_sid is None:
        raise _refuse(spec.CONTENT_SID_REQUIRED, "A ContentSid is required with ContentVariables.")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise _refuse(
            spec.CONTENT_VARIABLES_INVALID,
            "The ContentVariables parameter is invalid: it must be a JSON object.",
        )
    return value


def _check_media(media_urls: tuple[str, ...]) -> None:
    if len(media_urls) > spec.MAX_MEDIA_URLS:
        raise _refuse(
            spec.MEDIA_TOO_MANY,
            f"Too many media URLs ({len(media_urls)}): at most {spec.MAX_MEDIA_URLS} are allowed.",
        )
    for url in media_urls:
        if not is_web_url(url, callback=False):
            raise _refuse(spec.MEDIA_URL_INVALID, f"Invalid media URL(s): {_shown(url)}")


def is_web_url(url: str, *, callback: bool) -> bool:
    """An absolute http(s) URL with a host; a callback host may not contain underscores."""
    if len(url) > spec.MAX_URL_CHARS or _WHITESPACE.search(url):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return False
    return not (callback and "_" in host)


def _validity_period(form: Mapping[str, Sequence[str]]) -> int | None:
    value = _scalar(form, "ValidityPeriod")
    if value is None:
        return None
    if _UNSIGNED.fullmatch(value) and int(value) in spec.VALIDITY_PERIOD_RANGE:
        return int(value)
    raise _refuse(
        spec.VALIDITY_PERIOD_INVALID,
        f"Invalid ValidityPeriod {_shown(value)}: it must be an integer from 1 to 36000 seconds.",
    )


def _fallback_from(
    form: Mapping[str, Sequence[str]], service: str | None, own_numbers: Collection[str]
) -> str | None:
    value = _scalar(form, "FallbackFrom")
    if value is None:
        return None
    if not (
        _E164.fullmatch(value)
        or _SHORT_CODE.fullmatch(value)
        or _ALPHANUMERIC_SENDER.fullmatch(value)
    ):
        raise _refuse(
            spec.FROM_INVALID,
            f"The 'FallbackFrom' number {_shown(value)} is not a valid phone number, "
            "short code, or alphanumeric sender ID.",
        )
    if not _is_own(value, own_numbers):
        raise _refuse(
            spec.FROM_NOT_OURS,
            f"The 'FallbackFrom' number {value} is not a sender of your account.",
        )
    if service is None:
        raise _refuse(spec.INVALID_PARAMETER, "FallbackFrom requires a MessagingServiceSid.")
    return value


def _boolean(form: Mapping[str, Sequence[str]], name: str) -> bool:
    # Twilio's SDKs send true/false; older twilio-python sent True/False and Twilio took it, so
    # the case is ignored. Anything else is refused.
    value = _scalar(form, name)
    if value is None:
        return False
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise _refuse(
        spec.INVALID_PARAMETER, f"Invalid value {_shown(value)!r} for {name}: use true or false."
    )


def _choice(form: Mapping[str, Sequence[str]], name: str, allowed: frozenset[str]) -> str | None:
    value = _scalar(form, name)
    if value is None or value in allowed:
        return value
    raise _refuse(
        _ENUM_CODES.get(name, spec.INVALID_PARAMETER),
        f"Invalid value {_shown(value)!r} for {name}: use one of {', '.join(sorted(allowed))}.",
    )


def _max_price(form: Mapping[str, Sequence[str]]) -> Decimal | None:
    # Obsolete (no effect since 2024-06-03) but still accepted, so still type-checked.
    value = _scalar(form, "MaxPrice")
    if value is None:
        return None
    if len(value) <= 64 and _NUMBER.fullmatch(value):
        return Decimal(value)
    raise _refuse(
        spec.INVALID_PARAMETER, f"Invalid value {_shown(value)!r} for MaxPrice: not a number."
    )


def _attempt(form: Mapping[str, Sequence[str]]) -> int | None:
    value = _scalar(form, "Attempt")
    if value is None:
        return None
    if _SIGNED.fullmatch(value):
        return int(value)
    raise _refuse(
        spec.INVALID_PARAMETER, f"Invalid value {_shown(value)!r} for Attempt: not an integer."
    )


def _schedule(
    form: Mapping[str, Sequence[str]],
    schedule_type: str | None,
    service: str | None,
    now: datetime,
) -> datetime | None:
    raw = _scalar(form, "SendAt")
    if schedule_type is not None and raw is None:
        raise _refuse(spec.SEND_AT_MISSING, "SendAt is required when ScheduleType is 'fixed'.")
    if raw is None:
        return None
    if service is None:
        raise _refuse(
            spec.SCHEDULE_NEEDS_SERVICE, "A MessagingServiceSid is required to schedule a message."
        )
    window = (
        f"SendAt must be more than {spec.SCHEDULE_MIN_SECONDS} seconds and at most "
        f"{spec.SCHEDULE_MAX_SECONDS} seconds (35 days) in the future"
    )
    send_at = _parse_date_time(raw)
    if send_at is None:
        raise _refuse(
            spec.SEND_AT_TOO_EARLY, f"{window}, in ISO 8601 format such as 2030-01-01T12:00:00Z."
        )
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    ahead = (send_at - now).total_seconds()
    if ahead <= spec.SCHEDULE_MIN_SECONDS:
        raise _refuse(spec.SEND_AT_TOO_EARLY, f"{window}; {raw} is too early.")
    if ahead > spec.SCHEDULE_MAX_SECONDS:
        raise _refuse(spec.SEND_AT_TOO_LATE, f"{window}; {raw} is too far ahead.")
    return send_at


def _parse_date_time(raw: str) -> datetime | None:
    """An ISO 8601 date and time in UTC; a value without an offset is read as UTC."""
    if len(raw) > 64 or not any(sep in raw for sep in "Tt "):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
