"""Replies a webhook's TwiML asks for: each ``<Message>`` becomes an outbound-reply message."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from twilio_component.sandbox import message_spec as spec
from twilio_component.sandbox.checks import is_web_url
from twilio_component.sandbox.clock import Clock
from twilio_component.sandbox.lifecycle import Lifecycle
from twilio_component.sandbox.media import media_resources
from twilio_component.sandbox.numbers import PhoneNumbers
from twilio_component.sandbox.store import (
    MessageStore,
    StoredMessage,
    message_resource,
    message_uri,
    rfc2822,
)
from twilio_component.sandbox.twiml import TwimlError, TwimlMessage
from twilio_component.twilio.segments import count_segments

__all__ = ["EMPTY_MESSAGE", "ReplySender"]

API_VERSION: Final = "2010-04-01"
EMPTY_MESSAGE: Final = 14103
"""Twilio's code for a ``<Message/>`` with nothing to send (FACTS: "an empty <Message/> gives
14103")."""

_ADDRESS: Final = re.compile(r"(whatsapp:)?\+[1-9][0-9]{1,14}")


class ReplySender:
    """Stores each reply as a new message (direction ``outbound-reply``, status ``queued``) and
    starts its lifecycle, like any message the API creates.

    `failure_code` gives the 30xxx code a recipient's messages end ``undelivered`` with (None:
    delivered), as for the API's messages.
    """

    def __init__(
        self,
        *,
        account_sid: str,
        store: MessageStore,
        lifecycle: Lifecycle,
        numbers: PhoneNumbers,
        clock: Clock,
        failure_code: Callable[[str], int | None] = lambda to: None,
    ) -> None:
        self._account_sid = account_sid
        self._store = store
        self._lifecycle = lifecycle
        self._numbers = numbers
        self._clock = clock
        self._failure_code = failure_code

    def send(self, inbound: Mapping[str, Any], reply: TwimlMessage) -> str:
        """Send `reply` to the message `inbound` (a resource); its SID, or TwimlError.

        By default it goes to the inbound sender, from the number that received it.
        """
        to = reply.to if reply.to is not None else str(inbound["from"])
        sender = reply.from_ if reply.from_ is not None else str(inbound["to"])
        _check(reply, to, sender, self._numbers)
        now = self._clock.now()
        message = self._store.add(lambda seq: self._stored(seq, to, sender, reply, now))
        self._lifecycle.begin(message, now)
        return message.sid

    def _stored(
        self, seq: int, to: str, sender: str, reply: TwimlMessage, now: datetime
    ) -> StoredMessage:
        media = reply.media
        sid = ("MM" if media else "SM") + os.urandom(16).hex()
        counted = count_segments(reply.body)
        segments = 1 if media else counted.segments
        stamp = rfc2822(now)
        uri = message_uri(self._account_sid, sid)
        resource = message_resource(
            account_sid=self._account_sid,
            sid=sid,
            body=reply.body,
            num_segments=str(segments),
            direction="outbound-reply",
            sender=sender,
            to=to,
            num_media=len(media),
            status="queued",
            stamp=stamp,
        )
        return StoredMessage(
            seq=seq,
            resource=resource,
            segments=segments,
            failure_code=self._failure_code(to),
            media=media_resources(
                account_sid=self._account_sid,
                message_uri=uri,
                message_sid=sid,
                urls=media,
                stamp=stamp,
            ),
            media_urls=media,
            created_at=now,
            history=[("queued", now)],
            encoding=counted.encoding,
        )


def _check(reply: TwimlMessage, to: str, sender: str, numbers: PhoneNumbers) -> None:
    """TwimlError with the code Twilio gives when a reply cannot be sent as written."""
    if not reply.body and not reply.media:
        raise TwimlError(EMPTY_MESSAGE, "a <Message> with no body and no media sends nothing")
    if len(reply.body) > spec.MAX_BODY_CHARS:
        raise TwimlError(
            spec.BODY_TOO_LONG,
            f"the <Message> body is longer than {spec.MAX_BODY_CHARS} characters",
        )
    if len(reply.media) > spec.MAX_MEDIA_URLS:
        raise TwimlError(
            spec.MEDIA_TOO_MANY, f"the <Message> has more than {spec.MAX_MEDIA_URLS} <Media>"
        )
    for url in reply.media:
        if not is_web_url(url, callback=False):
            raise TwimlError(spec.MEDIA_URL_INVALID, f"<Media> {url[:64]!r} is not an http(s) URL")
    if not _ADDRESS.fullmatch(to):
        raise TwimlError(spec.TO_INVALID, f"to {to[:64]!r} is not a valid phone number")
    if not _ADDRESS.fullmatch(sender) or numbers.find(sender.rpartition(":")[2]) is None:
        raise TwimlError(
            spec.FROM_NOT_OURS, f"from {sender[:64]!r} is not a phone number of this account"
        )
