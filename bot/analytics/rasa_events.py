"""Rasa's conversations as stored by its SQL tracker store (the ``events`` table), read in id order.

The same database Rasa writes (endpoints.yml): ``PORTER_TRACKER_DATABASE_URL`` on PostgreSQL, otherwise the
SQLite file ``PORTER_TRACKER_DB`` (var/tracker.db). Read only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional

import sqlalchemy as sa

from bot.paths import var_dir


def events_url() -> str:
    url = (os.environ.get("PORTER_TRACKER_DATABASE_URL") or "").strip()
    if url:
        return url
    return f"sqlite:///{os.environ.get('PORTER_TRACKER_DB') or var_dir() / 'tracker.db'}"


@dataclass(frozen=True)
class Event:
    id: int
    sender_id: str
    type_name: str
    timestamp: float
    intent_name: Optional[str]
    data: str


@lru_cache(maxsize=4)
def _engine(url: str) -> sa.engine.Engine:
    return sa.create_engine(url, pool_pre_ping=True)


def read_after(last_id: int, limit: int, url: Optional[str] = None) -> List[Event]:
    """Up to ``limit`` events with an id above ``last_id``; none when Rasa has not created its table yet."""
    engine = _engine(url or events_url())
    if not sa.inspect(engine).has_table("events"):
        return []
    query = sa.text(
        "SELECT id, sender_id, type_name, timestamp, intent_name, data FROM events WHERE id > :last "
        "ORDER BY id LIMIT :limit"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"last": last_id, "limit": limit}).all()
    return [Event(r.id, r.sender_id, r.type_name, float(r.timestamp or 0), r.intent_name, r.data or "") for r in rows]
