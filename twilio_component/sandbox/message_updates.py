"""UpdateMessage as the sandbox answers it: cancel a scheduled message, redact a message's body."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from twilio_component.sandbox.lifecycle import Lifecycle
from twilio_component.sandbox.replies import error_reply, json_reply, not_found
from twilio_component.sandbox.server import Reply
from twilio_component.sandbox.store import MessageStore, StoredMessage, rfc2822

__all__ = ["update_message_reply"]

INVALID_PARAMETER: Final = 20001
CANNOT_CANCEL: Final = 30409
UPDATE_STATUSES: Final = frozenset({"canceled"})  # message_enum_update_status in the spec


def update_message_reply(
    *,
    store: MessageStore,
    lifecycle: Lifecycle,
    path: str,
    sid: str,
    form: Mapping[str, Sequence[str]],
    now: datetime,
) -> Reply:
    """``POST …/Messages/{Sid}.json`` with ``Status=canceled`` and/or ``Body=`` (redaction)."""
    if store.get(sid) is None:
        return not_found(path)
    status = _given(form, "Status")
    body = _given(form, "Body")
    if status is not None and status not in UPDATE_STATUSES:
        return error_reply(
            400, INVALID_PARAMETER, f"Invalid Status {status[:64]!r}: the only value is canceled."
        )
    if body:
        return error_reply(
            400,
            INVALID_PARAMETER,
            "A message's Body can only be updated to the empty string, which redacts it.",
        )
    resource: dict[str, Any] | None = store.get(sid)
    if status is not None:
        outcome = lifecycle.cancel(sid, now)
        if outcome is None:
            return not_found(path)
        canceled, resource = outcome
        if not canceled:
            return error_reply(
                400,
                CANNOT_CANCEL,
                f"This message cannot be canceled: its status is {resource['status']}, "
                "and only a scheduled message can be.",
            )
    if body is not None:
        stamp = rfc2822(now)

        def redact(message: StoredMessage) -> None:
            message.resource["body"] = ""
            message.resource["date_updated"] = stamp

        store.update(sid, redact)
        resource = store.get(sid)
    if resource is None:
        return not_found(path)
    return json_reply(200, resource)


def _given(form: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The first value sent for `name` (an empty one included), or None when not sent."""
    values = form.get(name)
    if not values:
        return None
    return values if isinstance(values, str) else values[0]
