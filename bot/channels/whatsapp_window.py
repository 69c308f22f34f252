"""WhatsApp's 24-hour customer service window, and the replies it kept us from sending.

Meta accepts a free-form message (text, buttons, image) only within 24 hours of the shopper's last message
to us; after that only an approved template may open the conversation again. We remember when each shopper
last wrote, and a free-form reply to someone whose window has closed is not sent: it is logged (masked
number) and kept in ``undelivered_messages`` so an operator can reach the shopper another way
(`python -m bot channels undelivered`). Replies the Graph API refused or that never reached it are kept
there too, with the reason.

Both tables live next to the channels' inbox (bot/channels/inbox.py): ``PORTER_CHANNELS_DB``, by default
var/channels.db. Conversations are ``whatsapp:<wa_id>``; these tables keep the number itself.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional

from bot.channels.inbox import channels_db_path
from bot.db import connect

WINDOW_SECONDS = 24 * 3600
OUTSIDE_WINDOW = "outside the 24-hour window: the shopper's last message is older than 24 hours"
NEVER_WROTE = "outside the 24-hour window: the shopper has never written to us on WhatsApp"


class ConversationWindow:
    """When each WhatsApp shopper last wrote to us, and whether we may still answer them free-form."""

    def __init__(self, path: Optional[Path] = None, clock: Callable[[], float] = time.time,
                 window_seconds: int = WINDOW_SECONDS) -> None:
        self.path = Path(path or channels_db_path())
        self.clock = clock
        self.window_seconds = window_seconds
        with connect(self.path) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS whatsapp_last_inbound (wa_id TEXT PRIMARY KEY, "
                         "last_inbound_at REAL NOT NULL)")

    def record_inbound(self, wa_id: str, at: Optional[float] = None) -> None:
        """A message from wa_id sent at `at` (Meta's timestamp; now when unknown). Never moves back in time."""
        now = self.clock()
        at = now if at is None else min(float(at), now)  # a sender clock ahead of ours must not stretch it
        with connect(self.path) as conn:
            conn.execute("INSERT INTO whatsapp_last_inbound VALUES (?, ?) ON CONFLICT(wa_id) DO UPDATE SET "
                         "last_inbound_at = max(last_inbound_at, excluded.last_inbound_at)", (str(wa_id), at))

    def last_inbound(self, wa_id: str) -> Optional[float]:
        with connect(self.path) as conn:
            row = conn.execute("SELECT last_inbound_at FROM whatsapp_last_inbound WHERE wa_id = ?",
                               (str(wa_id),)).fetchone()
        return row[0] if row else None

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

    def __init__(self, path: Optional[Path] = None, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path or channels_db_path())
        self.clock = clock
        with connect(self.path) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS undelivered_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "channel TEXT NOT NULL, recipient TEXT NOT NULL, text TEXT NOT NULL, "
                         "reason TEXT NOT NULL, created_at TEXT NOT NULL)")

    def record(self, channel: str, recipient: str, text: str, reason: str) -> Undelivered:
        created = datetime.fromtimestamp(self.clock(), timezone.utc).isoformat(timespec="seconds")
        created = created.replace("+00:00", "Z")
        with connect(self.path) as conn:
            cursor = conn.execute("INSERT INTO undelivered_messages (channel, recipient, text, reason, created_at) "
                                  "VALUES (?, ?, ?, ?, ?)", (channel, str(recipient), text, reason, created))
            row_id = cursor.lastrowid
        return Undelivered(row_id, channel, str(recipient), text, reason, created)

    def list(self, channel: Optional[str] = None) -> List[Undelivered]:
        """Oldest first."""
        query = "SELECT id, channel, recipient, text, reason, created_at FROM undelivered_messages"
        params: tuple = ()
        if channel:
            query, params = query + " WHERE channel = ?", (channel,)
        with connect(self.path) as conn:
            rows = conn.execute(query + " ORDER BY id", params).fetchall()
        return [Undelivered(*tuple(row)) for row in rows]
