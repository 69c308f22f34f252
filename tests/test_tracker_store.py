"""Conversations kept in Rasa's SQL store through Porter's (bot/tracker_store.py), on a real SQLite file: every
event of every turn is stored once, across new sessions and after a failed save."""

import asyncio

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered

from bot.tracker_store import WaitingSQLTrackerStore

DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  language: {type: text, mappings: [{type: custom}]}
""")


def store_on(path):
    store = WaitingSQLTrackerStore(dialect="sqlite", db=str(path))
    store.domain = DOMAIN
    return store


def stored_events(path, sender):
    store = store_on(path)
    return [e.as_dict()["event"] for e in asyncio.run(store.retrieve_full_tracker(sender)).events]


def turn(store, sender, text, *more):
    async def run():
        tracker = await store.get_or_create_tracker(sender)
        tracker.update(UserUttered(text))
        for event in more:
            tracker.update(event)
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)

    asyncio.run(run())


def test_each_turn_is_stored_once_across_sessions(tmp_path):
    db = tmp_path / "tracker.db"
    store = store_on(db)
    turn(store, "rest:a", "hi", SlotSet("language", "es"))
    turn(store, "rest:a", "my parcel")
    # a new session starts inside a turn, as action_session_start does
    turn(store, "rest:a", "hello again", SessionStarted(), SlotSet("language", "es"))
    turn(store, "rest:a", "thanks")
    events = stored_events(db, "rest:a")
    assert events.count("user") == 4 and events.count("session_started") == 1
    assert len(events) == 1 + 3 + 2 + 4 + 2  # the first action_listen, then each turn's events
    again = asyncio.run(store_on(db).retrieve("rest:a"))
    assert [e.as_dict().get("text") for e in again.events if e.type_name == "user"] == ["hello again", "thanks"]
    assert again.get_slot("language") == "es"


def test_a_save_tried_again_after_it_was_committed_stores_nothing_twice(tmp_path, monkeypatch):
    """A connection lost after the commit: the save is tried again, and counts what the database has."""
    from sqlalchemy.exc import OperationalError

    db = tmp_path / "tracker.db"
    store = store_on(db)
    turn(store, "rest:b", "hi")
    calls = []
    insert = WaitingSQLTrackerStore._insert_new_events

    def committed_then_lost(self, tracker):
        insert(self, tracker)
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("COMMIT", {}, ConnectionError("connection lost after commit"))

    monkeypatch.setattr(WaitingSQLTrackerStore, "_insert_new_events", committed_then_lost)
    turn(store, "rest:b", "where is my order")
    assert len(calls) == 2
    assert stored_events(db, "rest:b").count("user") == 2
