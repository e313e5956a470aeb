"""The journal on PostgreSQL: the same records, claims and queries as on SQLite, shared by many
machines; writers take one advisory lock per transaction, as SQLite's single writer does.

Connections come from a pool (``psycopg_pool``): each thread's transaction or read runs on a
connection of its own, so one thread waiting inside the database does not hold up another's
read. Every connection is checked as it leaves the pool; after a server restart the broken ones
are all replaced (a transaction or read that still meets one is retried once, before anything
was written)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from twilio_component.errors import ComponentError
from twilio_component.journal.store import DEFAULT_LEASE, Journal
from twilio_component.journal.targets import shown

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresDatabase", "PostgresJournal"]

#: The advisory lock every journal write holds (an arbitrary constant: "twjr").
WRITE_LOCK = 0x74776A72
#: Connections a journal keeps at most (one per thread inside the database at once).
DEFAULT_POOL_SIZE = 10
#: Seconds to wait for the server when the journal opens.
CONNECT_TIMEOUT = 10
#: What the journal's connections call themselves (``pg_stat_activity.application_name``).
APPLICATION_NAME = "twilio-component journal"
_INSTALL = "pip install 'twilio-component[postgres]'"


class _Transaction:
    """One pooled connection inside a write transaction."""

    def __init__(self, connection: Connection[Any]) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        return self._connection.execute(sql, tuple(parameters))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._connection.cursor() as cursor:
            cursor.executemany(sql, [tuple(r) for r in rows])


class PostgresDatabase:
    """The journal's PostgreSQL dialect: a pool of psycopg connections to one database."""

    placeholder = "%s"

    def __init__(self, url: str, pool_size: int) -> None:
        try:
            import psycopg
        except ImportError:
            raise ComponentError(f"a postgresql:// journal needs psycopg: {_INSTALL}") from None
        try:
            from psycopg_pool import ConnectionPool, PoolTimeout
        except ImportError:
            raise ComponentError(
                f"a postgresql:// journal needs psycopg_pool: {_INSTALL}"
            ) from None
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size}")
        self._psycopg = psycopg
        self.where = shown(url)  # never the password
        self.errors: tuple[type[BaseException], ...] = (psycopg.Error, PoolTimeout)
        self.transient: tuple[type[BaseException], ...] = (psycopg.OperationalError, PoolTimeout)
        options: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": CONNECT_TIMEOUT,
            "application_name": APPLICATION_NAME,
        }
        # The pool's own failure after its timeout says nothing of why: one plain connection
        # first gives the server's reason at once (refused, unknown host, bad database...).
        try:
            psycopg.connect(url, **options).close()
        except psycopg.OperationalError as error:
            raise ComponentError(
                f"the journal at {self.where} cannot be reached: {_masked(str(error), url)}"
            ) from None
        except psycopg.Error as error:  # the URL itself is not one libpq takes
            raise ComponentError(
                f"the journal at {self.where} is not a URL PostgreSQL takes: "
                f"{_masked(str(error), url)}"
            ) from None
        self._pool: ConnectionPool[Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs=options,
            check=self._check,
            open=False,
            name=f"journal {self.where}",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except PoolTimeout:
            self._pool.close()
            raise ComponentError(
                f"the journal at {self.where} cannot be reached: no connection after "
                f"{CONNECT_TIMEOUT} s"
            ) from None

    def _check(self, connection: Connection[Any]) -> None:
        """The pool's check of a connection it hands out; a broken one means the server went
        away: test every idle connection now (replacing the broken ones) rather than meeting
        them one by one, the pool pausing longer after each (0, 1, 2, 4... s: with ten broken
        connections a thread would give up before the last)."""
        from psycopg_pool import ConnectionPool

        try:
            ConnectionPool.check_connection(connection)
        except self._psycopg.Error:
            self._pool.check()
            raise

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[_Transaction]:
        """A transaction holding the write lock, on a connection of its own; if the connection
        fails before the lock is held (the server left), once more on a fresh one. A failure
        after that is never retried here: the caller cannot know what was committed. Every
        commit is durable: one the server acknowledged must outlive the server's own crash
        (with ``synchronous_commit`` off it might not), or a row would wait for a resume."""
        connection = self._begin()
        try:
            try:
                yield _Transaction(connection)
            except BaseException:
                with suppress(self._psycopg.Error):
                    connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            self._pool.putconn(connection)

    def _begin(self) -> Connection[Any]:
        for attempt in (1, 2):
            connection = self._pool.getconn()
            try:
                connection.execute("BEGIN")
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            except self._psycopg.OperationalError:
                self._pool.putconn(connection)  # a broken one is discarded, not pooled
                if attempt == 2:
                    raise
                self._pool.check()
            else:
                return connection
        raise AssertionError("unreachable")

    def read(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        """A read outside any transaction, on a connection of its own, once more on a fresh one
        if the server left; its rows are fetched before the connection goes back."""
        for attempt in (1, 2):
            connection = self._pool.getconn()
            try:
                cursor = connection.execute(sql, tuple(parameters))
                return cursor.fetchall() if cursor.description is not None else []
            except self._psycopg.OperationalError:
                if attempt == 2:
                    raise
            finally:
                self._pool.putconn(connection)
            self._pool.check()
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every connection of the pool."""
        self._pool.close()


class PostgresJournal(Journal):
    """A journal in a PostgreSQL database (``postgresql://user@host/db``); thread-safe, and any
    number of processes and machines may share it. Up to ``pool_size`` of its threads are in the
    database at once, each on a connection of its own; writers still take turns (one advisory
    lock per write transaction), readers do not wait for them."""

    def __init__(
        self, url: str, *, lease: float = DEFAULT_LEASE, pool_size: int = DEFAULT_POOL_SIZE
    ) -> None:
        super().__init__(PostgresDatabase(url, pool_size), lease=lease)


def _masked(text: str, url: str) -> str:
    """``text`` (a driver's message) without the URL's password, wherever it repeats it."""
    password = urlsplit(url).password
    return text.replace(password, "********") if password else text
