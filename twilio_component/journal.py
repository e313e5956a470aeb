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

SQLite (standard library), WAL and ``synchronous=FULL`` (every commit on disk), one writer at a
time (``BEGIN IMMEDIATE``), safe across threads and processes. The SQL is plain enough to run on
PostgreSQL too. The journal is also an EventLedger: trigger events claimed here are not run
again after a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Claim", "Journal", "Record", "fingerprint", "new_owner", "open_journal"]

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
#: How long a claim holds a key (longer than the longest send: timeouts plus retries).
DEFAULT_LEASE = 180.0

State = Literal["claimed", "sent", "failed", "unknown", "held", "pending"]
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


class Journal:
    """An SQLite journal file; thread-safe, and several processes may share the file."""

    #: What the journal raises while it cannot be reached for a moment (a locked file, a
    #: server restarting): a write that failed so may be tried again.
    transient: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)

    def __init__(self, path: str | os.PathLike[str], *, lease: float = DEFAULT_LEASE) -> None:
        self.path = os.fspath(path)
        self.lease = lease
        self._lock = threading.RLock()
        self._db: Any = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._transaction() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- keyed steps ------------------------------------------------------------------------

    def claim(self, key: str, step_type: str, parameters: Mapping[str, Any], owner: str) -> Claim:
        """Claim ``key`` for ``owner``, atomically; see Claim for what can come back."""
        wanted = fingerprint(step_type, parameters)
        now = time.time()
        with self._transaction() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM steps WHERE key = ?", (key,)).fetchone()
            if row is None:
                # A new claim is its attempt mark too (one durable commit fewer per step): the
                # request leaves right after, and a crash before it only costs a lookup.
                db.execute(
                    f"INSERT INTO steps ({_COLUMNS}) VALUES (?, ?, ?, 'claimed', ?, ?, ?, ?, "
                    "NULL, NULL, NULL, ?)",
                    (key, step_type, wanted, owner, now + self.lease, now, _json(parameters), now),
                )
                return Claim("new", self._get(db, key))
            record = Record.of(row)
            if record.fingerprint != wanted:
                return Claim("conflict", record)
            if record.state in ("sent", "failed"):
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
            db.execute(
                "UPDATE steps SET state = 'claimed', owner = ?, lease_until = ?, updated_at = ?, "
                "attempted_at = CASE WHEN ? THEN ? ELSE attempted_at END WHERE key = ?",
                (owner, now + self.lease, now, fresh, now, key),
            )
            return Claim("new" if fresh else "reconcile", self._get(db, key))

    def mark_attempt(self, key: str, owner: str) -> float:
        """Record, durably, that the request is about to leave; return that time."""
        now = time.time()
        self._update(key, owner, "attempted_at = ?, lease_until = ?", (now, now + self.lease))
        return now

    def sent(self, key: str, owner: str, output: Mapping[str, Any]) -> None:
        """Record the step's output: done."""
        self._update(key, owner, "state = 'sent', output = ?, owner = NULL", (_json(output),))

    def failed(self, key: str, owner: str, code: int | None, message: str) -> None:
        """Record the service's refusal: done, never sent again."""
        self._update(
            key, owner, "state = 'failed', error_code = ?, error = ?, owner = NULL", (code, message)
        )

    def unknown(self, key: str, owner: str, message: str) -> None:
        """Record that the request may have been received; the next claim reconciles it."""
        self._update(key, owner, "state = 'unknown', error = ?, owner = NULL", (message,))

    def held(self, key: str, owner: str, message: str) -> None:
        """Record an ambiguity a person must resolve; the key is not sent again."""
        self._update(key, owner, "state = 'held', error = ?, owner = NULL", (message,))

    def release(self, key: str, owner: str) -> None:
        """Give the key back as never sent (the request certainly did not leave)."""
        self._update(
            key,
            owner,
            "state = 'pending', attempted_at = NULL, owner = NULL, lease_until = NULL",
            (),
        )

    def _update(self, key: str, owner: str, assignments: str, values: tuple[Any, ...]) -> None:
        with self._transaction() as db:
            done = db.execute(
                f"UPDATE steps SET {assignments}, updated_at = ? WHERE key = ? AND owner = ?",
                (*values, time.time(), key, owner),
            )
            if done.rowcount != 1:
                raise RuntimeError(f"journal: {owner} no longer holds the claim on {key!r}")

    def get(self, key: str) -> Record | None:
        """The record of ``key``, if any."""
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM steps WHERE key = ?", (key,)).fetchone()
        return Record.of(row) if row is not None else None

    def _get(self, db: Any, key: str) -> Record:
        return Record.of(
            db.execute(f"SELECT {_COLUMNS} FROM steps WHERE key = ?", (key,)).fetchone()
        )

    def records(self, prefix: str) -> list[Record]:
        """Every record whose key starts with ``prefix``, in key order."""
        pattern = _like(prefix)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM steps WHERE key LIKE ? ESCAPE '\\' ORDER BY key",
                (pattern,),
            ).fetchall()
        return [Record.of(row) for row in rows]

    def counts(self, prefix: str) -> dict[str, int]:
        """How many records whose key starts with ``prefix`` are in each state."""
        pattern = _like(prefix)
        with self._lock:
            rows = self._db.execute(
                "SELECT state, COUNT(*) FROM steps WHERE key LIKE ? ESCAPE '\\' GROUP BY state",
                (pattern,),
            ).fetchall()
        return {str(state): int(count) for state, count in rows}

    def note(self, name: str, value: Mapping[str, Any]) -> None:
        """Keep a small JSON object under ``name`` (e.g. a campaign's size), replacing any."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO notes (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, _json(value)),
            )

    def noted(self, name: str) -> dict[str, Any] | None:
        """The object kept under ``name``, if any."""
        with self._lock:
            row = self._db.execute("SELECT value FROM notes WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row is not None else None

    # -- trigger events (EventLedger) ---------------------------------------------------------

    def claim_event(self, identities: Sequence[str]) -> bool:
        """True, remembering every identity, when none was seen before (across restarts)."""
        with self._transaction() as db:
            marks = ",".join("?" * len(identities))
            seen = db.execute(
                f"SELECT 1 FROM events WHERE identity IN ({marks})", tuple(identities)
            ).fetchone()
            if seen is not None:
                return False
            now = time.time()
            db.executemany(
                "INSERT INTO events (identity, seen_at) VALUES (?, ?)",
                [(identity, now) for identity in identities],
            )
            return True

    def advance(self, sequence: str, rank: int) -> bool:
        """True, remembering ``rank``, when it is above the highest seen for ``sequence``."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT rank FROM sequences WHERE sequence = ?", (sequence,)
            ).fetchone()
            if row is not None and rank <= row[0]:
                return False
            db.execute(
                "INSERT INTO sequences (sequence, rank) VALUES (?, ?) "
                "ON CONFLICT (sequence) DO UPDATE SET rank = excluded.rank",
                (sequence, rank),
            )
            return True


class JournalLedger:
    """A journal seen as an EventLedger (``claim`` of identities, ``advance`` of ranks)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def claim(self, identities: Sequence[str]) -> bool:
        """True when none of ``identities`` was seen, remembering them all."""
        return self.journal.claim_event(identities)

    def advance(self, sequence: str, rank: int) -> bool:
        """True when ``rank`` is above the highest seen for ``sequence``."""
        return self.journal.advance(sequence, rank)


def _like(prefix: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching every key that starts with ``prefix``."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def open_journal(target: str | os.PathLike[str]) -> Journal:
    """The journal at ``target``: a ``postgresql://`` URL (``pip install
    'twilio-component[postgres]'``) or an SQLite file path."""
    text = os.fspath(target)
    if text.startswith(("postgresql://", "postgres://")):
        from twilio_component.journal_pg import PostgresJournal

        return PostgresJournal(text)
    return Journal(text)
