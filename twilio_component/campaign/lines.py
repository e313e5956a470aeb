"""Landlines skipped: a recipient's line type asked once of the component's own lookup action and
kept in the journal, so a campaign does not pay for texts that never arrive."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twilio_component.host import Host
    from twilio_component.pacing import LineTypes

__all__ = ["is_landline", "line_type"]


def line_type(
    host: Host, lines: LineTypes, connection: Mapping[str, Any], address: str
) -> str | None:
    """The line type of ``address``: from the journal when it was looked up before, else looked
    up once with the component's step and kept."""
    journal = host.journal
    name = f"line/{address}"
    noted = journal.noted(name)
    if noted is not None:
        kind = noted.get("type")
        return kind if isinstance(kind, str) else None
    output = host.execute(lines.step(address), connection=connection)
    kind = lines.type_of(output)
    journal.note(name, {"type": kind})
    return kind


def is_landline(host: Host, lines: LineTypes, connection: Mapping[str, Any], address: str) -> bool:
    """Whether ``address`` is a line that cannot receive a text, as the component tells."""
    return line_type(host, lines, connection, address) in lines.landlines
