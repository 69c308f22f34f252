"""Which widget conversations have a chat window open now, shared by every Rasa replica through Porter's
database: the desk emails an agent's reply to a shopper who closed the window (bot/web/desk_mail.py).

One row per open socket, written when it joins its conversation and removed when it disconnects. A process that
dies cannot remove its rows, so a row older than STALE_SECONDS counts as closed: at worst a shopper with a very
old tab open gets the reply by email as well.
"""

from __future__ import annotations

import time
from typing import Optional

from sqlalchemy import delete, select

from bot.storage import Where, database
from bot.storage.schema import widget_presence

STALE_SECONDS = 12 * 3600


class WidgetPresence:
    def __init__(self, where: Where = None) -> None:
        self.db = database(where)

    def opened(self, socket_id: str, conversation_id: str, at: Optional[float] = None) -> None:
        at = time.time() if at is None else at
        statement = self.db.insert(widget_presence).values(
            socket_id=socket_id, conversation_id=conversation_id, seen_at=at
        )
        with self.db.writing() as conn:
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[widget_presence.c.socket_id],
                    set_={"conversation_id": conversation_id, "seen_at": at},
                )
            )

    def closed(self, socket_id: str) -> None:
        with self.db.writing() as conn:
            conn.execute(delete(widget_presence).where(widget_presence.c.socket_id == socket_id))

    def is_open(self, conversation_id: str, now: Optional[float] = None) -> bool:
        now = time.time() if now is None else now
        with self.db.reading() as conn:
            found = conn.execute(
                select(widget_presence.c.socket_id).where(
                    widget_presence.c.conversation_id == conversation_id,
                    widget_presence.c.seen_at > now - STALE_SECONDS,
                )
            ).first()
        return found is not None
