"""What `python -m bot db upgrade` does, and `python -m bot serve` before it starts anything: the configured
database brought to the current schema, then an older Porter's channels file moved into it."""

from __future__ import annotations

from typing import List

from sqlalchemy.exc import OperationalError

from bot.storage.engine import Database
from bot.storage.legacy_channels import import_legacy_channels, legacy_file
from bot.storage.location import database_url, shown, unreachable
from bot.storage.migrate import upgrade


def upgrade_database() -> List[str]:
    """Upgrades the configured database; what was done, one line each."""
    url = database_url()
    db = Database(url)
    try:
        before, after = upgrade(db)
        imported = import_legacy_channels(db)
    except OperationalError as exc:
        raise unreachable(url, exc) from None
    finally:
        db.engine.dispose()
    done = [
        f"database {shown(url)}: "
        + (
            f"schema at revision {after}, the current one"
            if before == after
            else f"schema upgraded from revision {before or 'none'} to {after}"
        )
    ]
    if imported is not None:
        done.append(
            f"moved the channels' tables of {legacy_file()} into it ("
            + ", ".join(f"{count} rows of {table}" for table, count in imported.items())
            + f"); the file is now {legacy_file().name}.imported"
        )
    return done
