"""A campaign's plan: the CSV's rows streamed, each turned into one checked step, each recipient
once, and written to the journal as rows."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twilio_component.errors import ComponentError, JournalUnavailableError, StepError
from twilio_component.workflow import references, resolve

if TYPE_CHECKING:
    from twilio_component.campaign.hours import SendWindow
    from twilio_component.host import Host
    from twilio_component.pacing import Traffic

__all__ = ["Campaign", "Checked", "Planned", "Recipients", "Row", "campaign_key", "read_rows"]


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


class Recipients:
    """A recipients CSV file, read as a stream each time it is iterated (a UTF-8 BOM is
    dropped): memory holds one row, whatever the file's size.

    Opening it reads the header (``columns``); iterating yields each row that is not blank.
    Both raise ValueError naming the line (or the column) when the file cannot be read as one
    row per recipient: a quote never closed, a column named twice, more values than columns,
    a NUL byte, a field past the size limit, text that is not UTF-8.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.columns = _header(csv.reader(_lines(self.path), strict=True), self.path)

    def __iter__(self) -> Iterator[Row]:
        reader = csv.reader(_lines(self.path), strict=True)
        _header(reader, self.path)
        yield from _rows(reader, self.path, len(self.columns), self.columns)


def _lines(path: str) -> Iterator[str]:
    """The file's lines as text, each decoded alone so that bytes that are not UTF-8 are named
    by their line."""
    try:
        file = open(path, "rb")  # noqa: SIM115 (closed below, also when the reader stops early)
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None
    with file:
        for number, raw in enumerate(file, 1):
            if b"\0" in raw:
                raise ValueError(
                    f"{path}: line {number} holds a NUL byte; save the file as plain text"
                )
            try:
                yield (raw.removeprefix(codecs.BOM_UTF8) if number == 1 else raw).decode()
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{path}: line {number} is not UTF-8 text (byte {error.start + 1} of the "
                    "line); save the file as UTF-8"
                ) from None


def read_rows(text: str, source: str) -> tuple[list[str], list[Row]]:
    """The header and rows of CSV text, as ``Recipients`` reads a file (ValueError naming the
    line or column where it cannot be read as one row per recipient)."""
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise ValueError(f"{source}: line {line} holds a NUL byte; save the file as plain text")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    names = _header(reader, source)
    return names, list(_rows(reader, source, len(names), names))


def _header(reader: Any, source: str) -> list[str]:
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
    return names


def _rows(reader: Any, source: str, width: int, names: Sequence[str]) -> Iterator[Row]:
    while True:
        start = reader.line_num + 1
        cells = _next_row(reader, source, start)
        if cells is None:
            return
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) > width:
            raise ValueError(
                f"{source}: line {start} has {len(cells)} values but the header names "
                f"{width} columns; quote a value that holds a comma"
            )
        yield Row(reader.line_num, dict(zip(names, cells, strict=False)))


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


@dataclass(frozen=True, slots=True)
class Checked:
    """What checking a campaign's rows found: its recipients (each once), the rows that named
    a recipient again, how many problems, and a digest of every row's step."""

    recipients: int
    duplicates: int
    problems: int
    digest: str
    #: The lines that name a recipient again (left out of the plan).
    repeated: frozenset[int] = frozenset()


