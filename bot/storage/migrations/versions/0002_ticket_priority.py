"""Tickets say why they go first (anger, high value, contacted before) and whom they are from.

``priority`` is a JSON list of bot/handoff/priority.py's reasons, decided when Porter hands over; the desk orders
the queue by it, then by age. ``shopper_name`` is the verified order's customer name, shown in the queue. Tickets
opened before this revision have neither: no priority, no name.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("tickets")}
    if "priority" not in columns:
        op.add_column("tickets", sa.Column("priority", sa.Text, nullable=False, server_default="[]"))
    if "shopper_name" not in columns:
        op.add_column("tickets", sa.Column("shopper_name", sa.Text, nullable=True))
