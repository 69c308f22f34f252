"""Importing an orders/v1 file into the embedded store: all orders or none.

Demo files can be written against a fixed instant and re-anchored at import time (``relative_to``), so
"stalled for 12 days" stays true whenever the demo is loaded.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List, Optional

from bot.shop.models import Order
from bot.shop.orders_format import load_order_file
from bot.shop.sqlite_store import SQLiteOrderStore


def shift_order(order: Order, delta: timedelta) -> Order:
    """The same order with every date moved by ``delta`` (dates move by whole days)."""
    shipment = order.shipment
    if shipment is not None:
        shipment = replace(
            shipment,
            shipped_at=shipment.shipped_at + delta,
            promised_by=shipment.promised_by + timedelta(days=round(delta.total_seconds() / 86400)),
            events=[replace(e, at=e.at + delta) for e in shipment.events],
        )
    return replace(order, placed_at=order.placed_at + delta, shipment=shipment)


def import_orders(
    path: Path, store: SQLiteOrderStore, relative_to: Optional[datetime] = None, now: Optional[datetime] = None
) -> List[Order]:
    """Validate the whole file, then write it in one transaction. Raises OrderFileError, writing nothing."""
    orders = load_order_file(path)
    if relative_to is not None:
        delta = (now or datetime.now(timezone.utc)) - relative_to
        orders = [shift_order(o, delta) for o in orders]
    store.upsert_many(orders)
    return orders