class Campaign:
    """One campaign: its ID, the step template, its rows, and the host that runs its steps.

    ``rows`` is iterated once to check them and once more to write the plan, never held whole
    (a ``Recipients`` file, or any iterable of Row that gives the same rows each time). The
    step's component says who a step goes to and whose pace it spends (its ``traffic``); a
    campaign sends to each recipient at most once. With ``default_region`` (two letters, e.g.
    US) the recipients' numbers are read as people write them there (``(415) 867-5309``) and
    sent, and told apart, in E.164; a number not valid there is a problem of its line.
    """

    def __init__(
        self,
        host: Host,
        campaign_id: str,
        step: Mapping[str, Any],
        rows: Iterable[Row],
        columns: Sequence[str],
        *,
        default_region: str | None = None,
        send_window: SendWindow | None = None,
        skip_landlines: bool = False,
    ) -> None:
        self.host = host
        self.default_region = default_region
        #: When messages may be sent in each recipient's local time (None: any time).
        self.send_window = send_window
        #: Whether recipients on a landline are skipped (looked up once each).
        self.skip_landlines = skip_landlines
        self.id = campaign_id
        self.step = step
        self.rows = rows
        self.columns = list(columns)
        #: Set when the run is interrupted; waits for a sender's turn should end on it.
        self.stopping = threading.Event()

    def key(self, recipient: str) -> str:
        """The journal key of one recipient of this campaign."""
        return campaign_key(self.id, recipient)

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

    def check(self, problem: Callable[[str], None]) -> Checked:
        """Check every row in one pass, nothing sent: each problem (naming its line) goes to
        ``problem`` as it is found; memory holds the recipients' names, not their rows."""
        count = [0]

        def found(text: str) -> None:
            count[0] += 1
            problem(text)

        digest = _Digest()
        recipients = 0
        repeated: set[int] = set()
        for row, step in self._steps(found):
            if step is None:
                repeated.add(row.line)
                continue
            recipients += 1
            digest.add(step)
        lines = frozenset(repeated)
        return Checked(recipients, len(lines), count[0], digest.hexdigest(), lines)

    def record(self, checked: Checked) -> None:
        """Note in the journal the campaign's size and what it sends (the step and the rows, as
        digests); StepError, nothing sent, when an earlier run of this campaign sent another
        step or other rows: a rerun resumes the same campaign, a changed one needs a new ID."""
        journal = self.host.journal
        name = f"campaign/{self.id}"
        wanted = {"recipients": checked.recipients, "step": _digest(self.step)}
        wanted.update(rows=checked.digest, type=str(self.step.get("type")))
        if self.send_window is not None:  # for workers, which read it from here
            wanted.update(send_window=str(self.send_window), timezone=self.send_window.fallback)
        if self.skip_landlines:
            wanted.update(skip_landlines=True)
        try:
            earlier = journal.noted(name) or {}
            changed = [
                what for what in ("step", "rows") if earlier.get(what, wanted[what]) != wanted[what]
            ]
            if not changed:
                journal.note(name, {**earlier, **wanted})
        except journal.errors as error:
            raise JournalUnavailableError(journal.path, str(error).splitlines()[0]) from None
        if changed:
            raise StepError(
                f"campaign {self.id!r} was run before with other {' and '.join(changed)}; "
                "nothing was sent. Run it with what it had to finish it, or give this one a "
                "new --campaign ID"
            )

    def store(
        self, checked: Checked, pace: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    ) -> int:
        """Write the plan to the journal as rows, in batches, unless an earlier run did (a
        rerun); its size. ``pace`` gives each row's pace, for workers. StepError, no plan, when
        the rows read now are not those checked (the file changed in between)."""
        plans = self.host.journal.plans
        try:
            if plans.size(self.id) == checked.recipients:
                return checked.recipients
            return plans.store(self.id, self._planned(checked, pace))
        except self.host.journal.errors as error:
            where = self.host.journal.path
            raise JournalUnavailableError(where, str(error).splitlines()[0]) from None

    def _planned(
        self, checked: Checked, pace: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None
    ) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]]:
        recipient = self.traffic.recipient
        digest = _Digest()
        for _, step in self._steps(lambda text: None, repeated=checked.repeated):
            if step is not None:
                digest.add(step)
                parameters = step["parameters"]
                paced = pace(parameters) if pace else None
                yield self.key(recipient(parameters)), parameters, paced
        if digest.hexdigest() != checked.digest:
            raise StepError(
                f"campaign {self.id!r}: the rows changed while they were read; nothing was "
                "sent. Run it again once the file is written"
            )

    def _steps(
        self, problem: Callable[[str], None], *, repeated: frozenset[int] | None = None
    ) -> Iterator[tuple[Row, dict[str, Any] | None]]:
        """Each row and its checked step (None for a row naming a recipient again); rows with
        problems are told to ``problem`` and left out. Given the ``repeated`` lines a check
        found, the rows are neither checked nor compared again (the digest of every step shows
        whether they changed), and memory holds none of their recipients."""
        check = repeated is None
        template = self.step.get("parameters", {})
        wanted = _row_references(template)
        unknown = sorted(wanted - set(self.columns))
        for name in unknown:
            problem(
                f"step: ${{row.{name}}} names no column of the CSV "
                f"(its columns: {', '.join(self.columns)})"
            )
        try:
            recipient_of = self.traffic.recipient
        except ComponentError as error:
            problem(f"step: {error}")
            return
        if unknown:
            return
        step_type = self.step.get("type")
        seen: set[str] = set()
        for row in self.rows:
            missing = [c for c in wanted if row.values.get(c) is None]
            if missing:
                problem(
                    f"line {row.line}: column {', '.join(map(repr, missing))} is missing "
                    "(the row has fewer values than the header)"
                )
                continue
            parameters = resolve(template, {"row": row.values})
            if self.default_region is not None and check:
                wrong = self._in_e164(parameters)
                if wrong is not None:
                    problem(f"line {row.line}: {wrong}")
                    continue
            elif self.default_region is not None:
                self._in_e164(parameters)
            if self.send_window is not None and check:
                timeless = self._timeless(parameters)
                if timeless is not None:
                    problem(f"line {row.line}: {timeless}")
                    continue
            step = {"type": step_type, "parameters": parameters}
            found = self.host.check_step(step) if check else ()
            if found:
                for p in found:
                    problem(f"line {row.line}: {p}")
                continue
            if repeated is not None:
                yield row, None if row.line in repeated else step
                continue
            recipient = recipient_of(parameters)
            if recipient in seen:
                yield row, None
                continue
            seen.add(recipient)
            yield row, step

    def _in_e164(self, parameters: dict[str, Any]) -> str | None:
        """Put the recipient's number in E.164 (read as written in the default region); what
        is wrong with it, or None."""
        from twilio_component.phone_numbers import NumberError, to_e164

        name = self.traffic.address
        value = parameters.get(name) if name else None
        if name is None or not isinstance(value, str):
            return None
        assert self.default_region is not None
        try:
            parameters[name] = to_e164(value, self.default_region)
        except NumberError as error:
            return f"{name}: {value!r} {error}"
        return None

    def _timeless(self, parameters: Mapping[str, Any]) -> str | None:
        """What keeps the send window from applying to this row's recipient (a number with no
        time zone and no fallback), or None."""
        assert self.send_window is not None
        name = self.traffic.address
        value = parameters.get(name) if name else None
        if not isinstance(value, str) or self.send_window.zones_of(value):
            return None
        return (
            f"{name}: {value!r} has no time zone libphonenumber knows, so the send window "
            "cannot be told; give --timezone for such numbers"
        )

    def zones_of(self, parameters: Mapping[str, Any]) -> tuple[str, ...]:
        """The time zones of a step's recipient, for the send window."""
        name = self.traffic.address
        value = parameters.get(name) if name else None
        if self.send_window is None or not isinstance(value, str):
            return ()
        return self.send_window.zones_of(value)


class _Digest:
    """A SHA-256 of a list of steps as canonical JSON, fed one step at a time (the same as
    ``_digest`` of the whole list)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256(b"[")
        self._first = True

    def add(self, step: Any) -> None:
        if not self._first:
            self._hash.update(b", ")
        self._first = False
        text = json.dumps(step, sort_keys=True, ensure_ascii=False, default=str)
        self._hash.update(text.encode("utf-8", "surrogatepass"))

    def hexdigest(self) -> str:
        done = self._hash.copy()
        done.update(b"]")
        return done.hexdigest()


def _digest(value: Any) -> str:
    """A SHA-256 of ``value`` as canonical JSON."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _row_references(value: Any) -> set[str]:
    """The columns ``${row.COLUMN}`` references in a step's parameters name."""
    return {ref.split(".", 1)[1] for ref in references(value) if ref.startswith("row.")}
