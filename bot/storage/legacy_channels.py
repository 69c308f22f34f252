"""The channels' tables of an older Porter, which kept them in a file of their own (``PORTER_CHANNELS_DB``,
default var/channels.db): moved once into Porter's database, so that no update waiting in the inbox, no
resend marker and no undelivered reply is lost by upgrading. The file is then renamed ``*.imported``."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Dict, Optional

from bot.paths import var_dir
from bot.storage.engine import Database
from bot.storage.location import sqlite_file
from bot.storage.schema import metadata

TABLES = ("inbox", "whatsapp_last_inbound", "undelivered_messages")


def legacy_file() -> Path:
    return Path(os.environ.get("PORTER_CHANNELS_DB") or var_dir() / "channels.db").resolve()


def import_legacy_channels(db: Database) -> Optional[Dict[str, int]]:
    """Rows copied per table, or None when there is no older channels file to import."""
    source, own_file = legacy_file(), sqlite_file(db.url)
    if not source.exists() or (own_file and own_file.resolve() == source):
        return None
    counts: Dict[str, int] = {}
    with db.writing() as conn:
        db.lock(conn, "porter legacy channels import")
        if not source.exists():  # another process imported it while this one waited
            return None
        with closing(sqlite3.connect(source)) as old:  # closing it folds its write-ahead log back into the file
            old.row_factory = sqlite3.Row
            present = {name for (name,) in old.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            for name in (table for table in TABLES if table in present):
                rows = [dict(row) for row in old.execute(f"SELECT * FROM {name} ORDER BY rowid")]
                if name == "undelivered_messages":  # numbered anew after the rows already here
                    rows = [{key: value for key, value in row.items() if key != "id"} for row in rows]
                if rows:
                    conn.execute(db.insert(metadata.tables[name]).on_conflict_do_nothing(), rows)
                counts[name] = len(rows)
    source.rename(source.with_name(source.name + ".imported"))
    return counts
