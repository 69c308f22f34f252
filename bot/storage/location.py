"""Which database Porter uses: ``PORTER_DATABASE_URL``, or the embedded SQLite file it has always used.

One URL holds everything Porter writes (orders, cases, tickets, agents, the channels' inbox...). Unset, it is
the SQLite file ``PORTER_SHOP_DB`` (default ``var/shop.db``), so ``make run`` needs no database server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from bot.paths import shop_db_path

DIALECTS = ("sqlite", "postgresql")
Where = Union[str, Path, None]  # a database URL, a SQLite file, or None for the configured database


class StorageError(RuntimeError):
    """A database Porter cannot use, said so that an operator can fix it."""


def database_url(where: Where = None) -> str:
    """The URL of ``where``: a URL as given, a path as a SQLite file, None as the configured database."""
    if where is None:
        where = (os.environ.get("PORTER_DATABASE_URL") or "").strip() or shop_db_path()
    if isinstance(where, Path) or "://" not in where:
        return f"sqlite:///{Path(where).resolve()}"
    if where.startswith("postgres://"):  # what Heroku-style platforms hand out; SQLAlchemy wants postgresql://
        where = "postgresql://" + where[len("postgres://") :]
    try:
        url = make_url(where)
    except ArgumentError:
        raise StorageError("PORTER_DATABASE_URL is not a database URL (e.g. postgresql://porter@db/porter)") from None
    if url.get_backend_name() not in DIALECTS:
        raise StorageError(f"PORTER_DATABASE_URL: Porter runs on {' or '.join(DIALECTS)}, not {url.get_backend_name()}")
    if url.get_backend_name() == "sqlite" and not url.database:
        raise StorageError("PORTER_DATABASE_URL: a SQLite database must be a file (sqlite:////path/to/porter.db)")
    return where


def shown(url: str) -> str:
    """The URL as logs and operators may see it: never its password."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Optional[Path]:
    """The file of a SQLite URL; None for a server database."""
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" else None


def unreachable(url: str, exc: OperationalError) -> StorageError:
    """The driver's first line says why (refused, unknown host, wrong password), never the password."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    return StorageError(f"cannot use the database {shown(url)}: {reason}")
