"""Rasa's SQL tracker store, made to live through a database restart and to read and save a turn cheaply
(endpoints.yml on SQLite, endpoints.cluster.yml on PostgreSQL).

What Rasa's ``SQLTrackerStore`` does not do, and a shop needs:
- pooled connections are checked before use (``pool_pre_ping``): after PostgreSQL restarted, every connection
  the pool held is dead, and without the check each replica's next turns fail even though the server is back;
- a database that is away for a moment (a restart, a fail-over) is waited for, up to
  ``PORTER_TRACKER_WAIT_SECONDS`` (default 20), so the shopper sees a short delay instead of an error;
- when it stays away, the turn fails loudly (``TrackerStoreUnavailable``). Rasa's agent wraps every tracker
  store in a ``FailSafeTrackerStore`` that would instead carry on with an empty conversation kept in one
  process's memory, answering the shopper as a stranger and forking the conversation; ``python -m bot rasa``
  leaves stores marked ``keeps_its_own_failures`` unwrapped (bot/rasa_server.py), and Porter's channels
  answer a failed turn with an apology and ask to send the message again (bot/channels/notices.py);
- saving a turn does not count the conversation's stored events first: Rasa counts them with a query on every
  save to know which events are new (6 % of Rasa's CPU per turn, issue 13), while the store knows how many it
  read. The conversation's lock (Rasa's lock store) keeps anyone else from adding to it in between; a save
  tried again after a lost connection, or of a tracker this store did not read, counts as Rasa does;
- events are read and written as rows, not as ORM objects: Rasa's own query reading only the event column, and
  one multi-row insert per turn (the same columns Rasa writes). SQLAlchemy's ORM bookkeeping was most of the
  cost of reading and saving a conversation.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import time
from typing import Any, Awaitable, Callable, Iterator, Optional, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.env_seconds import seconds_setting
from bot.storage.engine import write_ahead_log

logger = logging.getLogger(__name__)

DEFAULT_WAIT_SECONDS = 20.0
FIRST_PAUSE, LONGEST_PAUSE = 0.25, 2.0  # seconds between attempts while the database is away

Result = TypeVar("Result")
# libpq's: give up connecting after 5 s, and find a connection whose server vanished (a frozen or partitioned
# host sends no refusal) within about 10 s instead of the system's two hours of TCP keepalive.
DEAD_SERVER_SETTINGS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10000,
}
# Set on a tracker this store read or saved: how many of its events are in the database.
EVENTS_STORED = "_porter_events_stored"


class TrackerStoreUnavailable(RuntimeError):
    """The conversations' database could not be reached within the wait: the turn is not handled."""


def wait_seconds() -> float:
    return seconds_setting(os.environ, "PORTER_TRACKER_WAIT_SECONDS", DEFAULT_WAIT_SECONDS)


def _database_away(exc: Exception) -> bool:
    """A lost or refused connection, as opposed to a mistake in a query (which waiting does not mend)."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


class WaitingSQLTrackerStore(SQLTrackerStore):
    keeps_its_own_failures = True  # bot/rasa_server.py: not wrapped in Rasa's in-memory fallback

    def __init__(self, *args, **kwargs) -> None:
        self.wait = wait_seconds()
        super().__init__(*args, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        options = create_engine_kwargs(url)
        sqlite = url.get_backend_name() == "sqlite"
        if url.get_backend_name() == "postgresql":  # a server that stops answering is noticed, not waited on
            options["connect_args"] = {**DEAD_SERVER_SETTINGS, **options.get("connect_args", {})}
        if sqlite:
            # Connections kept open (SQLAlchemy 1.4 opens and closes one per session on a SQLite file): closing
            # the last one checkpoints the write-ahead log into the file and deletes it, two syncs per turn.
            # Rasa uses its store from its event loop's thread only; the pool hands a connection to one user
            # at a time.
            options.update(poolclass=sa.pool.QueuePool, connect_args={"check_same_thread": False})
        # A SQLite file has no server to lose, and a ping would be one more query per turn.
        self.engine = sa.create_engine(url, pool_pre_ping=not sqlite, hide_parameters=True, **options)
        if sqlite:
            # WAL mode, as the shop's database (bot/storage/engine.py): a commit costs 0.7 ms instead of the
            # rollback journal's 2.3 ms here, just as durable.
            sa.event.listen(self.engine, "connect", lambda dbapi_connection, _record: write_ahead_log(dbapi_connection))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _patiently(self, what: str, attempt: Callable[[], Awaitable[Result]]) -> Result:
        deadline, pause = time.monotonic() + self.wait, FIRST_PAUSE
        while True:
            try:
                return await attempt()
            except (OperationalError, DBAPIError) as exc:
                if not _database_away(exc):
                    raise
                if time.monotonic() + pause > deadline:
                    logger.error(
                        "tracker store: the database is unreachable; %s given up after %.0f s (%s)",
                        what,
                        self.wait,
                        type(exc.orig).__name__ if exc.orig else type(exc).__name__,
                    )
                    raise TrackerStoreUnavailable(f"the conversations' database is unreachable ({what})") from None
                logger.warning("tracker store: the database is unreachable; %s tried again in %.2f s", what, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        tracker = await self._patiently(
            "reading a conversation", lambda: super(WaitingSQLTrackerStore, self).retrieve(sender_id)
        )
        if tracker is not None:  # every event of its latest session, as Rasa's save counts them
            tracker.__dict__[EVENTS_STORED] = len(tracker.events)
        return tracker

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        return await self._patiently(
            "reading a conversation", lambda: super(WaitingSQLTrackerStore, self).retrieve_full_tracker(sender_id)
        )

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            rows = (
                self._event_query(session, sender_id, fetch_events_from_all_sessions)
                .with_entities(self.SQLEvent.data)
                .all()
            )
        if not rows or not self.domain:
            return None
        return DialogueStateTracker.from_dict(sender_id, [json.loads(data) for (data,) in rows], self.domain.slots)

    def _insert_new_events(self, tracker: DialogueStateTracker) -> None:
        """The events of ``tracker`` the database does not have, in one insert, in one transaction."""
        with self.session_scope() as session:
            rows = []
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": tracker.sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "action_name": data.get("name"),
                        "intent_name": ((data.get("parse_data") or {}).get("intent") or {}).get("name"),
                        "data": json.dumps(data),
                    }
                )
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()

    async def save(self, tracker: DialogueStateTracker) -> None:
        first = True

        async def attempt() -> None:
            nonlocal first
            if not first:  # the failed attempt may have been committed: count what the database has
                tracker.__dict__.pop(EVENTS_STORED, None)
            first = False
            await self.stream_events(tracker)
            self._insert_new_events(tracker)

        await self._patiently("saving a conversation", attempt)
        tracker.__dict__[EVENTS_STORED] = len(tracker.events)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        stored = tracker.__dict__.get(EVENTS_STORED)
        if stored is None:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    async def keys(self):
        return await self._patiently("listing conversations", lambda: super(WaitingSQLTrackerStore, self).keys())
