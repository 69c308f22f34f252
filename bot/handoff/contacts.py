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

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.storage import Where, database
from bot.storage.schema import order_contacts


@dataclass(frozen=True)
class Contact:
    created: bool  # False when this session had already raised the order
    days: int  # different days the order has been raised on, this one included


def _days(conn: Connection, order_number: str) -> int:
    return conn.execute(
        select(func.count(order_contacts.c.day.distinct())).where(order_contacts.c.order_number == order_number)
    ).scalar()


class ContactLog:
    def __init__(self, where: Where = None):
        self.db = database(where)

    def record(self, order_number: str, conversation_id: str, session: str, at: datetime, day: date) -> Contact:
        """Records that this conversation session raised the order on ``day``; idempotent per session. The order
        is locked while it counts, so two sessions at the same moment see each other."""
        with self.db.writing() as conn:
            self.db.lock(conn, f"contacts of order {order_number}")
            created = (
                conn.execute(
                    self.db.insert(order_contacts)
                    .values(
                        order_number=order_number,
                        contact=f"{conversation_id}#{session}",
                        conversation_id=conversation_id,
                        day=day.isoformat(),
                        created_at=at.isoformat(timespec="seconds"),
                    )
                    .on_conflict_do_nothing()
                ).rowcount
                == 1
            )
            days = _days(conn, order_number)
        return Contact(created=created, days=days)

    def days(self, order_number: str) -> int:
        with self.db.reading() as conn:
            return _days(conn, order_number)
