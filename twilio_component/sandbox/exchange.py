"""One inbound message's webhook exchange: its SmsUrl, the SmsFallbackUrl when that fails, and
the replies the answering TwiML asks for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio_component.sandbox.twiml import TwimlError, is_twiml, read_messages
from twilio_component.sandbox.twiml_replies import ReplySender
from twilio_component.sandbox.webhooks import WebhookDelivery, deliver_webhook

__all__ = ["Route", "WebhookExchange"]


@dataclass(frozen=True, slots=True)
class Route:
    """Where a number's inbound messages go: its SmsUrl and SmsFallbackUrl, with their methods."""

    url: str
    method: str = "POST"
    fallback_url: str = ""
    fallback_method: str = "POST"

    @classmethod
    def of(cls, number: Mapping[str, Any]) -> Route:
        """The route an IncomingPhoneNumbers resource configures (``sms_url``…)."""
        return cls(
            url=str(number.get("sms_url") or ""),
            method=str(number.get("sms_method") or "POST").upper(),
            fallback_url=str(number.get("sms_fallback_url") or ""),
            fallback_method=str(number.get("sms_fallback_method") or "POST").upper(),
        )


class WebhookExchange:
    """Delivers one inbound message's webhook as Twilio does, and acts on what comes back.

    A failed request to the SmsUrl (no connection: 11205; no answer in time or a 4xx/5xx one:
    11200; an answer that is not a TwiML document: 12100) is followed at once by the same
    signed webhook to the SmsFallbackUrl, with SmsFallbackMethod, plus ``ErrorCode`` and
    ``ErrorUrl`` (FACTS: "On failure, Twilio logs an error and immediately requests the
    Fallback URL, if one is set. The request carries ErrorCode and ErrorUrl"). The ``<Message>``
    verbs of a 2xx TwiML answer (from either URL) are sent through `replies`.
    """

    def __init__(
        self,
        *,
        auth_token: str,
        timeout: float,
        now: Callable[[], datetime],
        replies: ReplySender | None = None,
    ) -> None:
        self._auth_token = auth_token
        self._timeout = timeout
        self._now = now
        self._replies = replies

    def deliver(
        self,
        route: Route,
        params: Mapping[str, str],
        *,
        inbound: Mapping[str, Any],
        idempotency_token: str,
    ) -> list[WebhookDelivery]:
        """The request to the SmsUrl, and to the SmsFallbackUrl when that failed, in order.

        `inbound` is the message's resource (who sent it, and to which number).
        """
        primary = self._request(route.url, route.method, params, inbound, idempotency_token)
        if not primary.failed or not route.fallback_url:
            return [primary]
        failure = {"ErrorCode": str(primary.error_code), "ErrorUrl": _without_fragment(route.url)}
        fallback = self._request(
            route.fallback_url,
            route.fallback_method,
            {**params, **failure},
            inbound,
            idempotency_token,
            fallback=True,
        )
        return [primary, fallback]

    def _request(
        self,
        url: str,
        method: str,
        params: Mapping[str, str],
        inbound: Mapping[str, Any],
        idempotency_token: str,
        *,
        fallback: bool = False,
    ) -> WebhookDelivery:
        delivery = deliver_webhook(
            url=url,
            method=method,
            params=params,
            auth_token=self._auth_token,
            idempotency_token=idempotency_token,
            message_sid=str(inbound["sid"]),
            now=self._now(),
            timeout=self._timeout,
            fallback=fallback,
        )
        return self._act_on(delivery, inbound)

    def _act_on(self, delivery: WebhookDelivery, inbound: Mapping[str, Any]) -> WebhookDelivery:
        """Send the replies a 2xx TwiML answer asks for; 12100 when it is not TwiML at all."""
        status, body = delivery.status, delivery.body or ""
        if status is None or not 200 <= status < 300 or not body.strip():
            return delivery
        if not is_twiml(delivery.content_type):
            return delivery
        try:
            messages = read_messages(body)
        except TwimlError as error:
            described = f"the answer is not a TwiML document: {error.message}"
            return replace(delivery, error=described, error_code=error.code)
        if self._replies is None:
            return delivery
        sent: list[str] = []
        problems: list[tuple[int, str]] = []
        for message in messages:
            try:
                sent.append(self._replies.send(inbound, message))
            except TwimlError as error:
                problems.append((error.code, error.message))
        return replace(delivery, replies=tuple(sent), reply_errors=tuple(problems))


def _without_fragment(url: str) -> str:
    """The URL as Twilio requests it: connection overrides (``#…``) are not part of it."""
    return urlunsplit(urlsplit(url)._replace(fragment=""))
