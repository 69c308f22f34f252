"""One database and its engine: the connections, and the transaction rules every store relies on.

``writing()`` is a transaction that may write. On SQLite it takes the database's write lock when it begins
(``BEGIN IMMEDIATE``), so a transaction that reads, decides and writes never interleaves with another. On
PostgreSQL several processes write at once, so a store that must decide alone locks what it decides on: the
row (``SELECT ... FOR UPDATE``, which SQLite ignores), or a name (``lock``: an advisory lock held until the
transaction ends). Uniqueness (one case per key, one refund per order...) is the database's, through unique
indexes, whichever engine it is. ``reading()`` is a transaction that only reads and never waits for writers.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from bot.env_seconds import seconds_setting
from bot.storage.location import StorageError, sqlite_file

SQLITE_BUSY_SECONDS = 10  # how long a SQLite writer waits for the write lock before giving up
DATABASE_WAIT_SECONDS = 10.0  # how long a PostgreSQL that refuses connections is waited for
POOL_SETTINGS = {"PORTER_DATABASE_POOL_SIZE": 5, "PORTER_DATABASE_MAX_OVERFLOW": 15}  # per process


def _wait_seconds() -> float:
    return seconds_setting(os.environ, "PORTER_DATABASE_WAIT_SECONDS", DATABASE_WAIT_SECONDS, error=StorageError)


def _pool_setting(name: str) -> int:
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return POOL_SETTINGS[name]
    if not raw.isdigit():
        raise StorageError(f"{name}={raw!r} must be a whole number of connections")
    return int(raw)


def write_ahead_log(dbapi_connection: sqlite3.Connection) -> None:
    """WAL mode, so readers never wait for the writer. The file keeps it once set; setting it needs the file to
    itself and does not wait for it (processes opening a new file together), so it is retried here."""
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    while True:
        try:
            if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_engine(url: str, path: Path) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A connection per transaction, as sqlite3 gives it: nothing stays open between turns.
    engine = create_engine(
        url, future=True, poolclass=NullPool, hide_parameters=True, connect_args={"timeout": SQLITE_BUSY_SECONDS}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN from sqlite3: _begin below says which one
        write_ahead_log(dbapi_connection)
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        reading = connection.get_execution_options().get("porter_reading")
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


def _server_engine(url: str) -> Engine:
    return create_engine(
        url,
        future=True,
        hide_parameters=True,  # shoppers' data stays out of error messages
        pool_size=_pool_setting("PORTER_DATABASE_POOL_SIZE"),
        max_overflow=_pool_setting("PORTER_DATABASE_MAX_OVERFLOW"),
        pool_timeout=30,
        pool_pre_ping=True,
        pool_recycle=1800,  # survives a server restart
        # a vanished server (no refusal) noticed in about 10 s, not after TCP's two hours
        connect_args={
            "connect_timeout": 10,
            "application_name": "porter",
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": 10000,
        },
    )


def _lock_key(name: str) -> int:
    """A stable signed 64-bit number for an advisory lock's name."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


class Database:
    """A database URL with its engine; made once per URL and process (bot.storage.database)."""

    def __init__(self, url: str) -> None:
        self.url = url
        path = sqlite_file(url)
        self.engine = _sqlite_engine(url, path) if path else _server_engine(url)
        self.dialect = self.engine.dialect.name
        self._reader = self.engine.execution_options(porter_reading=True)

    def _connect(self, engine: Engine) -> Connection:
        """A connection; a PostgreSQL server that refuses one (restarting, failing over) is waited for up to
        ``PORTER_DATABASE_WAIT_SECONDS`` (default 10). Only connecting is tried again, never a transaction,
        so nothing is written twice."""
        deadline, pause = time.monotonic() + _wait_seconds(), 0.25
        while True:
            try:
                return engine.connect()
            except OperationalError:
                if self.dialect != "postgresql" or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A transaction that may write, committed when the block ends and rolled back on any error."""
        with self._connect(self.engine) as connection, connection.begin():
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self._connect(self._reader) as connection, connection.begin():
            yield connection

    def insert(self, table: Table):
        """INSERT with this dialect's ON CONFLICT clauses (``on_conflict_do_nothing``/``_do_update``)."""
        return (postgresql if self.dialect == "postgresql" else sqlite).insert(table)

    def lock(self, connection: Connection, name: str) -> None:
        """Waits until no other transaction holds ``name``, then holds it until this one ends. On SQLite the
        write lock of ``writing()`` already serialises every writer."""
        if self.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})

    def forget_connections(self) -> None:
        """In a forked child: the parent's pooled connections are not this process's to use."""
        self.engine.dispose(close=False)
