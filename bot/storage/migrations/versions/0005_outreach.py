"""Porter speaking first (bot/outreach/): the watcher's view of each shipment, alerts and follow-ups, stop
requests, tracking pushes already taken, and satisfaction ratings."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _only_where(condition: str) -> dict:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "watched_shipments" not in existing:
        op.create_table(
            "watched_shipments",
            sa.Column("order_number", sa.Text, nullable=False),
            sa.Column("situation", sa.Text, nullable=False),
            sa.Column("last_event_at", sa.Text),
            sa.Column("checked_at", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("order_number", name="watched_shipments_pkey"),
        )
    if "alerts" not in existing:
        op.create_table(
            "alerts",
            sa.Column("id", sa.Integer, nullable=False),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("order_number", sa.Text, nullable=False),
            sa.Column("situation", sa.Text),
            sa.Column("case_reference", sa.Text),
            sa.Column("conversation_id", sa.Text),
            sa.Column("channel", sa.Text, nullable=False),
            sa.Column("language", sa.Text),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("detail", sa.Text),
            sa.Column("created_at", sa.Text, nullable=False),
            sa.Column("due_at", sa.Text),
            sa.Column("sent_at", sa.Text),
            sa.PrimaryKeyConstraint("id", name="alerts_pkey"),
            sqlite_autoincrement=True,
        )
        op.create_index("alerts_order", "alerts", ["order_number", "created_at"])
        op.create_index("alerts_held", "alerts", ["status", "due_at"])
        op.create_index(
            "alerts_one_follow_up",
            "alerts",
            ["case_reference", "kind"],
            unique=True,
            **_only_where("case_reference IS NOT NULL"),
        )
    if "alert_stops" not in existing:
        op.create_table(
            "alert_stops",
            sa.Column("contact", sa.Text, nullable=False),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("created_at", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("contact", name="alert_stops_pkey"),
        )
    if "tracking_pushes" not in existing:
        op.create_table(
            "tracking_pushes",
            sa.Column("service", sa.Text, nullable=False),
            sa.Column("delivery_id", sa.Text, nullable=False),
            sa.Column("received_at", sa.Float, nullable=False),
            sa.PrimaryKeyConstraint("service", "delivery_id", name="tracking_pushes_pkey"),
        )
        op.create_index("tracking_pushes_received", "tracking_pushes", ["received_at"])
    if "ratings" not in existing:
        op.create_table(
            "ratings",
            sa.Column("id", sa.Integer, nullable=False),
            sa.Column("conversation_id", sa.Text, nullable=False),
            sa.Column("channel", sa.Text),
            sa.Column("language", sa.Text),
            sa.Column("order_number", sa.Text),
            sa.Column("case_reference", sa.Text),
            sa.Column("problem", sa.Text),
            sa.Column("agent", sa.Text),
            sa.Column("ticket_id", sa.Integer),
            sa.Column("score", sa.Integer, nullable=False),
            sa.Column("comment", sa.Text),
            sa.Column("created_at", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("id", name="ratings_pkey"),
            sqlite_autoincrement=True,
        )
        op.create_index("ratings_created", "ratings", ["created_at"])
        op.create_index("ratings_conversation", "ratings", ["conversation_id", "created_at"])
