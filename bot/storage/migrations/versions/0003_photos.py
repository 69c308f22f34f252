"""Photos shoppers send (the widget's attachment button): kept in the database, so every web server and action
server of a deployment reads the same ones, and shown to agents only."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "photos" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "photos",
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("token", name="photos_pkey"),
    )
    op.create_index("photos_conversation", "photos", ["conversation_id", "created_at"])
