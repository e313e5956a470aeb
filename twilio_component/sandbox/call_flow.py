"""A simulated call: it rings, is answered (or is busy, not answered, or a machine), runs its
TwiML (Say, Play, Pause, Gather, Redirect, Hangup, Reject, Record, Dial), ends, and sends signed
status callbacks for the events asked, in SequenceNumber order.

Timing: ringing and answering take a few hundredths of a second; ``<Say>`` and ``<Play>`` count
into the call's duration (about 2.5 words a second, a Play 5 s) without being waited for, and
``<Pause length="N">`` keeps the call in progress for N real seconds (so a client can fetch it
in progress and end it).
"""

from __future__ import annotations

import os
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urljoin

from twilio_component.sandbox.calls import FINAL, CallRecord, CallsAPI
from twilio_component.sandbox.numbers import PhoneNumbers
from twilio_component.sandbox.store import rfc2822
from twilio_component.sandbox.webhooks import deliver_webhook
from twilio_component.twilio.voice import twiml_problem

__all__ = ["CALL_FAULTS", "CallFlow"]

#: What a recipient does with a call: is busy, does not answer, is a machine.
CALL_FAULTS: Final = ("busy", "no_answer", "machine")
_STEP: Final = 0.03
_MAX_DOCUMENTS: Final = 20


class _Ended(Exception):
    """The call ended (hung up, rejected, or told to by an update)."""


