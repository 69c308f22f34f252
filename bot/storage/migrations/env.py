"""Alembic's entry point, run by bot/storage/migrate.py on the connection it has locked for the upgrade."""

from alembic import context

from bot.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():  # inside the caller's transaction: it commits, or nothing happened
    context.run_migrations()
