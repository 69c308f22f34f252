"""The embedded order store: each order kept as its orders/v1 document in Porter's own database (SQLite by
default, bot/storage)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from typing import Iterable, List, Optional

from sqlalchemy import select

from bot.identifiers import normalize_order_number
from bot.shop.models import Address, Order
from bot.shop.orders_format import order_from_document, order_to_document
from bot.storage import Where, database
from bot.storage.schema import orders as orders_table


class SQLiteOrderStore:
    def __init__(self, where: Where = None):
        self.db = database(where)

    def upsert_many(self, orders: Iterable[Order]) -> int:
        """Insert or overwrite orders in one transaction: all of them land, or none. Of two orders with the same
        number (#1001 and 1001), the later one is kept."""
        now = datetime.now(timezone.utc).isoformat()
        rows = {}
        for o in orders:
            tracking = o.shipment.tracking_number if o.shipment else None
            rows[normalize_order_number(o.order_number)] = {
                "order_key": normalize_order_number(o.order_number),
                "order_number": o.order_number,
                "tracking_number": tracking.upper() if tracking else None,
                "updated_at": now,
                "document": json.dumps(order_to_document(o), ensure_ascii=False, sort_keys=True),
            }
        if rows:
            insert = self.db.insert(orders_table)
            overwrite = {
                name: insert.excluded[name] for name in ("order_number", "tracking_number", "document", "updated_at")
            }
            upsert = insert.on_conflict_do_update(index_elements=[orders_table.c.order_key], set_=overwrite)
            with self.db.writing() as conn:
                conn.execute(upsert, list(rows.values()))
        return len(rows)

    def _one(self, column, value: str) -> Optional[Order]:
        with self.db.reading() as conn:
            document = conn.execute(select(orders_table.c.document).where(column == value)).scalar()
        return order_from_document(json.loads(document)) if document else None

    def get(self, order_number: str) -> Optional[Order]:
        return self._one(orders_table.c.order_key, normalize_order_number(order_number))

    def find_by_tracking_number(self, tracking_number: str) -> Optional[Order]:
        return self._one(orders_table.c.tracking_number, tracking_number.strip().upper())

    def all(self) -> List[Order]:
        with self.db.reading() as conn:
            documents = conn.execute(select(orders_table.c.document).order_by(orders_table.c.order_key)).scalars().all()
        return [order_from_document(json.loads(d)) for d in documents]

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
