"""Media of sandbox messages: one Media resource per MediaUrl, listed and fetched as Twilio does."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from twilio_component.sandbox.listing import date_filters
from twilio_component.sandbox.paging import page_payload
from twilio_component.sandbox.replies import error_reply, json_reply, not_found
from twilio_component.sandbox.server import Reply
from twilio_component.sandbox.store import MessageStore

__all__ = ["fetch_media_reply", "list_media_reply", "media_resources"]

_FALLBACK_TYPE = "application/octet-stream"


def media_resources(
    *, account_sid: str, message_uri: str, message_sid: str, urls: Sequence[str], stamp: str
) -> tuple[dict[str, Any], ...]:
    """The Media resources of a new message; the content type is guessed from each URL's path.

    `message_uri` is the message's URI without ``.json``.
    """
    resources = []
    for url in urls:
        sid = "ME" + os.urandom(16).hex()
        guessed = mimetypes.guess_type(urlsplit(url).path)[0]
        resources.append(
            {
                "account_sid": account_sid,
                "content_type": guessed or _FALLBACK_TYPE,
                "date_created": stamp,
                "date_updated": stamp,
                "parent_sid": message_sid,
                "sid": sid,
                "uri": f"{message_uri}/Media/{sid}.json",
            }
        )
    return tuple(resources)


def list_media_reply(
    store: MessageStore, path: str, message_sid: str, query: dict[str, list[str]]
) -> Reply:
    """``GET …/Messages/{MessageSid}/Media.json``: the message's media, 404 with no message.

    ``DateCreated``, ``DateCreated<`` and ``DateCreated>`` filter by creation date (as the
    Messages list reads DateSent) and are kept in every page URI.
    """
    media = store.media(message_sid)
    if media is None:
        return not_found(path)
    try:
        filters, window = date_filters(query, "DateCreated")
        found = [item for item in media if window.holds(_created(item))]
        payload = page_payload(path, "media_list", found, query, filters)
    except ValueError as problem:
        return error_reply(400, 20001, str(problem))
    return json_reply(200, payload)


def fetch_media_reply(store: MessageStore, path: str, message_sid: str, media_sid: str) -> Reply:
    """``GET …/Messages/{MessageSid}/Media/{Sid}.json``: one Media resource, else 404."""
    media = store.media(message_sid) or []
    found = next((item for item in media if item["sid"] == media_sid), None)
    return not_found(path) if found is None else json_reply(200, found)


def _created(item: dict[str, Any]) -> datetime:
    return parsedate_to_datetime(str(item["date_created"]))
