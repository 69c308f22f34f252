"""Where Porter keeps what it writes: one database, SQLite by default, PostgreSQL for several processes.

``database()`` is the configured database (bot/storage/location.py), made once per process and URL, its schema
brought up to date the first time (bot/storage/migrate.py), so every process that writes (the servers, the
CLI, a test) finds its tables in place. Stores keep their rules in the database itself (bot/storage/engine.py).
"""

from __future__ import annotations

import os
import threading
from typing import Dict

from sqlalchemy.exc import OperationalError

from bot.storage.engine import Database
from bot.storage.location import StorageError, Where, database_url, unreachable
from bot.storage.migrate import ensure_schema

__all__ = ["Database", "StorageError", "Where", "database"]

_databases: Dict[str, Database] = {}
_opening = threading.Lock()


def database(where: Where = None) -> Database:
    """The database at ``where`` (a URL or a SQLite file; default: the configured one), schema ensured."""
    url = database_url(where)
    found = _databases.get(url)
    if found is not None:
        return found
    with _opening:
        if url not in _databases:
            db = Database(url)
            try:
                ensure_schema(db)
            except OperationalError as exc:
                db.engine.dispose()
                raise unreachable(url, exc) from None
            except BaseException:
                db.engine.dispose()
                raise
            _databases[url] = db
        return _databases[url]


def _after_fork_in_child() -> None:
    global _opening
    _opening = threading.Lock()  # another thread of the parent may have held it at the fork
    for db in _databases.values():
        db.forget_connections()


os.register_at_fork(after_in_child=_after_fork_in_child)
