"""Inbound-message webhooks: one signed form request to a loopback URL, and what it answered."""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from twilio_component.sandbox.callbacks import is_loopback_url
from twilio_component.sandbox.store import iso_millis
from twilio_component.twilio.signature import compute_signature

__all__ = ["WebhookDelivery", "deliver_webhook"]

USER_AGENT = "TwilioProxy/1.1"
MAX_KEPT_BODY = 64 * 1024
"""Characters of a webhook's answer kept in the record."""


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One webhook request: where it went, with what, and what came back (or why nothing did)."""

    url: str
    """The URL requested (for GET, with the parameters in its query string)."""
    method: str
    message_sid: str
    params: dict[str, str]
    signature: str
    idempotency_token: str
    attempted_at: datetime
    status: int | None = None
    content_type: str | None = None
    body: str | None = None
    error: str | None = None

    def answer(self) -> dict[str, Any]:
        """What POST /_sandbox/inbound reports: status, content type and body, or the error."""
        if self.status is None:
            return {"status": None, "error": self.error}
        return {"status": self.status, "content_type": self.content_type, "body": self.body}

    def to_json(self) -> dict[str, Any]:
        """The whole record, as GET /_sandbox/deliveries lists it."""
        return {
            "message_sid": self.message_sid,
            "url": self.url,
            "method": self.method,
            "params": dict(self.params),
            "signature": self.signature,
            "idempotency_token": self.idempotency_token,
            "attempted_at": iso_millis(self.attempted_at),
            **self.answer(),
        }


def deliver_webhook(
    *,
    url: str,
    method: str,
    params: Mapping[str, str],
    auth_token: str,
    idempotency_token: str,
    message_sid: str,
    now: datetime,
    timeout: float,
) -> WebhookDelivery:
    """Request `url` as Twilio requests an SmsUrl, signed with `auth_token`; only on loopback.

    POST sends `params` as a form; GET puts them in the query string and signs that URL
    alone. A fragment (Twilio's ``#rc=…`` connection overrides) is never sent nor signed.
    """
    parts = urlsplit(url)._replace(fragment="")
    form: dict[str, str] = dict(params)
    if method == "GET":
        query = f"{parts.query}&{urlencode(form)}" if parts.query else urlencode(form)
        parts = parts._replace(query=query)
        signed: dict[str, str] = {}
    else:
        signed = form
    called = urlunsplit(parts)
    signature = compute_signature(auth_token, called, signed)
    record = WebhookDelivery(
        url=called,
        method=method,
        message_sid=message_sid,
        params=form,
        signature=signature,
        idempotency_token=idempotency_token,
        attempted_at=now,
    )
    if not is_loopback_url(called):
        return replace(
            record, error="refused: the sandbox only sends webhooks to loopback addresses"
        )
    headers = {
        "User-Agent": USER_AGENT,
        "X-Twilio-Signature": signature,
        "I-Twilio-Idempotency-Token": idempotency_token,
        "Accept": "*/*",
        "Connection": "close",
    }
    body: bytes | None = None
    if method != "GET":
        body = urlencode(form).encode("ascii")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        answered = response.read()
    except (OSError, http.client.HTTPException) as error:
        return replace(record, error=f"{type(error).__name__}: {error}")
    finally:
        connection.close()
    return replace(
        record,
        status=response.status,
        content_type=response.getheader("Content-Type"),
        body=answered.decode("utf-8", "replace")[:MAX_KEPT_BODY],
    )
