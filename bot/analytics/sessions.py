"""Each conversation session summed up in one row, from Rasa's events, read once and in order.

Reading every event for every report would take minutes at a shop's scale; this keeps, per session, the day, the
channel, the language, the first kind of problem raised, whether a person took over, how many messages and how
many Porter did not understand, and remembers the id of the last event read. Each update reads only what Rasa
wrote since, so a report is a few GROUP BYs over one small table. The shopper's words are not kept, except the
messages Porter did not understand, with identifiers masked (bot/analytics/masking.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Dict, List, Optional, Set

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from bot.analytics import rasa_events
from bot.analytics.masking import masked
from bot.channels.conversation_ids import channel_of
from bot.decisions import problems
from bot.storage import Where, database
from bot.storage.schema import analytics_fallbacks, analytics_progress, analytics_sessions

SOURCE = "rasa_events"
BATCH = 20_000
NOT_UNDERSTOOD = "nlu_fallback"
OTHER_CHANNEL = "other"


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).date().isoformat()


def _new_session(conversation_id: str, started_at: float, language: Optional[str] = None) -> Dict:
    return dict(
        conversation_id=conversation_id,
        started_at=started_at,
        day=_day(started_at),
        channel=channel_of(conversation_id) or OTHER_CHANNEL,
        language=language,
        reason=None,
        handed_over=0,
        messages=0,
        fallbacks=0,
        _stored=False,
    )


def _data(event: rasa_events.Event) -> Dict:
    try:
        data = json.loads(event.data)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class SessionIndex:
    def __init__(self, where: Where = None, events_url: Optional[str] = None) -> None:
        self.db = database(where)
        self.events_url = events_url

    def last_event_id(self) -> int:
        with self.db.reading() as conn:
            found = conn.execute(
                select(analytics_progress.c.last_event_id).where(analytics_progress.c.source == SOURCE)
            ).scalar()
        return int(found or 0)

    def update(self, batch: int = BATCH) -> int:
        """Reads the events Rasa wrote since the last update; returns how many."""
        total = 0
        while True:
            events = rasa_events.read_after(self.last_event_id(), batch, self.events_url)
            if not events:
                return total
            with self.db.writing() as conn:
                self.db.lock(conn, "analytics session index")
                if events[0].id <= self._progress(conn):  # another process took this batch meanwhile
                    continue
                self._apply(conn, events)
            total += len(events)

    @staticmethod
    def _progress(conn: Connection) -> int:
        found = conn.execute(
            select(analytics_progress.c.last_event_id).where(analytics_progress.c.source == SOURCE)
        ).scalar()
        return int(found or 0)

    def _apply(self, conn: Connection, events: List[rasa_events.Event]) -> None:
        # conversation -> its current session, as it will be written (the stored ones read in one go)
        sessions: Dict[str, Dict] = self._latest_of(conn, {event.sender_id for event in events})
        finished: List[Dict] = []
        fallbacks: List[Dict] = []
        for event in events:
            sender = event.sender_id
            if event.type_name == "session_started":
                before = sessions.get(sender)
                if before is not None and before["started_at"] == event.timestamp:
                    sessions[sender] = before  # action_session_start's events, stamped the same moment
                    continue
                if before is not None and (before["_stored"] or before["messages"]):
                    finished.append(before)  # an empty stretch before the first session is not a conversation
                sessions[sender] = _new_session(sender, event.timestamp, before["language"] if before else None)
                continue
            session = sessions.get(sender) or _new_session(sender, event.timestamp)
            sessions[sender] = session
            if event.type_name == "user":
                session["messages"] += 1
                intent = event.intent_name
                if intent in problems.ALL and session["reason"] is None:
                    session["reason"] = intent
                if intent == NOT_UNDERSTOOD:
                    session["fallbacks"] += 1
                    text = masked(_data(event).get("text") or "")
                    if text:
                        fallbacks.append(
                            dict(
                                conversation_id=sender,
                                day=_day(event.timestamp),
                                channel=session["channel"],
                                language=session["language"],
                                text=text,
                            )
                        )
            elif event.type_name == "slot" and '"language"' in event.data:
                data = _data(event)
                if data.get("name") == "language" and isinstance(data.get("value"), str):
                    session["language"] = data["value"][:8]
            elif event.type_name == "pause":  # ConversationPaused: a person took over
                session["handed_over"] = 1
        touched = finished + list(sessions.values())
        fresh = [self._row(x) for x in touched if not x["_stored"]]
        if fresh:
            conn.execute(analytics_sessions.insert(), fresh)  # one statement for all the new sessions
        for session in touched:
            if session["_stored"]:
                self._update(conn, session)
        if fallbacks:
            conn.execute(analytics_fallbacks.insert(), fallbacks)
        conn.execute(
            self.db.insert(analytics_progress)
            .values(source=SOURCE, last_event_id=events[-1].id)
            .on_conflict_do_update(index_elements=[analytics_progress.c.source], set_={"last_event_id": events[-1].id})
        )

    @staticmethod
    def _latest_of(conn: Connection, conversations: Set[str]) -> Dict[str, Dict]:
        """Each of these conversations' latest stored session."""
        s = analytics_sessions.c
        found: Dict[str, Dict] = {}
        wanted = sorted(conversations)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            latest = (
                select(s.conversation_id, func.max(s.started_at).label("started_at"))
                .where(s.conversation_id.in_(chunk))
                .group_by(s.conversation_id)
                .subquery()
            )
            rows = conn.execute(
                select(analytics_sessions).join(
                    latest,
                    (s.conversation_id == latest.c.conversation_id) & (s.started_at == latest.c.started_at),
                )
            ).all()
            found.update({row.conversation_id: dict(row._mapping, _stored=True) for row in rows})
        return found

    @staticmethod
    def _row(session: Dict) -> Dict:
        return {k: v for k, v in session.items() if not k.startswith("_")}

    def _update(self, conn: Connection, session: Dict) -> None:
        values = self._row(session)
        conn.execute(
            update(analytics_sessions)
            .where(
                analytics_sessions.c.conversation_id == values["conversation_id"],
                analytics_sessions.c.started_at == values["started_at"],
            )
            .values(**values)
        )
