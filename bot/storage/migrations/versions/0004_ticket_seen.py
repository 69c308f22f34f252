"""The last shopper message the ticket's agent has seen (its Rasa message id), for the desk's unread marker."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "seen_message" not in {column["name"] for column in sa.inspect(op.get_bind()).get_columns("tickets")}:
        op.add_column("tickets", sa.Column("seen_message", sa.Text, nullable=True))
