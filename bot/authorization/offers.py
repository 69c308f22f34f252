"""What Porter offered a conversation for an order: the problem as it understood it and the fixes the policy
allowed at that moment (as buttons). A fix is carried out only when it was offered here and the policy
still allows it now."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from bot.db import connect
from bot.paths import shop_db_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS offers (
    conversation_id TEXT NOT NULL,
    order_number TEXT NOT NULL,
    problem TEXT NOT NULL,
    situation TEXT NOT NULL,
    next_step TEXT NOT NULL,
    fixes TEXT NOT NULL,            -- JSON list, in the order the buttons showed them
    offered_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS offers_latest ON offers (conversation_id, order_number, offered_at);
"""


@dataclass(frozen=True)
class Offer:
    conversation_id: str
    order_number: str
    problem: str
    situation: str
    next_step: str
    fixes: Tuple[str, ...]
    offered_at: float


class OfferLedger:
    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path or shop_db_path())
        with connect(self.path) as conn:
            conn.executescript(SCHEMA)

    def record(self, conversation_id: str, order_number: str, problem: str, situation: str, next_step: str,
               fixes: Tuple[str, ...], at: float) -> Offer:
        with connect(self.path) as conn:
            conn.execute("INSERT INTO offers VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (conversation_id, order_number, problem, situation, next_step, json.dumps(list(fixes)),
                          at))
        return Offer(conversation_id, order_number, problem, situation, next_step, tuple(fixes), at)

    def latest(self, conversation_id: str, order_number: str) -> Optional[Offer]:
        with connect(self.path) as conn:
            row = conn.execute("SELECT * FROM offers WHERE conversation_id = ? AND order_number = ? "
                               "ORDER BY offered_at DESC LIMIT 1", (conversation_id, order_number)).fetchone()
        if row is None:
            return None
        data = dict(row)
        data["fixes"] = tuple(json.loads(data["fixes"]))
        return Offer(**data)
