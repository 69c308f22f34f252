"""Which conversation proved, when and how, that it owns which order.

Written only by the action server at the moment the email (or a channel's signed phone or customer) matched
the order; read back before an order is shown or changed. A request can claim any `verified_order` slot,
but it cannot write a row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from sqlalchemy import select

from bot.storage import Where, database
from bot.storage.schema import verifications

# "alert": Porter wrote first to a conversation that had verified the order before (bot/outreach/), so the
# shopper's answer there counts as theirs for this session.
METHODS = ("email", "phone", "customer", "alert")


@dataclass(frozen=True)
class Verification:
    conversation_id: str
    order_number: str
    method: str
    verified_at: float


class VerificationLedger:
    def __init__(self, where: Where = None) -> None:
        self.db = database(where)

    def record(self, conversation_id: str, order_number: str, method: str, at: float) -> Verification:
        if method not in METHODS:
            raise ValueError(f"unknown verification method {method!r}")
        with self.db.writing() as conn:
            conn.execute(
                self.db.insert(verifications)
                .values(conversation_id=conversation_id, order_number=order_number, method=method, verified_at=at)
                .on_conflict_do_nothing()
            )
        return Verification(conversation_id, order_number, method, at)

    def latest(self, conversation_id: str, order_number: str) -> Optional[Verification]:
        with self.db.reading() as conn:
            row = conn.execute(
                select(verifications)
                .where(verifications.c.conversation_id == conversation_id, verifications.c.order_number == order_number)
                .order_by(verifications.c.verified_at.desc())
                .limit(1)
            ).first()
        return Verification(**row._mapping) if row else None

    def last_conversation(self, order_number: str) -> Optional[Verification]:
        """The order's latest verification in any conversation: where the shopper last talked to the shop."""
        with self.db.reading() as conn:
            row = conn.execute(
                select(verifications)
                .where(verifications.c.order_number == order_number)
                .order_by(verifications.c.verified_at.desc())
                .limit(1)
            ).first()
        return Verification(**row._mapping) if row else None

    def orders_since(self, since: float) -> List[str]:
        """The orders verified in any conversation since then: the ones shoppers are following (the watcher's
        list when the store cannot list its orders)."""
        with self.db.reading() as conn:
            return list(
                conn.execute(
                    select(verifications.c.order_number).where(verifications.c.verified_at >= since).distinct()
                ).scalars()
            )
