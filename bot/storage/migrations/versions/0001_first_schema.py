"""The first schema: every table Porter wrote before migrations existed, and the indexes that make the stores'
guarantees the database's own (one refund or reshipment per order, one agent name whatever its case).

A database made before migrations (var/shop.db, its tables created by each store as it opened) has some or all
of these tables and no version: the missing tables are created, and the existing ones get the columns and
indexes they lack. Their rows stay as they are.

The tables are written out here as they were at this revision, not imported from bot/storage/schema.py, which
moves on with later revisions.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Column, Float, ForeignKey, Index, Integer, PrimaryKeyConstraint, Table, Text, UniqueConstraint

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

metadata = sa.MetaData(
    naming_convention={
        "pk": "%(table_name)s_pkey",
        "uq": "%(table_name)s_%(column_0_name)s_key",
        "fk": "%(table_name)s_%(column_0_name)s_fkey",
    }
)


def _only_where(condition: str) -> dict:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


Table(
    "orders",
    metadata,
    Column("order_key", Text, primary_key=True),
    Column("order_number", Text, nullable=False),
    Column("tracking_number", Text),
    Column("document", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Index("orders_tracking", "tracking_number"),
)
Table(
    "cases",
    metadata,
    Column("reference", Text, primary_key=True),
    Column("order_number", Text),
    Column("type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("amount", Float),
    Column("currency", Text),
    Column("conversation_id", Text),
    Column("created_at", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("details", Text, nullable=False, server_default="{}"),
    UniqueConstraint("idempotency_key"),
    Index("cases_order", "order_number"),
    Index("cases_one_payout_per_order", "order_number", unique=True, **_only_where("type IN ('refund', 'reshipment')")),
)
agents = Table(
    "agents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    sqlite_autoincrement=True,
)
Index("agents_name_folded", sa.func.lower(agents.c.name), unique=True)
Table(
    "agent_sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False),
    Column("csrf_token", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
    Index("agent_sessions_expiry", "expires_at"),
)
Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Text, nullable=False),
    Column("channel", Text),
    Column("language", Text),
    Column("order_number", Text),
    Column("problem", Text),
    Column("situation", Text),
    Column("offered", Text, nullable=False, server_default="[]"),
    Column("reason", Text, nullable=False),
    Column("case_reference", Text),
    Column("status", Text, nullable=False),
    Column("agent", Text),
    Column("created_at", Text, nullable=False),
    Column("claimed_at", Text),
    Column("closed_at", Text),
    Column("transcript", Text, nullable=False, server_default="[]"),
    Column("verified_order", Text),
    Index("tickets_status", "status", "created_at"),
    Index("tickets_one_open", "conversation_id", unique=True, **_only_where("status IN ('waiting', 'claimed')")),
    Index("tickets_verified_order", "verified_order", "status"),
    sqlite_autoincrement=True,
)
Table(
    "ticket_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("delivery", Text),
    Column("delivery_at", Text),
    Index("ticket_messages_ticket", "ticket_id", "id"),
    sqlite_autoincrement=True,
)
Table(
    "order_contacts",
    metadata,
    Column("order_number", Text, nullable=False),
    Column("contact", Text, nullable=False),
    Column("conversation_id", Text, nullable=False),
    Column("day", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    PrimaryKeyConstraint("order_number", "contact"),
    Index("order_contacts_order", "order_number", "day"),
)
Table(
    "offers",
    metadata,
    Column("conversation_id", Text, nullable=False),
    Column("order_number", Text, nullable=False),
    Column("problem", Text, nullable=False),
    Column("situation", Text, nullable=False),
    Column("next_step", Text, nullable=False),
    Column("fixes", Text, nullable=False),
    Column("offered_at", Float, nullable=False),
    Index("offers_latest", "conversation_id", "order_number", "offered_at"),
)
Table(
    "verifications",
    metadata,
    Column("conversation_id", Text, nullable=False),
    Column("order_number", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("verified_at", Float, nullable=False),
    PrimaryKeyConstraint("conversation_id", "order_number", "verified_at"),
    Index("verifications_latest", "conversation_id", "order_number", "verified_at"),
)
Table(
    "inbox",
    metadata,
    Column("channel", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("conversation", Text, nullable=False),
    Column("payload", Text),
    Column("received_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("claimed_by", Text),
    Column("claimed_until", Float, nullable=False, server_default="0"),
    Column("handled_at", Float),
    Column("outcome", Text),
    PrimaryKeyConstraint("channel", "message_id"),
    Index("inbox_unhandled", "channel", "handled_at", "claimed_until"),
    Index("inbox_handled_at", "handled_at"),
)
Table(
    "whatsapp_last_inbound",
    metadata,
    Column("wa_id", Text, primary_key=True),
    Column("last_inbound_at", Float, nullable=False),
)
Table(
    "undelivered_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    sqlite_autoincrement=True,
)


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for table in metadata.sorted_tables:
        if table.name in existing:
            _complete(bind, table)
        else:
            table.create(bind)


def _complete(bind, table: Table) -> None:
    """Brings a table made before migrations to this revision: the columns added since its release (all of them
    nullable), and the indexes it lacks."""
    inspector = sa.inspect(bind)
    columns = {column["name"] for column in inspector.get_columns(table.name)}
    for column in table.columns:
        if column.name not in columns:
            op.add_column(table.name, Column(column.name, column.type, nullable=True))
    indexes = {index["name"] for index in inspector.get_indexes(table.name)}
    for index in table.indexes:
        if index.name not in indexes:
            index.create(bind)
