"""Shoppers' 1-to-5 ratings, with what they rated: the conversation, its order and case, the problem, the agent
who resolved it (None when Porter did), the channel and the language; the analytics read them by each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

from sqlalchemy import select, update

from bot.storage import Where, database
from bot.storage.schema import ratings

SCORES = range(1, 6)
MAX_COMMENT = 1000  # characters kept of a comment


@dataclass(frozen=True)
class Rating:
    id: int
    conversation_id: str
    channel: Optional[str]
    language: Optional[str]
    order_number: Optional[str]
    case_reference: Optional[str]
    problem: Optional[str]
    agent: Optional[str]
    ticket_id: Optional[int]
    score: int
    comment: Optional[str]
    created_at: str


class RatingBook:
    def __init__(self, where: Where = None) -> None:
        self.db = database(where)

    def record(self, conversation_id: str, score: int, at: datetime, **about: object) -> Rating:
        if isinstance(score, bool) or score not in SCORES:
            raise ValueError(f"a rating is a whole number from 1 to 5, not {score!r}")
        with self.db.writing() as conn:
            new_id = conn.execute(
                ratings.insert().values(
                    conversation_id=conversation_id, score=score, created_at=at.isoformat(timespec="seconds"), **about
                )
            ).inserted_primary_key[0]
        return self.get(new_id)

    def comment(self, rating_id: int, text: str) -> None:
        text = " ".join((text or "").split())[:MAX_COMMENT]
        with self.db.writing() as conn:
            conn.execute(update(ratings).where(ratings.c.id == rating_id).values(comment=text or None))

    def get(self, rating_id: int) -> Optional[Rating]:
        with self.db.reading() as conn:
            row = conn.execute(select(ratings).where(ratings.c.id == rating_id)).first()
        return Rating(**row._mapping) if row else None

    def latest(self, conversation_id: str) -> Optional[Rating]:
        with self.db.reading() as conn:
            row = conn.execute(
                select(ratings)
                .where(ratings.c.conversation_id == conversation_id)
                .order_by(ratings.c.id.desc())
                .limit(1)
            ).first()
        return Rating(**row._mapping) if row else None

    def list(self, since: Optional[datetime] = None, limit: int = 500) -> List[Rating]:
        query = select(ratings).order_by(ratings.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(ratings.c.created_at >= since.isoformat(timespec="seconds"))
        with self.db.reading() as conn:
            rows = conn.execute(query).all()
        return [Rating(**row._mapping) for row in reversed(rows)]
