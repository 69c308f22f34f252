"""Databases as Porter wrote them before it had migrations, made with plain sqlite3 and the DDL each store ran
when it opened the file (bot/decisions/cases.py, bot/handoff/*.py, bot/authorization/*.py, bot/shop/sqlite_store.py, and
for var/channels.db bot/channels/inbox.py and whatsapp_window.py), with a few rows a shop would have."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

SHOP_DDL = """
CREATE TABLE IF NOT EXISTS orders (
    order_key TEXT PRIMARY KEY,
    order_number TEXT NOT NULL,
    tracking_number TEXT,
    document TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_tracking ON orders (tracking_number);
CREATE TABLE IF NOT EXISTS cases (
    reference TEXT PRIMARY KEY,
    order_number TEXT,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    amount REAL,
    currency TEXT,
    conversation_id TEXT,
    created_at TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS cases_order ON cases (order_number);
CREATE TABLE IF NOT EXISTS agents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_sessions (
    token_hash TEXT PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_sessions_expiry ON agent_sessions (expires_at);
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
CREATE TABLE IF NOT EXISTS order_contacts (
    order_number TEXT NOT NULL,
    contact TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    day TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (order_number, contact)
);
CREATE INDEX IF NOT EXISTS order_contacts_order ON order_contacts (order_number, day);
CREATE TABLE IF NOT EXISTS offers (
    conversation_id TEXT NOT NULL,
    order_number TEXT NOT NULL,
    problem TEXT NOT NULL,
    situation TEXT NOT NULL,
    next_step TEXT NOT NULL,
    fixes TEXT NOT NULL,
    offered_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS offers_latest ON offers (conversation_id, order_number, offered_at);
CREATE TABLE IF NOT EXISTS verifications (
    conversation_id TEXT NOT NULL,
    order_number TEXT NOT NULL,
    method TEXT NOT NULL,
    verified_at REAL NOT NULL,
    PRIMARY KEY (conversation_id, order_number, verified_at)
);
CREATE INDEX IF NOT EXISTS verifications_latest ON verifications (conversation_id, order_number, verified_at);
"""
# What TicketStore added to the tickets tables of an older release each time it opened the file.
TICKET_COLUMNS_DDL = """
ALTER TABLE ticket_messages ADD COLUMN delivery TEXT;
ALTER TABLE ticket_messages ADD COLUMN delivery_at TEXT;
ALTER TABLE tickets ADD COLUMN verified_order TEXT;
CREATE INDEX IF NOT EXISTS tickets_verified_order ON tickets (verified_order, status);
"""
SHOP_ROWS = """
INSERT INTO cases VALUES ('PC-LGCY23', 'A10024', 'refund', 'pending', 36.5, 'USD', 'rest:old',
                          '2026-11-01T10:00:00+00:00', 'A10024:parcel_not_received:refund', '{"payout": "manual"}');
INSERT INTO agents (name, role, password_hash, created_at)
    VALUES ('maria.silva', 'admin', 'scrypt$1$1$1$AA==$AA==', '2026-11-01T09:00:00+00:00');
INSERT INTO tickets (conversation_id, reason, status, created_at)
    VALUES ('rest:waiting', 'shopper_asked', 'waiting', '2026-11-01T11:00:00+00:00');
INSERT INTO ticket_messages (ticket_id, kind, author, text, created_at)
    VALUES (1, 'note', 'maria.silva', 'called back', '2026-11-01T11:05:00+00:00');
"""

CHANNELS_DDL = """
CREATE TABLE IF NOT EXISTS inbox (
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    conversation TEXT NOT NULL,
    payload TEXT,
    received_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    claimed_by TEXT,
    claimed_until REAL NOT NULL DEFAULT 0,
    handled_at REAL,
    outcome TEXT,
    PRIMARY KEY (channel, message_id)
);
CREATE INDEX IF NOT EXISTS inbox_unhandled ON inbox (channel, handled_at, claimed_until);
CREATE INDEX IF NOT EXISTS inbox_handled_at ON inbox (handled_at);
CREATE TABLE IF NOT EXISTS whatsapp_last_inbound (wa_id TEXT PRIMARY KEY, last_inbound_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS undelivered_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL,
    recipient TEXT NOT NULL, text TEXT NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL);
"""


def make_shop_db(path: Path, with_later_ticket_columns: bool = True) -> None:
    """var/shop.db as today's code left it (``with_later_ticket_columns=False``: as the first release did)."""
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(SHOP_DDL + (TICKET_COLUMNS_DDL if with_later_ticket_columns else "") + SHOP_ROWS)


def make_channels_db(path: Path, now: float) -> None:
    """var/channels.db with a handled update (a resend must stay a duplicate), one a stopped process left
    unhandled, a shopper's WhatsApp window and a reply that was never delivered."""
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(CHANNELS_DDL)
        db.execute(
            "INSERT INTO inbox (channel, message_id, conversation, received_at, handled_at, outcome) "
            "VALUES ('telegram', 'bot:1', 'telegram:555', ?, ?, 'handled')",
            (now - 60, now - 59),
        )
        db.execute(
            "INSERT INTO inbox (channel, message_id, conversation, payload, received_at, claimed_by, "
            "claimed_until) VALUES ('telegram', 'bot:2', 'telegram:555', '{\"text\": \"hello\"}', ?, "
            "'stopped', ?)",
            (now - 30, now - 1),
        )
        db.execute("INSERT INTO whatsapp_last_inbound VALUES ('447700900011', ?)", (now - 3600,))
        db.execute(
            "INSERT INTO undelivered_messages (channel, recipient, text, reason, created_at) VALUES "
            "('whatsapp', '447700900011', 'Your refund is done.', 'outside the 24-hour window', "
            "'2026-11-01T12:00:00Z')"
        )
