"""The journal's SQLite dialect: one file, WAL, every commit on disk, one writer at a time."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from twilio_component.errors import JournalUnavailableError

__all__ = ["SQLiteDatabase"]


class SQLiteDatabase:
    """An SQLite file (standard library) in WAL mode, one writer at a time (``BEGIN
    IMMEDIATE``), safe across threads and processes. A durable commit is on disk when it
    returns (``synchronous=FULL``); another one survives this process being killed and reaches
    the disk with the next durable commit or checkpoint (``synchronous=NORMAL``)."""

    placeholder = "?"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    #: None: a locked file is already waited for (30 s), and a full disk does not pass by itself.
    transient: tuple[type[BaseException], ...] = ()

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.where = os.fspath(path)
        self._lock = threading.RLock()
        try:  # a folder SQLite cannot make its file in fails here, not at the flag's check
            self._db = sqlite3.connect(
                self.where, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise JournalUnavailableError(self.where, str(error)) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._durable = True
        except sqlite3.Error as error:
            self._db.close()
            raise JournalUnavailableError(self.where, str(error)) from None

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction on the one connection, under this process's lock."""
        with self._lock:
            if durable != self._durable:  # only between transactions
                self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                self._durable = durable
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def read(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read."""
        with self._lock:
            return self._db.execute(sql, tuple(parameters)).fetchall()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
