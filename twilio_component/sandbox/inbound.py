"""Inbound messages: checked, stored as ``received`` and posted to the number's SmsUrl, signed;
the SmsFallbackUrl when that fails, and the replies its TwiML asks for sent."""

from __future__ import annotations

import os
import queue
import re
import secrets
import threading
import traceback
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from twilio_component.sandbox.checks import is_web_url
from twilio_component.sandbox.clock import Clock
from twilio_component.sandbox.exchange import Route, WebhookExchange
from twilio_component.sandbox.media import media_resources
from twilio_component.sandbox.message_spec import MAX_BODY_CHARS, MAX_MEDIA_URLS
from twilio_component.sandbox.numbers import PhoneNumbers
from twilio_component.sandbox.optouts import OptOutList
from twilio_component.sandbox.store import (
    MessageStore,
    StoredMessage,
    message_resource,
    message_uri,
    rfc2822,
)
from twilio_component.sandbox.twiml import TwimlMessage
from twilio_component.sandbox.twiml_replies import ReplySender
from twilio_component.sandbox.webhooks import WebhookDelivery
from twilio_component.twilio.segments import count_segments

__all__ = ["Inbound", "InboundMessage", "InboundRefused", "parse_inbound", "webhook_params"]

API_VERSION: Final = "2010-04-01"
MAX_REPEAT: Final = 10
FIELDS: Final = frozenset({"From", "To", "Body", "MediaUrl", "Repeat"})

_ADDRESS: Final = re.compile(r"(whatsapp:)?(\+[1-9][0-9]{1,14})")
# Country of a number by its calling code (longest first); others are sent as "".
_COUNTRIES: Final = (
    ("+353", "IE"), ("+1", "US"), ("+44", "GB"), ("+33", "FR"), ("+49", "DE"), ("+34", "ES"),
    ("+39", "IT"), ("+31", "NL"), ("+61", "AU"), ("+64", "NZ"), ("+81", "JP"), ("+91", "IN"),
    ("+52", "MX"), ("+55", "BR"), ("+65", "SG"), ("+27", "ZA"), ("+46", "SE"), ("+41", "CH"),
)  # fmt: skip


