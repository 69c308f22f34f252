"""WhatsApp's 24-hour customer service window, and the replies it kept us from sending.

Meta accepts a free-form message (text, buttons, image) only within 24 hours of the shopper's last message
to us; after that only an approved template may open the conversation again. We remember when each shopper
last wrote, and a free-form reply to someone whose window has closed is not sent: it is logged (masked
number) and kept in ``undelivered_messages`` so an operator can reach the shopper another way
(`python -m bot channels undelivered`). Replies the Graph API refused or that never reached it are kept
there too, with the reason.

Both tables live in Porter's database next to the channels' inbox (bot/channels/inbox.py, bot/storage).
Conversations are ``whatsapp:<wa_id>``; these tables keep the number itself.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional

from sqlalchemy import case, insert, select

from bot.storage import Where, database
from bot.storage.schema import undelivered_messages, whatsapp_last_inbound

WINDOW_SECONDS = 24 * 3600
OUTSIDE_WINDOW = "outside the 24-hour window: the shopper's last message is older than 24 hours"
NEVER_WROTE = "outside the 24-hour window: the shopper has never written to us on WhatsApp"


class ConversationWindow:
    """When each WhatsApp shopper last wrote to us, and whether we may still answer them free-form."""

    def __init__(
        self, where: Where = None, clock: Callable[[], float] = time.time, window_seconds: int = WINDOW_SECONDS
    ) -> None:
        self.db = database(where)
        self.clock = clock
        self.window_seconds = window_seconds

    def record_inbound(self, wa_id: str, at: Optional[float] = None) -> None:
        """A message from wa_id sent at `at` (Meta's timestamp; now when unknown). Never moves back in time."""
        now = self.clock()
        at = now if at is None else min(float(at), now)  # a sender clock ahead of ours must not stretch it
        insert_ = self.db.insert(whatsapp_last_inbound).values(wa_id=str(wa_id), last_inbound_at=at)
        known, arriving = whatsapp_last_inbound.c.last_inbound_at, insert_.excluded.last_inbound_at
        with self.db.writing() as conn:
            conn.execute(
                insert_.on_conflict_do_update(
                    index_elements=[whatsapp_last_inbound.c.wa_id],
                    set_={"last_inbound_at": case((arriving > known, arriving), else_=known)},
                )
            )

    def last_inbound(self, wa_id: str) -> Optional[float]:
        with self.db.reading() as conn:
            return conn.execute(
                select(whatsapp_last_inbound.c.last_inbound_at).where(whatsapp_last_inbound.c.wa_id == str(wa_id))
            ).scalar()

    def closed_because(self, wa_id: str) -> Optional[str]:
        """None while a free-form message may be sent to wa_id; otherwise why not."""
        last = self.last_inbound(wa_id)
        if last is None:
            return NEVER_WROTE
        if self.clock() - last >= self.window_seconds:
            return OUTSIDE_WINDOW
        return None

    def is_open(self, wa_id: str) -> bool:
        return self.closed_because(wa_id) is None


@dataclass(frozen=True)
class Undelivered:
    id: int
    channel: str
    recipient: str
    text: str
    reason: str
    created_at: str  # ISO 8601, UTC

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)


class UndeliveredMessages:
    """Replies a channel could not send, for an operator to follow up."""

    def __init__(self, where: Where = None, clock: Callable[[], float] = time.time) -> None:
        self.db = database(where)
        self.clock = clock

    def record(self, channel: str, recipient: str, text: str, reason: str) -> Undelivered:
        created = datetime.fromtimestamp(self.clock(), timezone.utc).isoformat(timespec="seconds")
        created = created.replace("+00:00", "Z")
        with self.db.writing() as conn:
            row_id = conn.execute(
                insert(undelivered_messages).values(
                    channel=channel, recipient=str(recipient), text=text, reason=reason, created_at=created
                )
            ).inserted_primary_key[0]
        return Undelivered(row_id, channel, str(recipient), text, reason, created)

    def list(self, channel: Optional[str] = None) -> List[Undelivered]:
        """Oldest first."""
        query = select(
            undelivered_messages.c.id,
            undelivered_messages.c.channel,
            undelivered_messages.c.recipient,
            undelivered_messages.c.text,
            undelivered_messages.c.reason,
            undelivered_messages.c.created_at,
        )
        if channel:
            query = query.where(undelivered_messages.c.channel == channel)
        with self.db.reading() as conn:
            rows = conn.execute(query.order_by(undelivered_messages.c.id)).all()
        return [Undelivered(*row) for row in rows]
