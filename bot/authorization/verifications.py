"""Which conversation proved, when and how, that it owns which order.

Written only by the action server at the moment the email (or a channel's signed phone or customer) matched
the order; read back before an order is shown or changed. A request can claim any `verified_order` slot,
but it cannot write a row here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bot.db import connect
from bot.paths import shop_db_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS verifications (
    conversation_id TEXT NOT NULL,
    order_number TEXT NOT NULL,
    method TEXT NOT NULL,           -- email, phone (WhatsApp), customer (a signed-in storefront customer)
    verified_at REAL NOT NULL,      -- epoch seconds
    PRIMARY KEY (conversation_id, order_number, verified_at)
);
CREATE INDEX IF NOT EXISTS verifications_latest ON verifications (conversation_id, order_number, verified_at);
"""
METHODS = ("email", "phone", "customer")


@dataclass(frozen=True)
class Verification:
    conversation_id: str
    order_number: str
    method: str
    verified_at: float


class VerificationLedger:
    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path or shop_db_path())
        with connect(self.path) as conn:
            conn.executescript(SCHEMA)

    def record(self, conversation_id: str, order_number: str, method: str, at: float) -> Verification:
        if method not in METHODS:
            raise ValueError(f"unknown verification method {method!r}")
        with connect(self.path) as conn:
            conn.execute("INSERT OR IGNORE INTO verifications VALUES (?, ?, ?, ?)",
                         (conversation_id, order_number, method, at))
        return Verification(conversation_id, order_number, method, at)

    def latest(self, conversation_id: str, order_number: str) -> Optional[Verification]:
        with connect(self.path) as conn:
            row = conn.execute("SELECT * FROM verifications WHERE conversation_id = ? AND order_number = ? "
                               "ORDER BY verified_at DESC LIMIT 1", (conversation_id, order_number)).fetchone()
        return Verification(**dict(row)) if row else None