class InboundRefused(ValueError):
    """An inbound message the sandbox will not take; `field` names the culprit."""

    def __init__(self, message: str, *, field: str | None, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message arriving at one of the sandbox's numbers."""

    from_: str
    to: str
    body: str = ""
    media_urls: tuple[str, ...] = ()
    repeat: int = 1


def parse_inbound(payload: object) -> InboundMessage:
    """Check a POST /_sandbox/inbound JSON body; InboundRefused names the first bad field."""
    if not isinstance(payload, Mapping):
        raise InboundRefused("the body must be a JSON object", field=None)
    unknown = sorted(str(name) for name in payload if name not in FIELDS)
    if unknown:
        raise InboundRefused(
            f"unknown field {unknown[0]!r}: the fields are {', '.join(sorted(FIELDS))}",
            field=unknown[0],
        )
    from_ = _address(payload.get("From"), "From")
    to = _address(payload.get("To"), "To")
    body = payload.get("Body", "")
    if not isinstance(body, str):
        raise InboundRefused("Body must be a string", field="Body")
    if len(body) > MAX_BODY_CHARS:
        raise InboundRefused(f"Body is longer than {MAX_BODY_CHARS} characters", field="Body")
    media = payload.get("MediaUrl", [])
    if not isinstance(media, list) or not all(isinstance(url, str) for url in media):
        raise InboundRefused("MediaUrl must be a list of URLs", field="MediaUrl")
    if len(media) > MAX_MEDIA_URLS:
        raise InboundRefused(f"MediaUrl holds more than {MAX_MEDIA_URLS} URLs", field="MediaUrl")
    for url in media:
        if not is_web_url(url, callback=False):
            raise InboundRefused(f"MediaUrl {url[:64]!r} is not an http(s) URL", field="MediaUrl")
    if not body and not media:
        raise InboundRefused("a Body or a MediaUrl is required", field="Body")
    repeat = payload.get("Repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        raise InboundRefused(
            f"Repeat must be an integer from 1 to {MAX_REPEAT}, not {repeat!r}", field="Repeat"
        )
    if from_ == to:
        raise InboundRefused("From and To are the same number", field="From")
    if from_.startswith("whatsapp:") != to.startswith("whatsapp:"):
        raise InboundRefused(
            "From and To must both be whatsapp: addresses, or neither", field="From"
        )
    return InboundMessage(from_, to, body, tuple(media), repeat)


def _address(value: object, field: str) -> str:
    if value is None:
        raise InboundRefused(f"{field} is required", field=field)
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise InboundRefused(
            f"{field} must be an E.164 number such as +15558675310 (or whatsapp:+…), "
            f"not {str(value)[:64]!r}",
            field=field,
        )
    return value


class Inbound:
    """Receives messages for the account's numbers and delivers their webhooks.

    `receive` answers synchronously (the webhook's answers included); `relay` queues a
    message one sandbox number sent to another for a background thread to receive. The
    ``<Message>`` verbs of a webhook's TwiML answer are sent through `replies`.
    """

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        store: MessageStore,
        numbers: PhoneNumbers,
        clock: Clock,
        timeout: float,
        replies: ReplySender | None = None,
        log_size: int = 1_000,
        optouts: OptOutList | None = None,
    ) -> None:
        self._account_sid = account_sid
        self._replies = replies
        self._optouts = optouts
        self._store = store
        self._numbers = numbers
        self._clock = clock
        self._timeout = timeout
        self._exchange = WebhookExchange(
            auth_token=auth_token, timeout=timeout, now=clock.now, replies=replies
        )
        self._log: deque[WebhookDelivery] = deque(maxlen=log_size)
        self._jobs: queue.SimpleQueue[InboundMessage | None] = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None

    # -- receiving --------------------------------------------------------------------------

    def receive(self, message: InboundMessage) -> dict[str, Any]:
        """Store the message, deliver its webhook `repeat` times: ``{"sid", "deliveries"}``.

        Each delivery is followed by one to the SmsFallbackUrl when it failed; both are listed.
        """
        number = self._numbers.find(_number_of(message.to))
        if number is None:
            ours = ", ".join(resource["phone_number"] for resource in self._numbers.all())
            raise InboundRefused(
                f"To {message.to} is not one of the sandbox's numbers ({ours})",
                field="To",
                status=404,
            )
        now = self._clock.now()
        stored = self._store.add(lambda seq: self._stored(seq, message, now))
        automatic = (
            self._optouts.note(message.body, message.from_, message.to)
            if (self._optouts is not None)
            else None
        )
        if automatic is not None and self._replies is not None:  # Twilio answers STOP itself
            self._replies.send(stored.resource, TwimlMessage(automatic))
        types = [str(item["content_type"]) for item in stored.media]
        params = webhook_params(stored.resource, list(zip(stored.media_urls, types, strict=True)))
        route = Route.of(number)
        deliveries: list[WebhookDelivery] = []
        if route.url:
            token = secrets.token_hex(16)
            for _ in range(message.repeat):
                exchanged = self._exchange.deliver(
                    route, params, inbound=dict(stored.resource), idempotency_token=token
                )
                deliveries.extend(exchanged)
                with self._idle:
                    self._log.extend(exchanged)
        return {"sid": stored.sid, "deliveries": [delivery.answer() for delivery in deliveries]}

    def _stored(self, seq: int, message: InboundMessage, now: datetime) -> StoredMessage:
        media = message.media_urls
        sid = ("MM" if media else "SM") + os.urandom(16).hex()
        counted = count_segments(message.body)
        segments = 1 if media else counted.segments
        stamp = rfc2822(now)
        uri = message_uri(self._account_sid, sid)
        resource = message_resource(
            account_sid=self._account_sid,
            sid=sid,
            body=message.body,
            num_segments=str(segments),
            direction="inbound",
            sender=message.from_,
            to=message.to,
            num_media=len(media),
            status="received",
            stamp=stamp,
            date_sent=stamp,
        )
        return StoredMessage(
            seq=seq,
            resource=resource,
            segments=segments,
            date_sent=now,
            media=media_resources(
                account_sid=self._account_sid,
                message_uri=uri,
                message_sid=sid,
                urls=media,
                stamp=stamp,
            ),
            media_urls=media,
            created_at=now,
            history=[("received", now)],
            encoding=counted.encoding,
        )

    # -- number to number -------------------------------------------------------------------

    def relay(self, resource: Mapping[str, Any], media_urls: tuple[str, ...]) -> None:
        """Queue a delivered message for its recipient, when that is one of the sandbox's."""
        sender, to = resource.get("from"), str(resource["to"])
        if sender is None or sender == to or self._numbers.find(_number_of(to)) is None:
            return
        message = InboundMessage(str(sender), to, str(resource["body"]), media_urls)
        with self._idle:
            self._pending += 1
        self._jobs.put(message)

    def start(self) -> None:
        """Start the thread that receives relayed messages."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name="twilio-sandbox-inbound", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop that thread after the message in hand (the ones still queued are dropped)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(2 * self._timeout * MAX_REPEAT + 1.0)  # each try may fall back once

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every relayed message has been received; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _work(self) -> None:
        while (message := self._jobs.get()) is not None:
            try:
                self.receive(message)
            except Exception:  # a relay must never kill the thread
                traceback.print_exc()
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    # -- what happened ----------------------------------------------------------------------

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """The recent webhook deliveries, oldest first."""
        with self._idle:
            return list(self._log)

    def clear(self) -> None:
        """Forget the webhook deliveries."""
        with self._idle:
            self._log.clear()


def webhook_params(
    resource: Mapping[str, Any], media: Sequence[tuple[str, str]] = ()
) -> dict[str, str]:
    """The form Twilio sends to an SmsUrl for an inbound message, in Twilio's order.

    `media` holds each MediaUrl with its content type.
    """
    sid, sender, to = str(resource["sid"]), str(resource["from"]), str(resource["to"])
    params = {
        "ToCountry": _country(to),
        "ToState": "",
        "SmsMessageSid": sid,
        "NumMedia": str(resource["num_media"]),
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": str(resource["body"]),
        "FromCountry": _country(sender),
        "To": to,
    }
    if resource.get("messaging_service_sid"):
        params["MessagingServiceSid"] = str(resource["messaging_service_sid"])
    params.update(
        {
            "ToZip": "",
            "NumSegments": str(resource["num_segments"]),
            "MessageSid": sid,
            "AccountSid": str(resource["account_sid"]),
            "From": sender,
            "ApiVersion": str(resource["api_version"]),
        }
    )
    for index, (url, content_type) in enumerate(media):
        params[f"MediaContentType{index}"] = content_type
        params[f"MediaUrl{index}"] = url
    if sender.startswith("whatsapp:"):
        params["WaId"] = _number_of(sender)[1:]
    return params


def _number_of(address: str) -> str:
    return address.rpartition(":")[2]


def _country(address: str) -> str:
    number = _number_of(address)
    return next((code for prefix, code in _COUNTRIES if number.startswith(prefix)), "")
