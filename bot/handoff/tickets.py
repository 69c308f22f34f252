"""Handoff tickets: a conversation waiting for, or owned by, a person.

The action server opens a ticket when Porter hands over (with everything the agent needs to not ask again);
the agent desk claims, answers, hands back or resolves it. Both write here, in the shop database, so a
restart loses neither a ticket nor its place in the queue. Messages agents write (replies and internal
notes) are kept here too; what the shopper writes stays in Rasa's tracker store. A reply keeps its delivery
state (sending, sent, not confirmed) from the moment it is written: a reply is never lost because Rasa was
slow to answer, and never sent twice because the desk could not tell whether it had gone.

A conversation has at most one open ticket: handing over twice joins the same queue place. An order has at
most one place in the queue: a conversation that verified an order which already has an open ticket from
another conversation (the shopper in a second tab, on another channel, or a script) joins it. While they wait,
the queue shows the oldest and the others share its place; claiming one claims them all; when the order's
ticket is already claimed, the new one goes straight to that agent. Each ticket keeps its own conversation,
transcript and page, because the desk replies to, and hands back, one conversation per ticket; a note on each
names the other.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from bot.db import connect
from bot.paths import shop_db_path

WAITING, CLAIMED, HANDED_BACK, RESOLVED = "waiting", "claimed", "handed_back", "resolved"
OPEN_STATUSES = (WAITING, CLAIMED)
MESSAGE_KINDS = ("reply", "note")
SENDING, SENT, NOT_CONFIRMED = "sending", "sent", "not_confirmed"   # a reply's delivery; a note has none
# A reply still SENDING this long after its attempt started was cut off (the web server stopped mid-send): the
# desk waits at most 60 s for Rasa, so nothing is still in flight.
STALE_SENDING_SECONDS = 150

SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    channel TEXT,
    language TEXT,
    order_number TEXT,
    problem TEXT,
    situation TEXT,
    offered TEXT NOT NULL DEFAULT '[]',
    reason TEXT NOT NULL,
    case_reference TEXT,
    status TEXT NOT NULL,
    agent TEXT,
    created_at TEXT NOT NULL,
    claimed_at TEXT,
    closed_at TEXT,
    transcript TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets (status, created_at);
-- one open ticket per conversation, enforced by the database even with several Rasa processes
CREATE UNIQUE INDEX IF NOT EXISTS tickets_one_open ON tickets (conversation_id) WHERE status IN ('waiting', 'claimed');
CREATE TABLE IF NOT EXISTS ticket_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    kind TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_messages_ticket ON ticket_messages (ticket_id, id);
"""
# Columns added after the first release, so an existing shop.db gains them when a store opens it.
ADDED_COLUMNS = {"ticket_messages": (("delivery", "TEXT"), ("delivery_at", "TEXT")),
                 "tickets": (("verified_order", "TEXT"),)}
PORTER = "Porter"   # the author of the notes Porter writes itself


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Ticket:
    id: int
    conversation_id: str
    channel: Optional[str]
    language: Optional[str]
    order_number: Optional[str]
    problem: Optional[str]
    situation: Optional[str]
    offered: List[str]
    reason: str
    case_reference: Optional[str]
    status: str
    agent: Optional[str]
    created_at: str
    claimed_at: Optional[str]
    closed_at: Optional[str]
    # [{"who": "shopper" | "bot", "text": ..., "at": ISO time}] up to the handoff
    transcript: List[Dict[str, Any]] = field(default_factory=list)
    verified_order: Optional[str] = None   # the order this conversation proved it owns at the handoff

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TicketMessage:
    id: int
    ticket_id: int
    kind: str      # "reply" (sent to the shopper) or "note" (agents only)
    author: str
    text: str
    created_at: str
    delivery: Optional[str] = None      # replies only: SENDING, SENT or NOT_CONFIRMED
    delivery_at: Optional[str] = None   # when the current delivery attempt started

    @property
    def settled_delivery(self) -> Optional[str]:
        """The delivery state as the agent should see it: a stale SENDING is NOT_CONFIRMED; a reply from before
        delivery states were kept was only kept when sent."""
        if self.kind != "reply":
            return None
        if self.delivery == SENDING and (self.delivery_at or "") < _ago(STALE_SENDING_SECONDS):
            return NOT_CONFIRMED
        return self.delivery or SENT

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _ticket(row) -> Ticket:
    data = dict(row)
    data["offered"] = json.loads(data["offered"] or "[]")
    data["transcript"] = json.loads(data["transcript"] or "[]")
    return Ticket(**data)


