"""Repeat contacts: on how many different days shoppers raised the same order.

A *contact* is one conversation session (Rasa starts a new session after the domain's
`session_expiration_time` of silence) in which the shopper verified the order: the action server records it
when it explains the order after verification. Contacts are counted by *day* (in the agents' time zone):
several conversations on the same day (a page reload, a second channel, an immediate retry) count once, so the
count measures a shopper coming back because the problem is still there. When the order has been raised on
`repeat_contact_limit` different days, today included, a person takes over (actions/resolve_order.py).

Kept in the shop database next to cases and tickets, so every action-server process and restart sees them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Optional

from bot.db import connect
from bot.paths import shop_db_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS order_contacts (
    order_number TEXT NOT NULL,
    contact TEXT NOT NULL,          -- conversation id and session start: one row per session and order
    conversation_id TEXT NOT NULL,
    day TEXT NOT NULL,              -- ISO date in the agents' time zone
    created_at TEXT NOT NULL,
    PRIMARY KEY (order_number, contact)
);
CREATE INDEX IF NOT EXISTS order_contacts_order ON order_contacts (order_number, day);
"""


@dataclass(frozen=True)
class Contact:
    created: bool       # False when this session had already raised the order
    days: int           # different days the order has been raised on, this one included


class ContactLog:
    def __init__(self, path: Optional[Path] = None):
        self.path = Path(path or shop_db_path())
        with connect(self.path) as conn:
            conn.executescript(SCHEMA)

    def record(self, order_number: str, conversation_id: str, session: str, at: datetime, day: date) -> Contact:
        """Records that this conversation session raised the order on ``day``; idempotent per session."""
        with connect(self.path) as conn:
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.execute(
                "INSERT OR IGNORE INTO order_contacts (order_number, contact, conversation_id, day, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (order_number, f"{conversation_id}#{session}", conversation_id, day.isoformat(),
                 at.isoformat(timespec="seconds")))
            days = conn.execute("SELECT COUNT(DISTINCT day) FROM order_contacts WHERE order_number = ?",
                                (order_number,)).fetchone()[0]
        return Contact(created=cursor.rowcount == 1, days=days)

    def days(self, order_number: str) -> int:
        with connect(self.path) as conn:
            return conn.execute("SELECT COUNT(DISTINCT day) FROM order_contacts WHERE order_number = ?",
                                (order_number,)).fetchone()[0]
