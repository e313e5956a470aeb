"""The journal: one durable record per keyed step, so a step is sent at most once across crashes.

States of a record::

    claimed (owner, lease) ──► sent (output)                 the service answered: done
        │   attempt marked ├─► failed (code, message)        the service refused: done
        │   before sending └─► unknown (what happened)       may have been received
        ├─ never attempted, owner gone ──► claimed again     nothing left: safe to send
        └─ attempted, owner gone ──► reconcile: sent | pending (certainly absent) | held

The attempt is committed durably before the request leaves, so after a crash (even between
the service's answer and the commit of ``sent``) the record says a request may have left, and
the next claim reconciles it against the service's log instead of sending again. ``held`` is
ambiguous and stays so until a person decides. The same key with other parameters (another
fingerprint) is refused.

The state machine is written once, over a ``Database``: SQLite (``journal.sqlite``) or
PostgreSQL (``journal.postgres``), each a dialect with its own connections, placeholder and
transient errors. The journal is also an EventLedger: trigger events claimed here are not run
again after a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from twilio_component.errors import JournalUnavailableError
from twilio_component.journal import optouts, plans

if TYPE_CHECKING:
    from twilio_component.journal.deferred import Deferred

__all__ = [
    "Claim",
    "Cursor",
    "Database",
    "Journal",
    "Record",
    "fingerprint",
    "new_owner",
]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS steps (
        key TEXT PRIMARY KEY,
        step_type TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        owner TEXT,
        lease_until DOUBLE PRECISION,
        attempted_at DOUBLE PRECISION,
        parameters TEXT NOT NULL,
        output TEXT,
        error_code INTEGER,
        error TEXT,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS events (identity TEXT PRIMARY KEY, seen_at DOUBLE PRECISION)",
    "CREATE TABLE IF NOT EXISTS sequences (sequence TEXT PRIMARY KEY, rank INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS notes (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_COLUMNS = (
    "key, step_type, fingerprint, state, owner, lease_until, attempted_at, parameters, output, "
    "error_code, error, updated_at"
)
#: Final states of steps never sent: the recipient opted out, or cannot receive a text.
_SKIPPED = ("opted_out", "skipped_landline")
#: How long a claim holds a key (longer than the longest send: timeouts plus retries).
DEFAULT_LEASE = 180.0

State = Literal[
    "claimed", "sent", "failed", "unknown", "held", "pending", "opted_out", "deferred",
    "skipped_landline",
]  # fmt: skip
ClaimKind = Literal["new", "done", "conflict", "busy", "reconcile", "held"]


def fingerprint(step_type: str, parameters: Mapping[str, Any]) -> str:
    """The SHA-256 of a step's type and parameters (canonical JSON)."""
    text = json.dumps([step_type, parameters], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_owner() -> str:
    """Who claims: this machine, this process, and a random part (``host/pid/xxxxxxxx``)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def owner_alive(owner: str | None) -> bool:
    """Whether a claim's owner may still be running (unknown machines are taken as alive)."""
    if not owner:
        return False
    host, _, rest = owner.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class Record:
    """One keyed step as the journal holds it."""

    key: str
    step_type: str
    fingerprint: str
    state: State
    owner: str | None
    lease_until: float | None
    attempted_at: float | None
    parameters: dict[str, Any]
    output: dict[str, Any] | None
    error_code: int | None
    error: str | None
    updated_at: float

    @property
    def unsettled(self) -> bool:
        """Whether the step may still be sent: pending, claimed or of unknown outcome."""
        return self.state in ("pending", "claimed", "unknown")

    @classmethod
    def of(cls, row: Sequence[Any]) -> Record:
        """A record from a row in ``_COLUMNS`` order."""
        return cls(
            key=row[0],
            step_type=row[1],
            fingerprint=row[2],
            state=row[3],
            owner=row[4],
            lease_until=row[5],
            attempted_at=row[6],
            parameters=json.loads(row[7]),
            output=json.loads(row[8]) if row[8] is not None else None,
            error_code=row[9],
            error=row[10],
            updated_at=row[11],
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """What claiming a key found: ``new`` (send it), ``done`` (recorded outcome), ``conflict``
    (the key holds other parameters), ``busy`` (another owner holds a live claim),
    ``reconcile`` (a request may have left: look before sending) or ``held``."""

    kind: ClaimKind
    record: Record


class Database(Protocol):
    """Where a journal keeps its records: one SQL dialect, its connections and its errors.

    ``placeholder`` is how its SQL marks a bound value (``?``, ``%s``); ``errors`` is what it
    raises when it cannot read or write, ``transient`` those of them that pass by themselves
    soon (a server restarting).
    """

    placeholder: str
    #: Everything it raises when reading or writing fails (a full disk, a lost server...).
    errors: tuple[type[BaseException], ...]
    transient: tuple[type[BaseException], ...]
    #: Where the records are, as shown to people (never a password).
    where: str

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[Cursor]:
        """A write transaction, one writer at a time, committed when the block ends: on disk
        before it returns when ``durable``, else soon after (a crash of the machine, or of
        the database server, may lose it; the next durable commit keeps it too)."""

    def read(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read, outside any write transaction."""

    def close(self) -> None:
        """Close its connections."""


class Cursor(Protocol):
    """What a write transaction executes statements on."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        """Run one statement; the result has ``fetchone`` and ``rowcount``."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> Any:
        """Run one statement once per row."""


class _Statements:
    """The journal's SQL, written once for a dialect's placeholder."""

    def __init__(self, p: str) -> None:
        self.get = f"SELECT {_COLUMNS} FROM steps WHERE key = {p}"
        self.insert = (
            f"INSERT INTO steps ({_COLUMNS}) VALUES ({p}, {p}, {p}, 'claimed', {p}, {p}, {p}, "
            f"{p}, NULL, NULL, NULL, {p})"
        )
        self.reclaim = (
            f"UPDATE steps SET state = 'claimed', owner = {p}, lease_until = {p}, "
            f"updated_at = {p}, attempted_at = CASE WHEN {p} THEN {p} ELSE attempted_at END "
            f"WHERE key = {p}"
        )
        self.update = f"UPDATE steps SET {{}}, updated_at = {p} WHERE key = {p} AND owner = {p}"
        self.records = f"SELECT {_COLUMNS} FROM steps WHERE key LIKE {p} ESCAPE '\\' ORDER BY key"
        self.counts = (
            f"SELECT state, COUNT(*) FROM steps WHERE key LIKE {p} ESCAPE '\\' GROUP BY state"
        )
        self.note = (
            f"INSERT INTO notes (name, value) VALUES ({p}, {p}) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        )
        self.noted = f"SELECT value FROM notes WHERE name = {p}"
        self.event_seen = "SELECT 1 FROM events WHERE identity IN ({})"
        self.event_insert = f"INSERT INTO events (identity, seen_at) VALUES ({p}, {p})"
        self.rank = f"SELECT rank FROM sequences WHERE sequence = {p}"
        self.advance = (
            f"INSERT INTO sequences (sequence, rank) VALUES ({p}, {p}) "
            "ON CONFLICT (sequence) DO UPDATE SET rank = excluded.rank"
        )
        self.p = p


class Journal:
    """Keyed steps' records and trigger events in a database; thread-safe, and several
    processes (with PostgreSQL, several machines) may share it.

    ``Journal(path)`` keeps them in an SQLite file; ``Journal(database)`` in any Database
    (``open_journal`` picks one from a path or a ``postgresql://`` URL).
    """

    def __init__(
        self, target: str | os.PathLike[str] | Database, *, lease: float = DEFAULT_LEASE
    ) -> None:
        if isinstance(target, str | os.PathLike):
            from twilio_component.journal.sqlite import SQLiteDatabase

            target = SQLiteDatabase(target)
        self.database: Database = target
        self.lease = lease
        #: What the journal raises while it cannot be reached for a moment: a write that
        #: failed so may be tried again.
        self.transient = target.transient
        #: Everything the journal raises when it cannot read or write.
        self.errors = target.errors
        self._sql = _Statements(target.placeholder)
        try:
            with self.database.transaction() as db:
                for statement in (*SCHEMA, *plans.SCHEMA, *optouts.SCHEMA):
                    db.execute(statement)
        except target.errors as error:
            self.database.close()
            raise JournalUnavailableError(target.where, str(error).splitlines()[0]) from None
        except BaseException:
            self.database.close()
            raise

    @property
    def plans(self) -> plans.Plans:
        """The campaigns' plans kept in this journal, as rows."""
        return plans.Plans(self)

    @property
    def optouts(self) -> optouts.OptOuts:
        """Who asked not to be sent to, by sender."""
        return optouts.OptOuts(self)

    @property
    def path(self) -> str:
        """Where the records are (a file, or a server's host and database; no password)."""
        return self.database.where

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def close(self) -> None:
        """Close the database's connections."""
        self.database.close()

    # -- keyed steps ------------------------------------------------------------------------

    def claim(self, key: str, step_type: str, parameters: Mapping[str, Any], owner: str) -> Claim:
        """Claim ``key`` for ``owner``, atomically; see Claim for what can come back."""
        return self.claim_many([(key, step_type, parameters)], owner)[0]

    def claim_many(
        self,
        steps: Sequence[tuple[str, str, Mapping[str, Any]]],
        owner: str,
        *,
        settle: Deferred | None = None,
    ) -> list[Claim]:
        """Claim each ``(key, step type, parameters)`` for ``owner`` in one durable commit (a
        campaign claims the rows whose turn has come together), after writing the outcomes
        ``settle`` holds back; a Claim for each, in order."""
        now = time.time()
        with self.database.transaction() as db, _settling(settle, db):
            return [self._claim(db, step, owner, now) for step in steps]

    def settle(self, deferred: Deferred) -> None:
        """Write the outcomes ``deferred`` holds back (in one commit; kept there on failure)."""
        with self.database.transaction(durable=False) as db, _settling(deferred, db):
            pass

    def _claim(
        self, db: Cursor, step: tuple[str, str, Mapping[str, Any]], owner: str, now: float
    ) -> Claim:
        sql = self._sql
        key, step_type, parameters = step
        wanted = fingerprint(step_type, parameters)
        row = db.execute(sql.get, (key,)).fetchone()
        if row is None:
            # A new claim is its attempt mark too (one durable commit fewer per step): the
            # request leaves right after, and a crash before it only costs a lookup.
            lease = now + self.lease
            db.execute(
                sql.insert, (key, step_type, wanted, owner, lease, now, _json(parameters), now)
            )
            record = Record(
                key, step_type, wanted, "claimed", owner, lease, now, dict(parameters),
                None, None, None, now,
            )  # fmt: skip
            return Claim("new", record)
        record = Record.of(row)
        if record.fingerprint != wanted:
            return Claim("conflict", record)
        if record.state in ("sent", "failed", "opted_out", "skipped_landline"):
            return Claim("done", record)
        if record.state == "held":
            return Claim("held", record)
        live = (
            record.state == "claimed"
            and record.owner != owner
            and (record.lease_until or 0) > now
            and owner_alive(record.owner)
        )
        if live:
            return Claim("busy", record)
        fresh = record.state == "pending" or record.attempted_at is None
        db.execute(sql.reclaim, (owner, now + self.lease, now, fresh, now, key))
        return Claim(
            "new" if fresh else "reconcile", Record.of(db.execute(sql.get, (key,)).fetchone())
        )

    def mark_attempt(self, key: str, owner: str) -> float:
        """Record, durably, that the request is about to leave; return that time."""
        now = time.time()
        p = self._sql.p
        assignments = f"attempted_at = {p}, lease_until = {p}"
        self._update(key, owner, assignments, (now, now + self.lease), durable=True)
        return now

    def sent(self, key: str, owner: str, output: Mapping[str, Any]) -> None:
        """Record the step's output: done."""
        self._update(key, owner, *self.outcome("sent", _json(output)))

    def failed(self, key: str, owner: str, code: int | None, message: str) -> None:
        """Record the service's refusal: done, never sent again."""
        self._update(key, owner, *self.outcome("failed", code, message))

    def unknown(self, key: str, owner: str, message: str) -> None:
        """Record that the request may have been received; the next claim reconciles it."""
        self._update(key, owner, *self.outcome("unknown", message))

    def held(self, key: str, owner: str, message: str) -> None:
        """Record an ambiguity a person must resolve; the key is not sent again."""
        self._update(key, owner, *self.outcome("held", message))

    def release(self, key: str, owner: str) -> None:
        """Give the key back as never sent (the request certainly did not leave)."""
        self._update(key, owner, *self.outcome("pending"))

    def outcome(self, state: str, *values: Any) -> tuple[str, tuple[Any, ...]]:
        """The assignments that record an outcome (``sent`` output JSON; ``failed`` code and
        message; ``unknown`` or ``held`` message; ``pending``), and their values."""
        p = self._sql.p
        assignments = {
            "sent": f"state = 'sent', output = {p}, owner = NULL",
            "failed": f"state = 'failed', error_code = {p}, error = {p}, owner = NULL",
            "unknown": f"state = 'unknown', error = {p}, owner = NULL",
            "held": f"state = 'held', error = {p}, owner = NULL",
            **{skip: f"state = '{skip}', error = {p}, owner = NULL" for skip in _SKIPPED},
            "pending": "state = 'pending', attempted_at = NULL, owner = NULL, lease_until = NULL",
            "deferred": "state = 'deferred', attempted_at = NULL, owner = NULL, lease_until = NULL",
        }
        return assignments[state], values

    def write_outcome(
        self, db: Cursor, key: str, owner: str, assignments: str, values: tuple[Any, ...]
    ) -> bool:
        """Record an outcome inside a transaction; False when ``owner`` no longer holds the
        claim (it expired and another took it: that one records what it finds)."""
        done = db.execute(self._sql.update.format(assignments), (*values, time.time(), key, owner))
        return bool(done.rowcount == 1)

    def _update(
        self,
        key: str,
        owner: str,
        assignments: str,
        values: tuple[Any, ...],
        *,
        durable: bool = False,
    ) -> None:
        # An outcome needs no disk flush of its own: if a crash loses it, the claim's attempt
        # mark (durable) makes the next claim look the step up, so nothing is sent twice.
        with self.database.transaction(durable=durable) as db:
            if not self.write_outcome(db, key, owner, assignments, values):
                raise RuntimeError(f"journal: {owner} no longer holds the claim on {key!r}")

    def get(self, key: str) -> Record | None:
        """The record of ``key``, if any."""
        rows = self.database.read(self._sql.get, (key,))
        return Record.of(rows[0]) if rows else None

    def records(self, prefix: str) -> list[Record]:
        """Every record whose key starts with ``prefix``, in key order."""
        return [Record.of(row) for row in self.database.read(self._sql.records, (_like(prefix),))]

    def counts(self, prefix: str) -> dict[str, int]:
        """How many records whose key starts with ``prefix`` are in each state."""
        rows = self.database.read(self._sql.counts, (_like(prefix),))
        return {str(state): int(count) for state, count in rows}

    def note(self, name: str, value: Mapping[str, Any]) -> None:
        """Keep a small JSON object under ``name`` (e.g. a campaign's size), replacing any."""
        with self.database.transaction() as db:
            db.execute(self._sql.note, (name, _json(value)))

    def noted(self, name: str) -> dict[str, Any] | None:
        """The object kept under ``name``, if any."""
        rows = self.database.read(self._sql.noted, (name,))
        return json.loads(rows[0][0]) if rows else None

    # -- trigger events (EventLedger) ---------------------------------------------------------

    def claim_event(self, identities: Sequence[str]) -> bool:
        """True, remembering every identity, when none was seen before (across restarts)."""
        sql = self._sql
        with self.database.transaction() as db:
            marks = ",".join([sql.p] * len(identities))
            seen = db.execute(sql.event_seen.format(marks), tuple(identities)).fetchone()
            if seen is not None:
                return False
            now = time.time()
            db.executemany(sql.event_insert, [(identity, now) for identity in identities])
            return True

    def advance(self, sequence: str, rank: int) -> bool:
        """True, remembering ``rank``, when it is above the highest seen for ``sequence``."""
        with self.database.transaction() as db:
            row = db.execute(self._sql.rank, (sequence,)).fetchone()
            if row is not None and rank <= row[0]:
                return False
            db.execute(self._sql.advance, (sequence, rank))
            return True


@contextmanager
def _settling(deferred: Deferred | None, db: Cursor) -> Iterator[None]:
    """Write what ``deferred`` holds inside the transaction; put it back if the block fails."""
    if deferred is None:
        yield
        return
    taken = deferred.write(db)
    try:
        yield
    except BaseException:
        deferred.put_back(taken)
        raise


def _like(prefix: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching every key that starts with ``prefix``."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
