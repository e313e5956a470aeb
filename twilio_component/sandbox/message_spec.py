"""Twilio's create-message request as the sandbox checks it: the parameters and their types as
the official spec declares them, the error codes, the limits and the test-mode magic numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# ---------------------------------------------------------------------------------------------
# CreateMessageRequest as the official spec describes it. The sandbox ships without the spec, so
# it is mirrored here; tests/test_sandbox_checks.py compares every constant with the spec file.
#
# Unknown form keys are ignored, as Twilio ignores them: the spec's own "create" request example
# sends `Tags`, which is not a declared property, and Twilio accepts that request.
# ---------------------------------------------------------------------------------------------

PARAMETER_TYPES: Final[Mapping[str, str]] = {
    "To": "phone-number",
    "From": "phone-number",
    "FallbackFrom": "phone-number",
    "MessagingServiceSid": "string",
    "Body": "string",
    "MediaUrl": "array",
    "ContentSid": "string",
    "ContentVariables": "string",
    "StatusCallback": "uri",
    "ApplicationSid": "string",
    "MaxPrice": "number",
    "ProvideFeedback": "boolean",
    "Attempt": "integer",
    "ValidityPeriod": "integer",
    "ForceDelivery": "boolean",
    "ContentRetention": "enum",
    "AddressRetention": "enum",
    "SmartEncoded": "boolean",
    "PersistentAction": "array",
    "TrafficType": "enum",
    "ShortenUrls": "boolean",
    "ScheduleType": "enum",
    "SendAt": "date-time",
    "SendAsMms": "boolean",
    "RiskCheck": "enum",
}
PARAMETERS: Final = frozenset(PARAMETER_TYPES)

ENUMS: Final[Mapping[str, frozenset[str]]] = {
    "ContentRetention": frozenset({"retain", "discard"}),
    "AddressRetention": frozenset({"retain", "obfuscate"}),
    "TrafficType": frozenset({"free"}),
    "ScheduleType": frozenset({"fixed"}),
    "RiskCheck": frozenset({"enable", "disable"}),
}

SID_PATTERNS: Final[Mapping[str, str]] = {
    "MessagingServiceSid": "^MG[0-9a-fA-F]{32}$",
    "ContentSid": "^HX[0-9a-fA-F]{32}$",
    "ApplicationSid": "^AP[0-9a-fA-F]{32}$",
}

# x-twilio.conditional: at least one parameter of each group must be present.
CONDITIONAL: Final = (("From", "MessagingServiceSid"), ("Body", "MediaUrl", "ContentSid"))

MAGIC_SENDER: Final = "+15005550006"

# ---------------------------------------------------------------------------------------------
# Codes. Where Twilio documents a specific code for a check it is used; where it does not (the
# type of MaxPrice/Attempt/booleans, the other enums, ApplicationSid's pattern, ShortenUrls or
# FallbackFrom without a Messaging Service) the sandbox answers 20001, the generic 400 Twilio's
# API returns for a malformed parameter.
# ---------------------------------------------------------------------------------------------

INVALID_PARAMETER: Final = 20001
TO_INVALID: Final = 21211
FROM_INVALID: Final = 21212
TO_REGION_NOT_ENABLED: Final = 21408
TO_EQUALS_FROM: Final = 21266
BODY_REQUIRED: Final = 21602
FROM_REQUIRED: Final = 21603
TO_REQUIRED: Final = 21604
FROM_NOT_OURS: Final = 21606
STATUS_CALLBACK_INVALID: Final = 21609
TO_UNSUBSCRIBED: Final = 21610
FROM_QUEUE_FULL: Final = 21611
TO_UNREACHABLE: Final = 21612
TO_NOT_MOBILE: Final = 21614
CHANNEL_MISMATCH: Final = 21910
BODY_TOO_LONG: Final = 21617
MEDIA_URL_INVALID: Final = 21620
MEDIA_TOO_MANY: Final = 21623
VALIDITY_PERIOD_INVALID: Final = 21624
CONTENT_SID_REQUIRED: Final = 21654
CONTENT_SID_INVALID: Final = 21655
CONTENT_VARIABLES_INVALID: Final = 21656
SERVICE_SID_INVALID: Final = 21705
SEND_AT_MISSING: Final = 35111
SEND_AT_TOO_EARLY: Final = 35114  # also an unparseable SendAt: Twilio lists both under 35114
SEND_AT_TOO_LATE: Final = 35115
SCHEDULE_NEEDS_SERVICE: Final = 35118
SCHEDULE_TYPE_INVALID: Final = 35126

MAX_BODY_CHARS: Final = 1600
MAX_MEDIA_URLS: Final = 10
MAX_URL_CHARS: Final = 4000
VALIDITY_PERIOD_RANGE: Final = range(1, 36001)
SCHEDULE_MIN_SECONDS: Final = 300  # exclusive
SCHEDULE_MAX_SECONDS: Final = 3_024_000  # inclusive (35 days)

# Twilio's documented test-mode numbers.
MAGIC_FROM: Final[Mapping[str, tuple[int, str]]] = {
    "+15005550001": (FROM_INVALID, "The 'From' number {} is not a valid phone number."),
    "+15005550007": (FROM_NOT_OURS, "The 'From' number {} is not owned by your account."),
    "+15005550008": (
        FROM_QUEUE_FULL,
        "This 'From' number {} has exceeded the maximum number of queued messages.",
    ),
}
MAGIC_TO_INVALID: Final = "+15005550001"
MAGIC_TO: Final[Mapping[str, tuple[int, str]]] = {
    "+15005550002": (TO_UNREACHABLE, "The 'To' number {} is not currently reachable via SMS."),
    "+15005550003": (
        TO_REGION_NOT_ENABLED,
        "Permission to send an SMS has not been enabled for the region of the 'To' number {}.",
    ),
    "+15005550004": (
        TO_UNSUBSCRIBED,
        "The 'To' number {} has unsubscribed from this sender (replied STOP).",
    ),
    "+15005550009": (TO_NOT_MOBILE, "The 'To' number {} is not a valid mobile number."),
}
