"""Which widget conversations have a chat window open right now (bot/channels/widget_presence.py): an agent's
reply to a shopper whose window is closed also goes by email."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "widget_presence" not in set(sa.inspect(op.get_bind()).get_table_names()):
        op.create_table(
            "widget_presence",
            sa.Column("socket_id", sa.Text, nullable=False),
            sa.Column("conversation_id", sa.Text, nullable=False),
            sa.Column("seen_at", sa.Float, nullable=False),
            sa.PrimaryKeyConstraint("socket_id", name="widget_presence_pkey"),
        )
        op.create_index("widget_presence_conversation", "widget_presence", ["conversation_id"])


def downgrade() -> None:
    op.drop_table("widget_presence")
