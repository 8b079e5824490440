"""The one session factory, for SQLite (embedded default) and PostgreSQL.

Writes run in a *write session*: on SQLite it opens with `BEGIN IMMEDIATE`, so that two writers
serialise on the database lock before reading anything they will change; on PostgreSQL the
services lock the rows they change with `SELECT … FOR UPDATE` in a fixed order.

Reads come in two kinds. `read()` runs each statement on its own (autocommit): no BEGIN and
ROLLBACK round trips, which suits single queries and the log's append-only tables. `snapshot()`
is one read-only transaction that sees a single point in time, for readers that must compare
tables with each other (the audit).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file but not its folder (`var/` on a fresh checkout)."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: str, begin: str) -> Engine:
    ensure_sqlite_directory(url)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    if begin:  # without BEGIN, sqlite3 runs each statement in autocommit mode

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql(begin)

    return engine


class CommandSession(Session):
    """A write command's session: every row it loads stays loaded until the command ends.
    SQLAlchemy's identity map holds rows weakly, so a row a command reads, lets go of and names
    again by key (a party, an account, a product: `session.get`) would be read again, one more
    round trip while the command may hold a lock that others wait for (a product's matching)."""


@event.listens_for(CommandSession, "loaded_as_persistent")
def _keep_loaded(session: Session, instance: object) -> None:
    session.info.setdefault("loaded", []).append(instance)


class Database:
    """Engines and sessions for one database URL. Errors never print bound parameters
    (`hide_parameters`): they can be key hashes, names or personal data."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(url, "BEGIN IMMEDIATE")
            self.snapshot_engine = _sqlite_engine(url, "BEGIN")  # a WAL read transaction is a snapshot
            self.read_engine = _sqlite_engine(url, "")
        else:
            # As many connections as the API's worker threads, kept open: a connection per request
            # costs more than the request. Stale ones are replaced after an hour.
            self.write_engine = create_engine(url, pool_size=pool_size, max_overflow=0, pool_recycle=3600,
                                              hide_parameters=True)
            self.read_engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")
            self.snapshot_engine = self.write_engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction for one command: committed on success, rolled back on any error."""
        with CommandSession(self.write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.read_engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        with Session(self.snapshot_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        if self.is_sqlite:
            self.read_engine.dispose()
            self.snapshot_engine.dispose()
        self.write_engine.dispose()  # on PostgreSQL the read engines share its pool


# --- PostgreSQL's bulk path ------------------------------------------------------------------------

# From this many rows a batch goes to PostgreSQL by COPY: several times faster than INSERTs, however
# batched. SQLite, and smaller batches, keep the portable INSERT (the same tests run on both).
COPY_FROM_ROWS = 100


def copies(connection: Connection, rows: int) -> bool:
    return connection.dialect.name == "postgresql" and rows >= COPY_FROM_ROWS


def next_ids(connection: Connection, table: str, count: int) -> list[int]:
    """`count` new ids from the table's own sequence, ascending: rows written by COPY take them."""
    return sorted(connection.exec_driver_sql(
        "SELECT nextval(pg_get_serial_sequence(%(table)s, 'id')) FROM generate_series(1, %(count)s)",
        {"table": table, "count": count}).scalars())


def copy_rows(connection: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows into a table, in the connection's transaction (PostgreSQL; the caller checks `copies`)."""
    driver = connection.connection.driver_connection
    assert driver is not None  # the connection is checked out, inside the caller's transaction
    with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
