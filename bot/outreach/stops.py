"""Shoppers who asked Porter not to write first: by conversation (the chat's "Stop these messages" button) and
by email address (the email's unsubscribe link, or the chat's stop for the verified order's address). Kept for
good: a stop is never undone by Porter."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import select

from bot.storage import Where, database
from bot.storage.schema import alert_stops

SOURCES = ("chat", "email")


def email_contact(address: Optional[str]) -> Optional[str]:
    """How an email address is kept on the list: folded to lower case, so any spelling of it matches."""
    address = (address or "").strip().lower()
    return f"email:{address}" if "@" in address else None


class StopList:
    def __init__(self, where: Where = None) -> None:
        self.db = database(where)

    def stop(self, contacts: Iterable[Optional[str]], source: str, at: datetime) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown stop source {source!r}")
        with self.db.writing() as conn:
            for contact in {c for c in contacts if c}:
                conn.execute(
                    self.db.insert(alert_stops)
                    .values(contact=contact, source=source, created_at=at.isoformat(timespec="seconds"))
                    .on_conflict_do_nothing()
                )

    def stopped(self, *contacts: Optional[str]) -> bool:
        """True when any of these (a conversation id, an email contact) asked for no more messages."""
        wanted = [c for c in contacts if c]
        if not wanted:
            return False
        with self.db.reading() as conn:
            return (
                conn.execute(select(alert_stops.c.contact).where(alert_stops.c.contact.in_(wanted))).first() is not None
            )