class CallFlow:
    """Runs calls: outbound ones in a thread each, inbound ones in the caller's thread."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        calls: CallsAPI,
        numbers: PhoneNumbers,
        now: Callable[[], datetime],
        send_callback: Callable[[str, dict[str, str]], None],
        timeout: float = 5.0,
        changed: Callable[[], object] = lambda: None,
    ) -> None:
        self._changed = changed
        self._account_sid = account_sid
        self._token = auth_token
        self._calls = calls
        self._numbers = numbers
        self._now = now
        self._send_callback = send_callback
        self._timeout = timeout
        self._lock = threading.Lock()
        self._behaviour: dict[str, str] = {}
        self._presses: dict[str, deque[str]] = {}

    # -- recipients ------------------------------------------------------------------------

    def arm(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A recipient's behaviour (busy, no_answer, machine) or the digits it presses."""
        kind, to = payload.get("kind"), payload.get("to")
        if not isinstance(to, str) or not to:
            raise ValueError("to (the recipient's number) is required")
        with self._lock:
            if kind == "press":
                digits = payload.get("digits")
                if not isinstance(digits, str) or not digits:
                    raise ValueError("digits (what the recipient presses) is required")
                self._presses.setdefault(to, deque()).append(digits)
            else:
                self._behaviour[to] = str(kind)
        return {"kind": kind, "to": to}

    def clear(self) -> None:
        """Forget every recipient's behaviour and presses."""
        with self._lock:
            self._behaviour.clear()
            self._presses.clear()

    def _pressed(self, to: str) -> str | None:
        with self._lock:
            queued = self._presses.get(to)
            return queued.popleft() if queued else None

    # -- outbound --------------------------------------------------------------------------

    def start(self, call: CallRecord) -> None:
        """Run an outbound call in the background."""
        threading.Thread(target=self._outbound, args=(call,), daemon=True).start()

    def _outbound(self, call: CallRecord) -> None:
        try:
            self._wait(call, _STEP, ringing=True)
            self._status(call, "initiated", event="initiated")
            self._status(call, "ringing", event="ringing")
            self._wait(call, _STEP, ringing=True)
            with self._lock:
                behaviour = self._behaviour.get(str(call.resource["to"]))
            if behaviour in ("busy", "no_answer"):
                self._finish(call, "busy" if behaviour == "busy" else "no-answer")
                return
            if behaviour == "machine":
                call.resource["answered_by"] = "machine_start"
            self._answer(call)
            self._run(call, call.twiml, call.url, call.method)
            self._finish(call, "completed")
        except _Ended:
            state = call.resource["status"]
            self._finish(call, "completed" if state == "in-progress" else "canceled")

    def _answer(self, call: CallRecord) -> None:
        now = self._now()
        call.resource["start_time"] = rfc2822(now)
        call.answered_at = now
        self._status(call, "in-progress", event="answered")

    def _finish(self, call: CallRecord, status: str) -> None:
        if call.resource["status"] in FINAL:
            return
        now = self._now()
        answered, spoken = call.answered_at, call.spoken
        if answered is not None:
            seconds = max(1, int((now - answered).total_seconds() + spoken))
            call.resource["duration"] = str(seconds)
            call.resource["end_time"] = rfc2822(answered + timedelta(seconds=seconds))
            call.resource["price"] = f"-{0.014 * -(-seconds // 60):.5f}"
        else:
            call.resource["duration"] = "0"
        quiet = status == "canceled" and call.resource["status"] == "queued"
        self._status(call, status, event=None if quiet else "completed")

    def _status(self, call: CallRecord, status: str, *, event: str | None) -> None:
        now = self._now()
        call.resource["status"] = status
        call.resource["date_updated"] = rfc2822(now)
        call.history.append((status, now))
        self._changed()
        if event is None or event not in call.events or not call.status_callback:
            return
        params = self._params(call)
        params.update(
            CallStatus=status,
            CallbackSource="call-progress-events",
            SequenceNumber=str(call.sequence),
            Timestamp=rfc2822(now),
        )
        if status in FINAL:
            params["CallDuration"] = str(call.resource["duration"] or "0")
        if status == "completed":
            params["Duration"] = str(-(-int(call.resource["duration"] or "0") // 60))
        call.sequence += 1
        self._send_callback(call.status_callback, params)

    def _params(self, call: CallRecord) -> dict[str, str]:
        """Twilio's standard parameters of a voice request about ``call``."""
        resource = call.resource
        params = {
            "CallSid": call.sid,
            "AccountSid": self._account_sid,
            "From": str(resource["from"]),
            "To": str(resource["to"]),
            "Caller": str(resource["from"]),
            "Called": str(resource["to"]),
            "CallStatus": str(resource["status"]),
            "ApiVersion": "2010-04-01",
            "Direction": str(resource["direction"]),
        }
        if resource["parent_call_sid"]:
            params["ParentCallSid"] = str(resource["parent_call_sid"])
        if resource["answered_by"]:
            params["AnsweredBy"] = str(resource["answered_by"])
        return params

    def _wait(self, call: CallRecord, seconds: float, *, ringing: bool = False) -> None:
        """Let ``seconds`` pass in the call; _Ended when it is hung up meanwhile, and back
        early when an update gives it new instructions."""
        until = self._clock_seconds() + seconds
        while (left := until - self._clock_seconds()) > 0:
            if call.hang_up.wait(min(left, 0.05)):
                raise _Ended
            if call.redirect is not None and not ringing:
                return
        if call.hang_up.is_set():
            raise _Ended

    @staticmethod
    def _clock_seconds() -> float:
        return time.monotonic()

    # -- inbound ---------------------------------------------------------------------------

    def inbound(self, from_: str, to: str, digits: str | None = None) -> dict[str, Any]:
        """A call from ``from_`` to the sandbox number ``to``: its Voice URL is asked for
        TwiML (signed, as Twilio asks), which runs; ``{sid, status, transcript}``."""
        number = self._numbers.find(to)
        if number is None:
            raise LookupError(f"To {to} is not one of the sandbox's numbers")
        call = self._calls.new_call(to=to, from_=from_, direction="inbound", status="ringing")
        self._calls.add(call)
        if digits:
            with self._lock:
                self._presses.setdefault(from_, deque()).append(digits)
        self._take_call(call, number, caller=from_)
        return {"sid": call.sid, "status": call.resource["status"], "transcript": call.transcript}

    def _take_call(self, call: CallRecord, number: Mapping[str, Any], *, caller: str) -> None:
        url = number.get("voice_url")
        if not url:
            call.transcript.append({"verb": "Error", "code": 11200, "reason": "no VoiceUrl"})
            self._finish(call, "failed")
            return
        call.recipient = caller
        try:
            self._run(call, None, str(url), str(number.get("voice_method") or "POST"))
            self._answered_if_ringing(call)
            self._finish(call, "completed")
        except _Ended:
            if call.resource["status"] == "ringing":
                return  # rejected: ended busy or no-answer already
            self._finish(call, "completed")

    def _answered_if_ringing(self, call: CallRecord) -> None:
        if call.resource["status"] == "ringing":
            self._answer(call)

    # -- TwiML -----------------------------------------------------------------------------

    def _run(self, call: CallRecord, twiml: str | None, url: str | None, method: str) -> None:
        """Run documents one after the other: the first, then each one a verb (or an update)
        hands the call over to."""
        document, where = twiml, url
        fields: dict[str, str] = {}
        for _ in range(_MAX_DOCUMENTS):
            if document is None:
                if where is None:
                    return
                document = self._fetch(call, where, method, fields)
                if document is None:
                    return
            handed = self._document(call, document, where)
            if call.redirect is not None:
                document, where, method = call.redirect
                call.redirect, fields = None, {}
                continue
            if handed is None:
                return
            (where, method, fields), document = handed, None

    def _fetch(
        self, call: CallRecord, url: str, method: str, extra: Mapping[str, str]
    ) -> str | None:
        delivery = deliver_webhook(
            url=url,
            method=method,
            params={**self._params(call), **extra},
            auth_token=self._token,
            idempotency_token=os.urandom(16).hex(),
            message_sid=call.sid,
            now=self._now(),
            timeout=self._timeout,
        )
        if delivery.error is not None or delivery.body is None:
            call.transcript.append({"verb": "Error", "code": delivery.error_code or 11200})
            return None
        return delivery.body

    def _document(
        self, call: CallRecord, document: str, url: str | None
    ) -> tuple[str, str, dict[str, str]] | None:
        """Run one document; where it hands the call over (url, method, fields) or None."""
        if twiml_problem(document.strip()) is not None:
            call.transcript.append({"verb": "Error", "code": 12100})
            return None
        root = ET.fromstring(document.strip())  # noqa: S314 - checked above, no DOCTYPE
        for verb in root:
            if call.redirect is not None:
                return None
            handed = self._verb(call, verb, url)
            if handed is not None:
                return handed
        return None

    def _verb(
        self, call: CallRecord, verb: ET.Element, url: str | None
    ) -> tuple[str, str, dict[str, str]] | None:
        name = verb.tag
        if name == "Reject":
            call.transcript.append({"verb": "Reject", "reason": verb.get("reason", "rejected")})
            if call.resource["status"] == "ringing":
                self._finish(call, "busy" if verb.get("reason") == "busy" else "no-answer")
            raise _Ended
        self._answered_if_ringing(call)
        if name == "Say":
            self._say(call, verb)
        elif name == "Play":
            call.transcript.append({"verb": "Play", "url": (verb.text or "").strip()})
            call.spoken += 5.0
        elif name == "Pause":
            length = int(verb.get("length", "1") or 1)
            call.transcript.append({"verb": "Pause", "length": length})
            self._wait(call, float(length))
        elif name == "Hangup":
            call.transcript.append({"verb": "Hangup"})
            raise _Ended
        elif name == "Redirect":
            target = urljoin(url or "", (verb.text or "").strip())
            call.transcript.append({"verb": "Redirect", "url": target})
            return target, verb.get("method", "POST").upper(), {}
        elif name == "Gather":
            return self._gather(call, verb, url)
        elif name == "Record":
            return self._record(call, verb, url)
        elif name == "Dial":
            self._dial(call, verb)
        else:
            call.transcript.append({"verb": name})
        return None

    def _say(self, call: CallRecord, verb: ET.Element) -> None:
        text = "".join(verb.itertext()).strip()
        entry = {"verb": "Say", "text": text}
        entry.update({k: v for k, v in verb.attrib.items() if k in ("voice", "language")})
        call.transcript.append(entry)
        call.spoken += len(text.split()) / 2.5

    def _gather(
        self, call: CallRecord, verb: ET.Element, url: str | None
    ) -> tuple[str, str, dict[str, str]] | None:
        for inner in verb:
            if inner.tag == "Say":
                self._say(call, inner)
            elif inner.tag == "Play":
                call.transcript.append({"verb": "Play", "url": (inner.text or "").strip()})
        pressed = self._pressed(call.recipient or str(call.resource["to"]))
        digits = _digits(pressed, verb.get("finishOnKey", "#"), verb.get("numDigits"))
        call.transcript.append({"verb": "Gather", "digits": digits})
        if not digits and verb.get("actionOnEmptyResult") != "true":
            return None  # no input: the next verb
        action = urljoin(url or "", verb.get("action") or (url or ""))
        if not action:
            return None
        return action, verb.get("method", "POST").upper(), {"Digits": digits}

    def _record(
        self, call: CallRecord, verb: ET.Element, url: str | None
    ) -> tuple[str, str, dict[str, str]] | None:
        sid = "RE" + os.urandom(16).hex()
        recording = (
            f"https://api.twilio.com/2010-04-01/Accounts/{self._account_sid}/Recordings/{sid}"
        )
        call.transcript.append({"verb": "Record", "recording_sid": sid})
        action = urljoin(url or "", verb.get("action") or (url or ""))
        if not action:
            raise _Ended
        fields = {
            "RecordingUrl": recording,
            "RecordingSid": sid,
            "RecordingDuration": "5",
            "Digits": "hangup",
        }
        return action, verb.get("method", "POST").upper(), fields

    def _dial(self, call: CallRecord, verb: ET.Element) -> None:
        targets = [(n.text or "").strip() for n in verb if n.tag == "Number"]
        if not targets and (verb.text or "").strip():
            targets = [(verb.text or "").strip()]
        for target in targets:
            number = self._numbers.find(target)
            leg = self._calls.new_call(
                to=target,
                from_=verb.get("callerId") or str(call.resource["from"]),
                direction="outbound-dial",
                status="ringing",
                parent=call.sid,
            )
            self._calls.add(leg)
            call.transcript.append({"verb": "Dial", "number": target, "call_sid": leg.sid})
            if number is not None:
                self._take_call(leg, number, caller=str(call.resource["from"]))
            else:
                self._answer(leg)
                self._finish(leg, "completed")


def _digits(pressed: str | None, finish_on: str, count: str | None) -> str:
    """What a Gather collects of the keys pressed: up to the finishing key (not included),
    at most ``numDigits``."""
    if not pressed:
        return ""
    collected = ""
    for key in pressed:
        if finish_on and key in finish_on:
            break
        collected += key
    if count and count.isdigit():
        collected = collected[: int(count)]
    return collected
