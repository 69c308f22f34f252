"""What the watcher last saw of each shipment, and which tracking-service pushes it already took.

A situation is "new" when it differs from the one seen last, so a parcel that stays stalled is alerted once,
whether the watcher polls every few minutes or the service pushes the same scan twice.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Optional

from sqlalchemy import delete, select, update

from bot.storage import Where, database
from bot.storage.schema import tracking_pushes, watched_shipments

PUSHES_KEPT_SECONDS = 30 * 86400  # services retry for hours, never for weeks


class ShipmentWatch:
    def __init__(self, where: Where = None) -> None:
        self.db = database(where)

    def last_seen(self, order_number: str) -> Optional[str]:
        with self.db.reading() as conn:
            return conn.execute(
                select(watched_shipments.c.situation).where(watched_shipments.c.order_number == order_number)
            ).scalar()

    def remember(self, order_number: str, situation: str, last_event_at: Optional[datetime], at: datetime) -> bool:
        """Keeps this as the shipment's situation; True when it is new (changed, or seen for the first time)."""
        values = dict(
            situation=situation,
            last_event_at=last_event_at.isoformat(timespec="seconds") if last_event_at else None,
            checked_at=at.isoformat(timespec="seconds"),
        )
        with self.db.writing() as conn:
            self.db.lock(conn, f"watch of order {order_number}")
            before = conn.execute(
                select(watched_shipments.c.situation).where(watched_shipments.c.order_number == order_number)
            ).scalar()
            if before is None:
                conn.execute(watched_shipments.insert().values(order_number=order_number, **values))
            else:
                conn.execute(
                    update(watched_shipments).where(watched_shipments.c.order_number == order_number).values(**values)
                )
        return before != situation


class PushLog:
    def __init__(self, where: Where = None) -> None:
        self.db = database(where)

    def first_time(self, service: str, delivery_id: str, now: Optional[float] = None) -> bool:
        """True the first time a push is seen; a service's retry of the same delivery gets False."""
        now = time.time() if now is None else now
        with self.db.writing() as conn:
            conn.execute(delete(tracking_pushes).where(tracking_pushes.c.received_at < now - PUSHES_KEPT_SECONDS))
            return (
                conn.execute(
                    self.db.insert(tracking_pushes)
                    .values(service=service, delivery_id=delivery_id, received_at=now)
                    .on_conflict_do_nothing()
                ).rowcount
                == 1
            )

    def forget(self, service: str, delivery_id: str) -> None:
        """A push that could not be handled: the service's retry of it must be taken, not dropped as a duplicate."""
        with self.db.writing() as conn:
            conn.execute(
                delete(tracking_pushes).where(
                    tracking_pushes.c.service == service, tracking_pushes.c.delivery_id == delivery_id
                )
            )
