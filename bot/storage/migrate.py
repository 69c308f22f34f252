"""Bringing a database to the current schema with Alembic (revisions in bot/storage/migrations/versions).

An upgrade runs in one transaction that holds the schema lock (SQLite's write lock; an advisory lock on
PostgreSQL), so processes starting together migrate once: the others wait, then find the work done. It is
safe to repeat, and safe on a database made before migrations existed (the first revision completes it).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Optional, Tuple

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection

from bot.storage.engine import Database
from bot.storage.location import StorageError, shown

MIGRATIONS = Path(__file__).with_name("migrations")
# Alembic's INFO lines (its plugins, "Context impl...") come at every process start; upgrade() reports the change.
logging.getLogger("alembic").setLevel(logging.WARNING)


def _config(connection: Optional[Connection] = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The revision of the schema this code expects."""
    return _scripts().get_current_head()


def current_revision(connection: Connection) -> Optional[str]:
    """The database's revision; None before its first upgrade."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(db: Database) -> Tuple[Optional[str], str]:
    """Upgrades the database to ``head()``; (revision before, revision after)."""
    with db.writing() as connection:
        db.lock(connection, "porter schema upgrade")
        before = current_revision(connection)
        if before is not None:
            try:
                _scripts().get_revision(before)
            except CommandError:
                raise StorageError(
                    f"the database {shown(db.url)} is at schema revision {before!r}, which this "
                    "Porter does not know: a newer Porter upgraded it. Run that version."
                ) from None
        if before != head():
            command.upgrade(_config(connection), "head")
    return before, head()


def ensure_schema(db: Database) -> None:
    """Upgrades the database unless it is at the current schema already (one quick read when it is)."""
    with db.reading() as connection:
        if current_revision(connection) == head():
            return
    upgrade(db)
