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

# Unverified: neither code appears in FACTS.md or the spec. 30400 answers an update that is not
# exactly one cancel or one redaction; 30409 the cancel of a message that is not scheduled.
INVALID_UPDATE: Final = 30400
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
    """``POST …/Messages/{Sid}.json``: either ``Status=canceled`` (cancel) or ``Body=`` (redact)."""
    if store.get(sid) is None:
        return not_found(path)
    status = _given(form, "Status")
    body = _given(form, "Body")
    refusal = _refusal(status, body)
    if refusal is not None:
        return error_reply(400, INVALID_UPDATE, refusal)
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
        return json_reply(200, resource)
    stamp = rfc2822(now)

    def redact(message: StoredMessage) -> dict[str, Any]:
        message.resource["body"] = ""
        message.resource["date_updated"] = stamp
        return dict(message.resource)

    redacted = store.update(sid, redact)
    return not_found(path) if redacted is None else json_reply(200, redacted)


def _refusal(status: str | None, body: str | None) -> str | None:
    """Why an update cannot be applied (None when it can): it does one thing, one allowed way.

    The update either cancels (``Status=canceled``) or redacts (``Body=``, empty), never both
    at once and never neither; a non-empty Body would rewrite the text, which Twilio refuses.
    """
    if status is None and body is None:
        return "An update needs Status=canceled (cancel) or an empty Body (redact)."
    if status is not None and body is not None:
        return "Status and Body cannot be updated together: cancel, then redact."
    if status is not None and status not in UPDATE_STATUSES:
        return f"Invalid Status {status[:64]!r}: the only value is canceled."
    if body:
        return "A message's Body can only be updated to the empty string, which redacts it."
    return None


def _given(form: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The first value sent for `name` (an empty one included), or None when not sent."""
    values = form.get(name)
    if not values:
        return None
    return values if isinstance(values, str) else values[0]
