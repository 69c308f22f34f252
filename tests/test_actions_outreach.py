"""The outreach actions as the action server runs them (actions/outreach.py): what a trigger may and may not do,
and the WhatsApp template outside the 24-hour window. The demo shop and the ledgers in a real SQLite file."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

from rasa_sdk.executor import CollectingDispatcher

from actions.outreach import ActionRate, ActionTrackingAlert
from bot.authorization.verifications import VerificationLedger
from bot.channels.whatsapp_window import ConversationWindow
from bot.outreach import alert_book
from bot.outreach.alert_book import AlertBook
from bot.outreach.ratings import RatingBook
from bot.outreach.stops import StopList
from tests.conftest import make_tracker

WA = "whatsapp:34600111222"


def alert_for(conversation: str, order: str = "A10024", claim: bool = True):
    book = AlertBook()
    alert = book.open(
        alert_book.SITUATION,
        order,
        "whatsapp",
        datetime.now(timezone.utc),
        situation="stalled",
        conversation_id=conversation,
        language="es",
    )
    if claim:
        book.claim(alert.id)
    return alert


def run_alert(alert_id, sender: str):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        intent="EXTERNAL_tracking_alert", entities=[{"entity": "alert", "value": alert_id}], sender=sender
    )
    events = asyncio.run(ActionTrackingAlert().run(dispatcher, tracker, {}))
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return dispatcher.messages, slots


def test_an_alert_runs_only_in_its_conversation_while_it_is_being_sent(actions_env):
    VerificationLedger().record(WA, "A10024", "email", time.time() - 3600)
    ConversationWindow().record_inbound("34600111222")
    held = alert_for(WA, claim=False)
    assert run_alert(held.id, WA) == ([], {"requested_slot": None, "outreach_step": "done"})  # not claimed yet
    other = alert_for(WA)
    said, slots = run_alert(other.id, "whatsapp:34600999999")  # someone else's conversation
    assert said == [] and slots["outreach_step"] == "done" and "verified_order" not in slots
    said, slots = run_alert("nonsense", WA)
    assert said == [] and slots["outreach_step"] == "done"

    said, slots = run_alert(other.id, WA)
    assert [m["response"] for m in said] == ["utter_alert_intro"]
    assert (slots["verified_order"], slots["outreach_step"], slots["language"]) == ("A10024", "resolve", "es")
    assert VerificationLedger().latest(WA, "A10024").method == "alert"


def test_an_alert_needs_an_earlier_verification_of_the_order_in_that_conversation(actions_env):
    alert = alert_for(WA)
    said, slots = run_alert(alert.id, WA)
    assert said == [] and "verified_order" not in slots


def test_a_shopper_who_said_stop_gets_nothing_even_from_an_alert_under_way(actions_env):
    VerificationLedger().record(WA, "A10024", "email", time.time() - 3600)
    StopList().stop([WA], "chat", datetime.now(timezone.utc))
    said, slots = run_alert(alert_for(WA).id, WA)
    assert said == [] and slots["outreach_step"] == "done"


def test_outside_the_whatsapp_window_only_the_configured_template_goes_out(actions_env, monkeypatch):
    monkeypatch.setenv("PORTER_WHATSAPP_ALERT_TEMPLATE", "order_update")
    VerificationLedger().record(WA, "A10024", "email", time.time() - 3 * 86400)
    ConversationWindow().record_inbound("34600111222", time.time() - 2 * 86400)  # last wrote two days ago
    said, slots = run_alert(alert_for(WA).id, WA)
    [template] = [m["custom"] for m in said]
    assert template == {
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "es"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "A10024"}]}],
        },
    }
    assert slots["outreach_step"] == "done"  # free-form messages would not be delivered: nothing more is said


def test_a_rating_nobody_asked_for_is_not_kept(actions_env):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent="rate", entities=[{"entity": "rating", "value": 1}], sender="telegram:5")
    events = asyncio.run(ActionRate().run(dispatcher, tracker, {}))
    assert {"event": "slot", "name": "outreach_step", "value": "done", "timestamp": None} in events
    assert RatingBook().list() == []
