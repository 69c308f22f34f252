"""Remembers which inbound message ids a channel has already handled.

Telegram and Meta resend an update until they get a 2xx, sometimes after we already answered it; a
shopper must not get the same reply twice. Kept in SQLite (not in memory) so a restart, or a second Rasa
process on the same machine, still drops the repeat. Several machines need a shared store (PostgreSQL or
Redis), the same one the lock store uses.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

from bot.db import connect
from bot.paths import var_dir

KEEP_SECONDS = 7 * 24 * 3600  # Meta and Telegram stop retrying long before this


def seen_db_path() -> Path:
    return Path(os.environ.get("PORTER_CHANNELS_DB") or var_dir() / "channels.db")


class SeenMessages:
    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path or seen_db_path())
        with connect(self.path) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS seen_messages (channel TEXT NOT NULL, "
                         "message_id TEXT NOT NULL, seen_at REAL NOT NULL, PRIMARY KEY (channel, message_id))")

    def first_time(self, channel: str, message_id: str) -> bool:
        """True the first time this (channel, id) is offered, False for every repeat; atomic across processes."""
        now = time.time()
        with connect(self.path) as conn:
            inserted = conn.execute("INSERT OR IGNORE INTO seen_messages VALUES (?, ?, ?)",
                                    (channel, str(message_id), now)).rowcount == 1
            if inserted and int(now) % 100 == 0:
                conn.execute("DELETE FROM seen_messages WHERE seen_at < ?", (now - KEEP_SECONDS,))
        return inserted
