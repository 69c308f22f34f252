"""Handoff tickets: a conversation waiting for, or owned by, a person.

The action server opens a ticket when Porter hands over (with everything the agent needs to not ask again);
the agent desk claims, answers, hands back or resolves it. Both write here, in the shop database, so a
restart loses neither a ticket nor its place in the queue. Messages agents write (replies and internal
notes) are kept here too; what the shopper writes stays in Rasa's tracker store.

A conversation has at most one open ticket: handing over twice joins the same queue place.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from bot.db import connect
from bot.paths import shop_db_path

WAITING, CLAIMED, HANDED_BACK, RESOLVED = "waiting", "claimed", "handed_back", "resolved"
OPEN_STATUSES = (WAITING, CLAIMED)
MESSAGE_KINDS = ("reply", "note")

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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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

    def open_ticket(self, *, conversation_id: str, reason: str, channel: Optional[str] = None,
                    language: Optional[str] = None, order_number: Optional[str] = None,
                    problem: Optional[str] = None, situation: Optional[str] = None,
                    offered: Optional[List[str]] = None, case_reference: Optional[str] = None,
                    transcript: Optional[List[Dict[str, Any]]] = None) -> Tuple[Ticket, bool]:
        """(ticket, created): the conversation's open ticket if it has one, else a new waiting one."""
        with connect(self.path) as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT * FROM tickets WHERE conversation_id = ? AND status IN (?, ?)",
                               (conversation_id, *OPEN_STATUSES)).fetchone()
            if row is not None:
                return _ticket(row), False
            cursor = conn.execute(
                "INSERT INTO tickets (conversation_id, channel, language, order_number, problem, situation, "
                "offered, reason, case_reference, status, created_at, transcript) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, channel, language, order_number, problem, situation,
                 json.dumps(offered or []), reason, case_reference, WAITING, _now(),
                 json.dumps(transcript or [], ensure_ascii=False)))
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
        """Waiting tickets, oldest first: the order agents should take them in."""
        with connect(self.path) as conn:
            rows = conn.execute("SELECT * FROM tickets WHERE status = ? ORDER BY created_at, id",
                                (WAITING,)).fetchall()
        return [_ticket(r) for r in rows]

    def list(self, statuses: Tuple[str, ...] = OPEN_STATUSES) -> List[Ticket]:
        marks = ", ".join("?" for _ in statuses)
        with connect(self.path) as conn:
            rows = conn.execute(f"SELECT * FROM tickets WHERE status IN ({marks}) ORDER BY created_at, id",
                                statuses).fetchall()
        return [_ticket(r) for r in rows]

    def position(self, ticket_id: int) -> Optional[int]:
        """1 for the next ticket an agent will take; None when the ticket is not waiting."""
        for place, ticket in enumerate(self.queue(), start=1):
            if ticket.id == ticket_id:
                return place
        return None

    def claim(self, ticket_id: int, agent: str) -> Ticket:
        """Gives a waiting ticket to an agent; raises ValueError when someone else has it or it is closed."""
        with connect(self.path) as conn:
            conn.execute("BEGIN IMMEDIATE")
            updated = conn.execute("UPDATE tickets SET status = ?, agent = ?, claimed_at = ? "
                                   "WHERE id = ? AND status = ?", (CLAIMED, agent, _now(), ticket_id, WAITING))
            if updated.rowcount != 1:
                row = conn.execute("SELECT status, agent FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
                if row is None:
                    raise KeyError(ticket_id)
                raise ValueError(f"ticket {ticket_id} is {row['status']}" +
                                 (f" by {row['agent']}" if row["agent"] else ""))
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
        if kind not in MESSAGE_KINDS:
            raise ValueError(f"message kind must be one of {MESSAGE_KINDS}, not {kind!r}")
        if not text.strip():
            raise ValueError("an empty message is not sent")
        with connect(self.path) as conn:
            if conn.execute("SELECT 1 FROM tickets WHERE id = ?", (ticket_id,)).fetchone() is None:
                raise KeyError(ticket_id)
            cursor = conn.execute("INSERT INTO ticket_messages (ticket_id, kind, author, text, created_at) "
                                  "VALUES (?, ?, ?, ?, ?)", (ticket_id, kind, author, text, _now()))
            row = conn.execute("SELECT * FROM ticket_messages WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return TicketMessage(**dict(row))

    def messages(self, ticket_id: int, after_id: int = 0) -> List[TicketMessage]:
        with connect(self.path) as conn:
            rows = conn.execute("SELECT * FROM ticket_messages WHERE ticket_id = ? AND id > ? ORDER BY id",
                                (ticket_id, after_id)).fetchall()
        return [TicketMessage(**dict(r)) for r in rows]

    def remove_message(self, message_id: int) -> None:
        """Takes back an agent's reply that could not be delivered (the desk says so and keeps the draft)."""
        with connect(self.path) as conn:
            conn.execute("DELETE FROM ticket_messages WHERE id = ?", (message_id,))
