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

__all__ = ["CONNECTION_FAILURE", "RETRIEVAL_FAILURE", "WebhookDelivery", "deliver_webhook"]

USER_AGENT = "TwilioProxy/1.1"
MAX_KEPT_BODY = 64 * 1024
"""Characters of a webhook's answer kept in the record (and read as TwiML)."""
CONNECTION_FAILURE = 11205
"""Twilio's HTTP connection failure: no connection could be made (FACTS, error 11205)."""
RETRIEVAL_FAILURE = 11200
"""Twilio's HTTP retrieval failure: no answer in time, or a 4xx/5xx one (FACTS, error 11200)."""


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
    error_code: int | None = None
    """Twilio's error code when the webhook failed (11205, 11200, or 12100 for an answer that is
    not a TwiML document); a failure sends the number's SmsFallbackUrl the same webhook."""
    fallback: bool = False
    """Whether this request went to the number's SmsFallbackUrl after its SmsUrl failed."""
    replies: tuple[str, ...] = ()
    """The SIDs of the messages the answer's TwiML sent (``<Message>`` verbs), in order."""
    reply_errors: tuple[tuple[int, str], ...] = ()
    """Twilio's code and why, for each ``<Message>`` verb that could not be sent."""

    @property
    def failed(self) -> bool:
        """Whether Twilio would count this request failed (and call the fallback URL)."""
        return self.error_code is not None

    def answer(self) -> dict[str, Any]:
        """What POST /_sandbox/inbound reports: status, content type and body, or the error.

        Also, when they apply: ``error`` and ``error_code`` (a failed webhook), ``fallback``
        (a request to the SmsFallbackUrl), ``replies`` and ``reply_errors`` (its TwiML).
        """
        answer: dict[str, Any]
        if self.status is None:
            answer = {"status": None, "error": self.error}
        else:
            answer = {"status": self.status, "content_type": self.content_type, "body": self.body}
            if self.error is not None:
                answer["error"] = self.error
        if self.error_code is not None:
            answer["error_code"] = self.error_code
        if self.fallback:
            answer["fallback"] = True
        if self.replies:
            answer["replies"] = list(self.replies)
        if self.reply_errors:
            answer["reply_errors"] = _reply_errors(self.reply_errors)
        return answer

    def to_json(self) -> dict[str, Any]:
        """The whole record, as GET /_sandbox/deliveries lists it (every key, always)."""
        return {
            "message_sid": self.message_sid,
            "url": self.url,
            "method": self.method,
            "params": dict(self.params),
            "signature": self.signature,
            "idempotency_token": self.idempotency_token,
            "attempted_at": iso_millis(self.attempted_at),
            "status": self.status,
            "content_type": self.content_type,
            "body": self.body,
            "error": self.error,
            "error_code": self.error_code,
            "fallback": self.fallback,
            "replies": list(self.replies),
            "reply_errors": _reply_errors(self.reply_errors),
        }


def _reply_errors(errors: tuple[tuple[int, str], ...]) -> list[dict[str, Any]]:
    return [{"code": code, "message": message} for code, message in errors]


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
    fallback: bool = False,
) -> WebhookDelivery:
    """Request `url` as Twilio requests an SmsUrl, signed with `auth_token`; only on loopback.

    POST sends `params` as a form; GET puts them in the query string and signs that URL
    alone. A fragment (Twilio's ``#rc=…`` connection overrides) is never sent nor signed.
    No connection is error 11205; no answer within `timeout`, or a 4xx/5xx one, is 11200.
    A URL off this machine is refused, never sent, and has no error code.
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
        fallback=fallback,
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
        try:
            connection.connect()
        except OSError as error:
            return replace(record, error=_described(error), error_code=CONNECTION_FAILURE)
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            answered = response.read()
        except (OSError, http.client.HTTPException) as error:
            return replace(record, error=_described(error), error_code=RETRIEVAL_FAILURE)
    finally:
        connection.close()
    answer = replace(
        record,
        status=response.status,
        content_type=response.getheader("Content-Type"),
        body=answered.decode("utf-8", "replace")[:MAX_KEPT_BODY],
    )
    if response.status >= 400:
        failure = f"the webhook answered HTTP {response.status}"
        return replace(answer, error=failure, error_code=RETRIEVAL_FAILURE)
    return answer


def _described(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
