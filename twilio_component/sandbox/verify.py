"""Verify v2 as the sandbox answers it: services, verifications and checks, with Twilio's real
lifetimes and limits (10-minute codes, the same code on a resend, 5 wrong checks → 60202, a sixth
send to one number within 10 minutes → 60203, 20404 once a verification is over).

A code sent by SMS or WhatsApp arrives as a message from the sandbox (Twilio's template text);
every code is readable at ``GET /_sandbox/verifications``. Verify's clock can be moved forward
(``advance``) so that lifetimes pass in a test.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from xml.sax.saxutils import escape

from twilio_component.sandbox.clock import Clock, ManualClock
from twilio_component.sandbox.replies import error_reply, json_reply, method_not_allowed
from twilio_component.sandbox.server import Reply

__all__ = ["VerifyService"]

BASE: Final = "https://verify.twilio.com/v2"
LIFETIME: Final = timedelta(minutes=10)
MAX_CHECKS: Final = 5
MAX_SENDS: Final = 5
CHANNELS: Final = frozenset({"sms", "call", "email", "whatsapp", "sna", "auto"})
_SERVICE: Final = re.compile(r"/v2/Services/(VA[0-9a-fA-F]{32})")
_E164: Final = re.compile(r"\+[1-9][0-9]{1,14}")
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

#: Sends a code: (to, message body), or (to, TwiML of the call that reads it aloud).
Deliver = Callable[[str, str], object]


@dataclass
class _Verification:
    sid: str
    service: dict[str, Any]
    to: str
    channel: str
    code: str
    created: datetime
    updated: datetime
    status: str = "pending"
    checks: int = 0
    sends: list[dict[str, Any]] = field(default_factory=list)

    def over(self, now: datetime) -> bool:
        return self.status != "pending" or now - self.created >= LIFETIME


class VerifyService:
    """The Verify API of one sandbox account; thread-safe."""

    def __init__(
        self,
        *,
        account_sid: str,
        clock: Clock,
        deliver: Deliver,
        speak: Deliver = lambda to, twiml: None,
        changed: Callable[[], object] = lambda: None,
    ) -> None:
        self._account_sid = account_sid
        self._speak = speak
        self._changed = changed
        self._clock = clock
        self._deliver = deliver
        self._offset = timedelta(0)
        self._lock = threading.Lock()
        self._services: dict[str, dict[str, Any]] = {}
        self._verifications: dict[str, _Verification] = {}
        self._sends: dict[tuple[str, str], list[datetime]] = {}

    # -- the sandbox's side ----------------------------------------------------------------

    def now(self) -> datetime:
        """Verify's time: the sandbox clock, moved forward by ``advance``."""
        return self._clock.now() + self._offset

    def advance(self, seconds: float) -> datetime:
        """Move time forward (the sandbox's manual clock, else Verify's own); the new now."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        if isinstance(self._clock, ManualClock):
            self._clock.advance(seconds)
        else:
            with self._lock:
                self._offset += timedelta(seconds=seconds)
        return self.now()

    def verifications(self) -> list[dict[str, Any]]:
        """Every verification started, with its code (the control API's view)."""
        now = self.now()
        with self._lock:
            return [
                {
                    "sid": v.sid,
                    "service_sid": v.service["sid"],
                    "to": v.to,
                    "channel": v.channel,
                    "code": v.code,
                    "status": "expired" if v.status == "pending" and v.over(now) else v.status,
                    "checks": v.checks,
                    "sends": len(v.sends),
                    "date_created": _iso(v.created),
                }
                for v in self._verifications.values()
            ]

    def clear(self) -> None:
        """Forget services, verifications and sends."""
        with self._lock:
            self._services.clear()
            self._verifications.clear()
            self._sends.clear()

    # -- the API ---------------------------------------------------------------------------

    def answer(self, method: str, path: str, form: Mapping[str, list[str]]) -> Reply:
        """The answer to a request under ``/v2/Services``; ``changed`` is told of every
        verification started, checked or updated."""
        reply = self._answer(method, path, form)
        if "/Verification" in path and method == "POST" and reply.status < 500:
            self._changed()
        return reply

    def _answer(self, method: str, path: str, form: Mapping[str, list[str]]) -> Reply:
        fields = {name: values[0] for name, values in form.items() if values}
        if path == "/v2/Services":
            if method == "POST":
                return self._create_service(fields)
            if method == "GET":
                return self._list_services()
            return method_not_allowed(method, path)
        match = _SERVICE.match(path)
        service = self._services.get(match.group(1)) if match else None
        if match is None or service is None:
            return _not_found(path)
        rest = path[match.end() :]
        if rest == "" and method == "GET":
            return json_reply(200, service)
        if rest == "/Verifications" and method == "POST":
            return self._start(service, fields, path)
        if rest == "/VerificationCheck" and method == "POST":
            return self._check(service, fields, path)
        if rest.startswith("/Verifications/") and method in ("GET", "POST"):
            return self._one(service, rest.removeprefix("/Verifications/"), method, fields, path)
        return _not_found(path)

    def _create_service(self, fields: Mapping[str, str]) -> Reply:
        name = fields.get("FriendlyName", "")
        if not name or len(name) > 30:
            return error_reply(400, 60200, "Invalid parameter: FriendlyName")
        length = fields.get("CodeLength", "6")
        if not length.isdigit() or not 4 <= int(length) <= 10:
            return error_reply(400, 60200, "Invalid parameter: CodeLength")
        sid = "VA" + secrets.token_hex(16)
        stamp = _iso(self.now())
        service = {
            "sid": sid,
            "account_sid": self._account_sid,
            "friendly_name": name,
            "code_length": int(length),
            "lookup_enabled": fields.get("LookupEnabled") == "true",
            "psd2_enabled": fields.get("Psd2Enabled") == "true",
            "skip_sms_to_landlines": fields.get("SkipSmsToLandlines") == "true",
            "dtmf_input_required": fields.get("DtmfInputRequired", "true") == "true",
            "tts_name": fields.get("TtsName"),
            "do_not_share_warning_enabled": fields.get("DoNotShareWarningEnabled") == "true",
            "custom_code_enabled": fields.get("CustomCodeEnabled") == "true",
            "push": {},
            "totp": {},
            "default_template_sid": fields.get("DefaultTemplateSid"),
            "whatsapp": {},
            "passkeys": None,
            "verify_event_subscription_enabled": False,
            "date_created": stamp,
            "date_updated": stamp,
            "url": f"{BASE}/Services/{sid}",
            "links": {
                name: f"{BASE}/Services/{sid}/{part}"
                for name, part in (
                    ("verification_checks", "VerificationCheck"),
                    ("verifications", "Verifications"),
                    ("rate_limits", "RateLimits"),
                    ("messaging_configurations", "MessagingConfigurations"),
                    ("entities", "Entities"),
                    ("webhooks", "Webhooks"),
                    ("access_tokens", "AccessTokens"),
                )
            },
        }
        with self._lock:
            self._services[sid] = service
        return json_reply(201, service)

    def _list_services(self) -> Reply:
        with self._lock:
            services = list(self._services.values())
        url = f"{BASE}/Services?PageSize=50&Page=0"
        meta = {
            "first_page_url": url,
            "key": "services",
            "next_page_url": None,
            "page": 0,
            "page_size": 50,
            "previous_page_url": None,
            "url": url,
        }
        return json_reply(200, {"services": services, "meta": meta})

    def _start(self, service: dict[str, Any], fields: Mapping[str, str], path: str) -> Reply:
        to, channel = fields.get("To", ""), fields.get("Channel", "")
        if channel not in CHANNELS:
            return error_reply(400, 60200, "Invalid parameter: Channel")
        if not (_E164.fullmatch(to) or (channel == "email" and _EMAIL.fullmatch(to))):
            return error_reply(400, 60200, "Invalid parameter: To")
        channel = "sms" if channel == "auto" else channel
        now = self.now()
        with self._lock:
            recent = [t for t in self._sends.get((service["sid"], to), []) if now - t < LIFETIME]
            if len(recent) >= MAX_SENDS:
                return error_reply(429, 60203, "Max send attempts reached")
            recent.append(now)
            self._sends[(service["sid"], to)] = recent
            verification = self._pending(service["sid"], to, now)
            if verification is None:
                code = fields.get("CustomCode") or "".join(
                    secrets.choice("0123456789") for _ in range(int(service["code_length"]))
                )
                sid = "VE" + secrets.token_hex(16)
                verification = _Verification(sid, service, to, channel, code, now, now)
                self._verifications[sid] = verification
            verification.channel, verification.updated = channel, now
            attempt = {"time": _iso(now), "channel": channel, "attempt_sid": _sid("VL")}
            verification.sends.append(attempt)
            resource = _resource(verification, self._account_sid)
            code = verification.code
        name = fields.get("CustomFriendlyName") or service["friendly_name"]
        if channel in ("sms", "whatsapp"):
            self._deliver(to, f"Your {name} verification code is: {code}")
        elif channel == "call":  # read aloud digit by digit
            said = escape(f"Your {name} verification code is: {', '.join(code)}.")
            self._speak(to, f"<Response><Say>{said}</Say></Response>")
        return json_reply(201, resource)

    def _pending(self, service_sid: str, to: str, now: datetime) -> _Verification | None:
        for verification in self._verifications.values():
            if (
                verification.service["sid"] == service_sid
                and verification.to == to
                and not verification.over(now)
            ):
                return verification
        return None

    def _find(
        self, service_sid: str, fields: Mapping[str, str], now: datetime
    ) -> _Verification | None:
        sid = fields.get("VerificationSid")
        if sid:
            found = self._verifications.get(sid)
            ours = found is not None and found.service["sid"] == service_sid
            return found if ours and found is not None and not found.over(now) else None
        return self._pending(service_sid, fields.get("To", ""), now)

    def _check(self, service: dict[str, Any], fields: Mapping[str, str], path: str) -> Reply:
        code = fields.get("Code", "")
        if not 4 <= len(code) <= 10:
            return error_reply(400, 60200, "Invalid parameter: Code")
        if not fields.get("To") and not fields.get("VerificationSid"):
            return error_reply(400, 60200, "Invalid parameter: To")
        now = self.now()
        with self._lock:
            verification = self._find(service["sid"], fields, now)
            if verification is None:
                return _not_found(path)
            verification.checks += 1
            verification.updated = now
            if verification.checks > MAX_CHECKS:
                verification.status = "max_attempts_reached"
                return error_reply(429, 60202, f"Max check attempts reached ({MAX_CHECKS})")
            if secrets.compare_digest(code.encode(), verification.code.encode()):
                verification.status = "approved"
                self._sends.pop((service["sid"], verification.to), None)
            resource = _resource(verification, self._account_sid, check=True)
        return json_reply(200, resource)

    def _one(
        self,
        service: dict[str, Any],
        which: str,
        method: str,
        fields: Mapping[str, str],
        path: str,
    ) -> Reply:
        now = self.now()
        with self._lock:
            found = self._verifications.get(which) if which.startswith("VE") else None
            if found is None:
                found = self._pending(service["sid"], which, now)
            if found is None or found.service["sid"] != service["sid"] or found.over(now):
                return _not_found(path)
            if method == "POST":
                status = fields.get("Status", "")
                if status not in ("approved", "canceled"):
                    return error_reply(400, 60200, "Invalid parameter: Status")
                found.status, found.updated = status, now
                self._sends.pop((service["sid"], found.to), None)
            return json_reply(200, _resource(found, self._account_sid))


def _resource(v: _Verification, account_sid: str, *, check: bool = False) -> dict[str, Any]:
    """A Verification (or, with ``check``, a VerificationCheck) resource."""
    resource: dict[str, Any] = {
        "sid": v.sid,
        "service_sid": v.service["sid"],
        "account_sid": account_sid,
        "to": v.to,
        "channel": v.channel,
        "status": v.status,
        "valid": v.status == "approved",
        "amount": None,
        "payee": None,
        "date_created": _iso(v.created),
        "date_updated": _iso(v.updated),
    }
    if check:
        return {**resource, "sna_attempts_error_codes": []}
    url = f"{BASE}/Services/{v.service['sid']}/Verifications/{v.sid}"
    return {**resource, "lookup": {}, "send_code_attempts": list(v.sends), "sna": None, "url": url}


def _not_found(path: str) -> Reply:
    return error_reply(404, 20404, f"The requested resource {path[3:256]} was not found")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)
