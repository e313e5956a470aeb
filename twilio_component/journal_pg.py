"""The journal on PostgreSQL: the same records, claims and queries as on SQLite, shared by many
machines; writers take one advisory lock per transaction, as SQLite's single writer does."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from twilio_component.errors import ComponentError
from twilio_component.journal import DEFAULT_LEASE, SCHEMA, Journal

__all__ = ["PostgresJournal"]

#: The advisory lock every journal write holds (an arbitrary constant: "twjr").
WRITE_LOCK = 0x74776A72


class _Database:
    """A psycopg connection with the SQLite module's calls (``?`` placeholders), reconnecting
    when the server went away between transactions (a restart, a failover)."""

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise ComponentError(
                "a postgresql:// journal needs psycopg: pip install 'twilio-component[postgres]'"
            ) from None
        self._psycopg = psycopg
        self.url = url
        self._connection = self._connect()

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self._psycopg.OperationalError as error:
            where = self.url.rsplit("@", maxsplit=1)[-1]  # never the password
            raise ComponentError(f"the journal at {where} cannot be reached: {error}") from None

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        return self._connection.execute(sql.replace("?", "%s"), tuple(parameters))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._connection.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])

    def begin(self) -> None:
        """Start a transaction holding the write lock; reconnect once if the server left."""
        for attempt in (1, 2):
            try:
                self._connection.execute("BEGIN")
                self._connection.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            except self._psycopg.OperationalError:
                if attempt == 2:
                    raise
                self._reconnect()
            else:
                return

    def _reconnect(self) -> None:
        with suppress(self._psycopg.Error):
            self._connection.close()
        self._connection = self._connect()

    def read(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        """A read outside any transaction, reconnecting once if the server left."""
        try:
            return self.execute(sql, parameters)
        except self._psycopg.OperationalError:
            self._reconnect()
            return self.execute(sql, parameters)

    def close(self) -> None:
        self._connection.close()


class PostgresJournal(Journal):
    """A journal in a PostgreSQL database (``postgresql://user@host/db``); thread-safe, and any
    number of processes and machines may share it."""

    def __init__(self, url: str, *, lease: float = DEFAULT_LEASE) -> None:
        self.path = url.rsplit("@", maxsplit=1)[-1]
        self.lease = lease
        self._lock = threading.RLock()
        self._pg = _Database(url)
        self._db = _Reads(self._pg)
        with self._transaction() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._pg.close()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            self._pg.begin()
            try:
                yield self._pg
            except BaseException:
                self._pg.execute("ROLLBACK")
                raise
            self._pg.execute("COMMIT")


class _Reads:
    """What the SQLite journal's reads call (``self._db.execute``), reconnecting as needed."""

    def __init__(self, database: _Database) -> None:
        self._database = database

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        return self._database.read(sql, parameters)
