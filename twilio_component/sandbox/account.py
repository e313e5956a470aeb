"""The sandbox's Account resource, as ``GET /2010-04-01/Accounts/{Sid}.json`` answers it."""

from __future__ import annotations

from typing import Any

__all__ = ["account_resource"]

_SUBRESOURCES = {
    "available_phone_numbers": "AvailablePhoneNumbers",
    "calls": "Calls",
    "conferences": "Conferences",
    "incoming_phone_numbers": "IncomingPhoneNumbers",
    "notifications": "Notifications",
    "outgoing_caller_ids": "OutgoingCallerIds",
    "recordings": "Recordings",
    "transcriptions": "Transcriptions",
    "addresses": "Addresses",
    "signing_keys": "SigningKeys",
    "connect_apps": "ConnectApps",
    "sip": "SIP",
    "authorized_connect_apps": "AuthorizedConnectApps",
    "usage": "Usage",
    "keys": "Keys",
    "applications": "Applications",
    "short_codes": "SMS/ShortCodes",
    "queues": "Queues",
    "messages": "Messages",
    "balance": "Balance",
}


def account_resource(account_sid: str, created: str) -> dict[str, Any]:
    """The Account resource; ``auth_token`` is null, as the sandbox never echoes its token."""
    base = f"/2010-04-01/Accounts/{account_sid}"
    return {
        "auth_token": None,
        "date_created": created,
        "date_updated": created,
        "friendly_name": "Twilio sandbox",
        "owner_account_sid": account_sid,
        "sid": account_sid,
        "status": "active",
        "subresource_uris": {key: f"{base}/{name}.json" for key, name in _SUBRESOURCES.items()},
        "type": "Full",
        "uri": f"{base}.json",
    }
