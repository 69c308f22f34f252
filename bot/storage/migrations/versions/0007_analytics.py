"""Analytics (bot/analytics/): each conversation session summed up from Rasa's events, the messages Porter did
not understand (identifiers masked), and how far the summary has read."""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "analytics_sessions" not in existing:
        op.create_table(
            "analytics_sessions",
            sa.Column("conversation_id", sa.Text, nullable=False),
            sa.Column("started_at", sa.Float, nullable=False),
            sa.Column("day", sa.Text, nullable=False),
            sa.Column("channel", sa.Text, nullable=False),
            sa.Column("language", sa.Text),
            sa.Column("reason", sa.Text),
            sa.Column("handed_over", sa.Integer, nullable=False, server_default="0"),
            sa.Column("messages", sa.Integer, nullable=False, server_default="0"),
            sa.Column("fallbacks", sa.Integer, nullable=False, server_default="0"),
            sa.PrimaryKeyConstraint("conversation_id", "started_at", name="analytics_sessions_pkey"),
        )
        op.create_index(
            "analytics_sessions_figures",
            "analytics_sessions",
            ["day", "reason", "language", "channel", "handed_over"],
        )
    if "analytics_fallbacks" not in existing:
        op.create_table(
            "analytics_fallbacks",
            sa.Column("id", sa.Integer, nullable=False),
            sa.Column("conversation_id", sa.Text, nullable=False),
            sa.Column("day", sa.Text, nullable=False),
            sa.Column("channel", sa.Text, nullable=False),
            sa.Column("language", sa.Text),
            sa.Column("text", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("id", name="analytics_fallbacks_pkey"),
            sqlite_autoincrement=True,
        )
        op.create_index("analytics_fallbacks_day", "analytics_fallbacks", ["day"])
    if "analytics_progress" not in existing:
        op.create_table(
            "analytics_progress",
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("last_event_id", sa.Integer, nullable=False),
            sa.PrimaryKeyConstraint("source", name="analytics_progress_pkey"),
        )


def downgrade() -> None:
    for table in ("analytics_progress", "analytics_fallbacks", "analytics_sessions"):
        op.drop_table(table)
