"""What Porter offered a conversation for an order: the problem as it understood it and the fixes the policy
allowed at that moment (as buttons). A fix is carried out only when it was offered here and the policy
still allows it now."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional, Tuple

from sqlalchemy import insert, select

from bot.storage import Where, database
from bot.storage.schema import offers


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
    def __init__(self, where: Where = None) -> None:
        self.db = database(where)

    def record(
        self,
        conversation_id: str,
        order_number: str,
        problem: str,
        situation: str,
        next_step: str,
        fixes: Tuple[str, ...],
        at: float,
    ) -> Offer:
        with self.db.writing() as conn:
            conn.execute(
                insert(offers).values(
                    conversation_id=conversation_id,
                    order_number=order_number,
                    problem=problem,
                    situation=situation,
                    next_step=next_step,
                    fixes=json.dumps(list(fixes)),
                    offered_at=at,
                )
            )
        return Offer(conversation_id, order_number, problem, situation, next_step, tuple(fixes), at)

    def latest(self, conversation_id: str, order_number: str) -> Optional[Offer]:
        with self.db.reading() as conn:
            row = conn.execute(
                select(offers)
                .where(offers.c.conversation_id == conversation_id, offers.c.order_number == order_number)
                .order_by(offers.c.offered_at.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        data = dict(row._mapping)
        data["fixes"] = tuple(json.loads(data["fixes"]))
        return Offer(**data)