class TicketStore:
    def __init__(self, path: Optional[Path] = None):
        self.path = Path(path or shop_db_path())
        with connect(self.path) as conn:
            conn.executescript(SCHEMA)
            for table, columns in ADDED_COLUMNS.items():
                present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
                for name, kind in columns:
                    if name not in present:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            conn.execute("CREATE INDEX IF NOT EXISTS tickets_verified_order ON tickets (verified_order, status)")

    def open_ticket(self, *, conversation_id: str, reason: str, channel: Optional[str] = None,
                    language: Optional[str] = None, order_number: Optional[str] = None,
                    problem: Optional[str] = None, situation: Optional[str] = None,
                    offered: Optional[List[str]] = None, case_reference: Optional[str] = None,
                    transcript: Optional[List[Dict[str, Any]]] = None,
                    verified_order: Optional[str] = None) -> Tuple[Ticket, bool]:
        """(ticket, created): the conversation's open ticket if it has one, else a new one. ``verified_order`` is
        the order the conversation proved it owns just now (never a mere claim): it joins that order's open
        ticket, as the module says."""
        with connect(self.path) as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT * FROM tickets WHERE conversation_id = ? AND status IN (?, ?)",
                               (conversation_id, *OPEN_STATUSES)).fetchone()
            if row is not None:
                return _ticket(row), False
            joined = conn.execute("SELECT id, status, agent FROM tickets WHERE verified_order = ? AND status IN "
                                  "(?, ?) ORDER BY id LIMIT 1", (verified_order, *OPEN_STATUSES)).fetchone() \
                if verified_order else None
            claimed_by = joined["agent"] if joined and joined["status"] == CLAIMED else None
            now = _now()
            cursor = conn.execute(
                "INSERT INTO tickets (conversation_id, channel, language, order_number, problem, situation, "
                "offered, reason, case_reference, status, agent, created_at, claimed_at, transcript, verified_order) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, channel, language, order_number, problem, situation,
                 json.dumps(offered or []), reason, case_reference, CLAIMED if claimed_by else WAITING, claimed_by,
                 now, now if claimed_by else None, json.dumps(transcript or [], ensure_ascii=False), verified_order))
            if joined:
                notes = ((joined["id"], f"Ticket {cursor.lastrowid} is another conversation about order "
                          f"{verified_order} ({channel or 'unknown channel'}). Reply to it from its own page."),
                         (cursor.lastrowid, f"Joined ticket {joined['id']}, an earlier conversation about order "
                          f"{verified_order}: one place in the queue, one agent."))
                conn.executemany("INSERT INTO ticket_messages (ticket_id, kind, author, text, created_at) "
                                 "VALUES (?, 'note', ?, ?, ?)", [(t, PORTER, text, now) for t, text in notes])
            row = conn.execute("SELECT * FROM tickets WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return _ticket(row), True

    def get(self, ticket_id: int) -> Optional[Ticket]:
        with connect(self.path) as conn:
            row = conn.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return _ticket(row) if row else None

    def open_for(self, conversation_id: str) -> Optional[Ticket]:
        with connect(self.path) as conn:
            row = conn.execute("SELECT * FROM tickets WHERE conversation_id = ? AND status IN (?, ?)",
                               (conversation_id, *OPEN_STATUSES)).fetchone()
        return _ticket(row) if row else None

    def queue(self) -> List[Ticket]:
        """Waiting tickets, oldest first: the order agents should take them in. One per verified order: the
        others of that order wait behind it, out of the queue."""
        with connect(self.path) as conn:
            rows = conn.execute("SELECT * FROM tickets t WHERE status = ? AND NOT EXISTS (SELECT 1 FROM tickets o "
                                "WHERE o.verified_order = t.verified_order AND o.status = ? AND o.id < t.id) "
                                "ORDER BY created_at, id", (WAITING, WAITING)).fetchall()
        return [_ticket(r) for r in rows]

    def list(self, statuses: Tuple[str, ...] = OPEN_STATUSES) -> List[Ticket]:
        marks = ", ".join("?" for _ in statuses)
        with connect(self.path) as conn:
            rows = conn.execute(f"SELECT * FROM tickets WHERE status IN ({marks}) ORDER BY created_at, id",
                                statuses).fetchall()
        return [_ticket(r) for r in rows]

    def position(self, ticket_id: int) -> Optional[int]:
        """1 for the next ticket an agent will take; None when the ticket is not waiting. A ticket waiting
        behind another of its order has that one's place."""
        ticket = self.get(ticket_id)
        if ticket is None or ticket.status != WAITING:
            return None
        for place, queued in enumerate(self.queue(), start=1):
            if queued.id == ticket.id or (ticket.verified_order and queued.verified_order == ticket.verified_order):
                return place
        return None

    def claim(self, ticket_id: int, agent: str) -> Ticket:
        """Gives a waiting ticket, and the others waiting for the same verified order, to an agent; raises
        ValueError when someone else has it or it is closed."""
        with connect(self.path) as conn:
            conn.execute("BEGIN IMMEDIATE")
            now = _now()
            updated = conn.execute("UPDATE tickets SET status = ?, agent = ?, claimed_at = ? "
                                   "WHERE id = ? AND status = ?", (CLAIMED, agent, now, ticket_id, WAITING))
            if updated.rowcount != 1:
                row = conn.execute("SELECT status, agent FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
                if row is None:
                    raise KeyError(ticket_id)
                raise ValueError(f"ticket {ticket_id} is {row['status']}" +
                                 (f" by {row['agent']}" if row["agent"] else ""))
            conn.execute("UPDATE tickets SET status = ?, agent = ?, claimed_at = ? WHERE status = ? AND "
                         "verified_order = (SELECT verified_order FROM tickets WHERE id = ?)",
                         (CLAIMED, agent, now, WAITING, ticket_id))
        return self.get(ticket_id)

    def close(self, ticket_id: int, status: str) -> Ticket:
        """Hands the conversation back to Porter or resolves it; only an open ticket can be closed."""
        if status not in (HANDED_BACK, RESOLVED):
            raise ValueError(f"a ticket closes as {HANDED_BACK} or {RESOLVED}, not {status!r}")
        with connect(self.path) as conn:
            conn.execute("BEGIN IMMEDIATE")
            updated = conn.execute("UPDATE tickets SET status = ?, closed_at = ? WHERE id = ? AND status IN (?, ?)",
                                   (status, _now(), ticket_id, *OPEN_STATUSES))
            if updated.rowcount != 1:
                if conn.execute("SELECT 1 FROM tickets WHERE id = ?", (ticket_id,)).fetchone() is None:
                    raise KeyError(ticket_id)
                raise ValueError(f"ticket {ticket_id} is already closed")
        return self.get(ticket_id)

    def add_message(self, ticket_id: int, kind: str, author: str, text: str) -> TicketMessage:
        """A note, or a reply in state SENDING: kept before it is sent, so no outcome can lose it."""
        if kind not in MESSAGE_KINDS:
            raise ValueError(f"message kind must be one of {MESSAGE_KINDS}, not {kind!r}")
        if not text.strip():
            raise ValueError("an empty message is not sent")
        with connect(self.path) as conn:
            if conn.execute("SELECT 1 FROM tickets WHERE id = ?", (ticket_id,)).fetchone() is None:
                raise KeyError(ticket_id)
            now, delivery = _now(), SENDING if kind == "reply" else None
            cursor = conn.execute("INSERT INTO ticket_messages (ticket_id, kind, author, text, created_at, delivery, "
                                  "delivery_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                  (ticket_id, kind, author, text, now, delivery, now if delivery else None))
            row = conn.execute("SELECT * FROM ticket_messages WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return TicketMessage(**dict(row))

    def messages(self, ticket_id: int, after_id: int = 0) -> List[TicketMessage]:
        with connect(self.path) as conn:
            rows = conn.execute("SELECT * FROM ticket_messages WHERE ticket_id = ? AND id > ? ORDER BY id",
                                (ticket_id, after_id)).fetchall()
        return [TicketMessage(**dict(r)) for r in rows]

    def message(self, message_id: int) -> Optional[TicketMessage]:
        with connect(self.path) as conn:
            row = conn.execute("SELECT * FROM ticket_messages WHERE id = ?", (message_id,)).fetchone()
        return TicketMessage(**dict(row)) if row else None

    def set_delivery(self, message_id: int, delivery: str) -> TicketMessage:
        """SENT once Rasa has the reply; NOT_CONFIRMED when that could not be established."""
        with connect(self.path) as conn:
            conn.execute("UPDATE ticket_messages SET delivery = ? WHERE id = ? AND kind = 'reply'",
                         (delivery, message_id))
        return self.message(message_id)

    def start_retry(self, message_id: int) -> Optional[TicketMessage]:
        """Moves a reply that is not confirmed (or stale in SENDING: the server stopped mid-send) back to
        SENDING, for one caller only; None when it is sent or being sent."""
        with connect(self.path) as conn:
            conn.execute("BEGIN IMMEDIATE")
            taken = conn.execute(
                "UPDATE ticket_messages SET delivery = ?, delivery_at = ? WHERE id = ? AND kind = 'reply' "
                "AND (delivery = ? OR (delivery = ? AND delivery_at < ?))",
                (SENDING, _now(), message_id, NOT_CONFIRMED, SENDING, _ago(STALE_SENDING_SECONDS))).rowcount == 1
        return self.message(message_id) if taken else None
