"""The embedded order store: one SQLite table, each order kept as its orders/v1 document."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, List, Optional

from bot.db import connect
from bot.identifiers import normalize_order_number
from bot.paths import shop_db_path
from bot.shop.models import Address, Order
from bot.shop.orders_format import order_from_document, order_to_document

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_key TEXT PRIMARY KEY,
    order_number TEXT NOT NULL,
    tracking_number TEXT,
    document TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_tracking ON orders (tracking_number);
"""


class SQLiteOrderStore:
    def __init__(self, path: Optional[Path] = None):
        self.path = Path(path) if path else shop_db_path()
        with connect(self.path) as conn:
            conn.executescript(SCHEMA)

    def upsert_many(self, orders: Iterable[Order]) -> int:
        """Insert or overwrite orders in one transaction: all of them land, or none."""
        now = datetime.now(timezone.utc).isoformat()
        rows = [
            (normalize_order_number(o.order_number), o.order_number,
             o.shipment.tracking_number.upper() if o.shipment and o.shipment.tracking_number else None,
             json.dumps(order_to_document(o), ensure_ascii=False, sort_keys=True), now)
            for o in orders
        ]
        with connect(self.path) as conn:
            conn.executemany(
                "INSERT INTO orders (order_key, order_number, tracking_number, document, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(order_key) DO UPDATE SET "
                "order_number=excluded.order_number, tracking_number=excluded.tracking_number, "
                "document=excluded.document, updated_at=excluded.updated_at",
                rows,
            )
        return len(rows)

    def _one(self, where: str, value: str) -> Optional[Order]:
        with connect(self.path) as conn:
            row = conn.execute(f"SELECT document FROM orders WHERE {where} = ?", (value,)).fetchone()
        return order_from_document(json.loads(row["document"])) if row else None

    def get(self, order_number: str) -> Optional[Order]:
        return self._one("order_key", normalize_order_number(order_number))

    def find_by_tracking_number(self, tracking_number: str) -> Optional[Order]:
        return self._one("tracking_number", tracking_number.strip().upper())

    def all(self) -> List[Order]:
        with connect(self.path) as conn:
            rows = conn.execute("SELECT document FROM orders ORDER BY order_key").fetchall()
        return [order_from_document(json.loads(r["document"])) for r in rows]

    def update_shipping_address(self, order_number: str, address: Address) -> Order:
        order = self.get(order_number)
        if order is None:
            raise KeyError(order_number)
        updated = replace(order, shipping_address=address)
        self.upsert_many([updated])
        return updated

    def refund(self, order_number: str, amount: float, note: str) -> Optional[str]:
        """Always None: the embedded store keeps no payments. The refund case Porter records is the refund's
        record, and the shop pays it out from there. Raises KeyError for an unknown order, like the others."""
        if self.get(order_number) is None:
            raise KeyError(order_number)
        return None

    def find_refund(self, order_number: str, reference: str) -> Optional[str]:
        """Always None: no payment was ever made here to be found (see ``refund``)."""
        if self.get(order_number) is None:
            raise KeyError(order_number)
        return None
