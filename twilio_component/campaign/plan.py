"""A campaign's plan: the CSV's rows, each turned into one checked step, each recipient once."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twilio_component.errors import ComponentError, JournalUnavailableError, StepError
from twilio_component.workflow import references, resolve

if TYPE_CHECKING:
    from twilio_component.host import Host
    from twilio_component.pacing import Traffic

__all__ = ["Campaign", "Planned", "Row", "campaign_key", "read_rows"]


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV row: its line number (the header is line 1) and its values by column."""

    line: int
    values: Mapping[str, str]


#: One row's step, ready to send: (the row, ``{"type": …, "parameters": {…}}``).
Planned = tuple[Row, dict[str, Any]]


def campaign_key(campaign_id: str, recipient: str) -> str:
    """The journal key of one recipient of a campaign."""
    return f"campaign/{campaign_id}/{recipient}"


def read_rows(text: str, source: str) -> tuple[list[str], list[Row]]:
    """The header and rows of CSV text (a UTF-8 BOM is dropped); ValueError naming the line
    (or the column) when it cannot be read as one row per recipient: a quote never closed, a
    column named twice, more values than columns, a NUL byte, a field past the size limit."""
    text = text.removeprefix("\ufeff")
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise ValueError(f"{source}: line {line} holds a NUL byte; save the file as plain text")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = _next_row(reader, source, 1)
    if not header or not any(name.strip() for name in header):
        raise ValueError(f"{source}: the first line must name the columns (e.g. To,name)")
    names = [name.strip() for name in header]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(
            f"{source}: the header names column(s) {', '.join(map(repr, twice))} more than once; "
            "give each column its own name"
        )
    rows: list[Row] = []
    while True:
        start = reader.line_num + 1
        cells = _next_row(reader, source, start)
        if cells is None:
            return names, rows
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) > len(names):
            raise ValueError(
                f"{source}: line {start} has {len(cells)} values but the header names "
                f"{len(names)} columns; quote a value that holds a comma"
            )
        values = {name: cells[i] for i, name in enumerate(names) if i < len(cells)}
        rows.append(Row(reader.line_num, values))


def _next_row(reader: Any, source: str, start: int) -> list[str] | None:
    """The next row, or None at the end; ValueError naming the line where a row went wrong."""
    try:
        return next(reader, None)
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            raise ValueError(
                f"{source}: line {start} opens a quote that is never closed, so every line "
                "after it would be one value; close the quote (or double it inside the value)"
            ) from None
        raise ValueError(f"{source}: line {start}: {error}") from None


class Campaign:
    """One campaign: its ID, the step template, the rows, and the host that runs its steps.

    The step's component says who a step goes to and whose pace it spends (its ``traffic``);
    a campaign sends to each recipient at most once.
    """

    def __init__(
        self,
        host: Host,
        campaign_id: str,
        step: Mapping[str, Any],
        rows: Sequence[Row],
        columns: Sequence[str],
    ) -> None:
        self.host = host
        self.id = campaign_id
        self.step = step
        self.rows = rows
        self.columns = list(columns)
        #: Set when the run is interrupted; waits for a sender's turn should end on it.
        self.stopping = threading.Event()

    def key(self, recipient: str) -> str:
        """The journal key of one recipient of this campaign."""
        return campaign_key(self.id, recipient)

    def record(self, steps: Sequence[Planned]) -> None:
        """Note in the journal the campaign's size and what it sends (the step and the rows, as
        digests); StepError, nothing sent, when an earlier run of this campaign sent another
        step or other rows: a rerun resumes the same campaign, a changed one needs a new ID."""
        journal = self.host.journal
        name = f"campaign/{self.id}"
        wanted = {
            "recipients": len(steps),
            "step": _digest(self.step),
            "rows": _digest([step for _, step in steps]),
        }
        try:
            earlier = journal.noted(name) or {}
            changed = [
                what for what in ("step", "rows") if earlier.get(what, wanted[what]) != wanted[what]
            ]
            if not changed:
                journal.note(name, wanted)
        except journal.errors as error:
            raise JournalUnavailableError(journal.path, str(error).splitlines()[0]) from None
        if changed:
            raise StepError(
                f"campaign {self.id!r} was run before with other {' and '.join(changed)}; "
                "nothing was sent. Run it with what it had to finish it, or give this one a "
                "new --campaign ID"
            )

    @property
    def traffic(self) -> Traffic:
        """Who the campaign's steps go to and whose pace they spend, from their component;
        ComponentError when the component does not say."""
        component = self.host.component_of(self.step.get("type"))
        if component.traffic is None:
            raise ComponentError(
                f"{self.step.get('type')} cannot be sent as a campaign: its component does not "
                "say who a step goes to (Component(traffic=...))"
            )
        return component.traffic

    def prepare(self) -> tuple[list[Planned], int, list[str]]:
        """Every row's step, the number of duplicate recipients, and every problem (each
        naming its line); nothing is sent."""
        problems: list[str] = []
        template = self.step.get("parameters", {})
        for name in sorted(_row_references(template) - set(self.columns)):
            problems.append(
                f"step: ${{row.{name}}} names no column of the CSV "
                f"(its columns: {', '.join(self.columns)})"
            )
        if problems:
            return [], 0, problems
        steps: list[Planned] = []
        seen: set[str] = set()
        duplicates = 0
        recipient_of = None
        for row in self.rows:
            missing = [c for c in _row_references(template) if row.values.get(c) is None]
            if missing:
                problems.append(
                    f"line {row.line}: column {', '.join(map(repr, missing))} is missing "
                    "(the row has fewer values than the header)"
                )
                continue
            parameters = resolve(template, {"row": dict(row.values)})
            step = {"type": self.step.get("type"), "parameters": parameters}
            try:
                found = self.host.check_step(step)
                recipient_of = recipient_of or self.traffic.recipient
            except ComponentError as error:
                problems.append(f"step: {error}")
                break
            if found:
                problems.extend(f"line {row.line}: {p}" for p in found)
                continue
            recipient = recipient_of(parameters)
            if recipient in seen:
                duplicates += 1
                continue
            seen.add(recipient)
            steps.append((row, step))
        return steps, duplicates, problems


def _digest(value: Any) -> str:
    """A SHA-256 of ``value`` as canonical JSON."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _row_references(value: Any) -> set[str]:
    """The columns ``${row.COLUMN}`` references in a step's parameters name."""
    return {ref.split(".", 1)[1] for ref in references(value) if ref.startswith("row.")}
