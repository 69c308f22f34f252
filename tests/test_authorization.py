"""Defence in depth: an action asked to show an order or move money re-derives, from the conversation's own
events and the action server's ledgers, that this conversation verified the order in this session and was
offered the fix, and from the store and the policy that the fix is allowed now. Slot values alone count for
nothing (actions/authorization.py)."""

import asyncio
import time

from rasa_sdk.executor import CollectingDispatcher

from actions.authorization import verified_order
from actions.resolution import ActionCarryOutFix
from actions.resolve_order import ActionResolveOrder
from bot.authorization.verifications import VerificationLedger
from bot.decisions.cases import CaseBook
from tests.conftest import make_tracker, offer_fixes


def run(action, **tracker_args):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, make_tracker(**tracker_args), {}))
    return [m["response"] for m in dispatcher.messages], dispatcher.messages, events


def test_a_forged_verified_order_slot_reveals_nothing_about_the_order(actions_env):
    said, messages, _ = run(
        ActionResolveOrder(),
        slots={"verified_order": "A10024", "problem": "where_is_my_order"},
        verified_by_lookup=False,
        sender="attacker",
    )
    assert "utter_situation_stalled" not in said and said[0] == "utter_verification_handoff"
    assert not any("YunExpress" in str(m) or "LX" in str(m.get("scans", "")) for m in messages)


def test_a_made_up_tracker_cannot_open_a_refund_above_the_limit(actions_env):
    # A10032 is worth 620 USD: above automatic_value_limit, so Porter only ever offers a person.
    slots = {
        "verified_order": "A10032",
        "problem": "parcel_not_received",
        "situation": "stalled",
        "fix": "refund",
        "offered_fixes": ["refund", "reship"],
    }
    said, _, _ = run(ActionCarryOutFix(), slots=slots, verified_by_lookup=False, sender="attacker")
    assert said[0] == "utter_fix_refused" and CaseBook().list(type="refund") == []
    # even verified and shown the real offer (a person), a refund it was never offered is refused
    offer_fixes(slots, sender="owner")
    said, _, _ = run(ActionCarryOutFix(), slots=slots, sender="owner")
    assert said[0] == "utter_fix_refused" and CaseBook().list(type="refund") == []


def test_a_verification_in_another_conversation_does_not_count_here(actions_env):
    VerificationLedger().record("the-owner", "A10024", "email", time.time())
    tracker = make_tracker(slots={"verified_order": "A10024"}, sender="someone-else")
    VerificationLedger().record("someone-else", "A10029", "email", time.time())  # their own order, not this one
    assert (
        verified_order(make_tracker(slots={"verified_order": "A10024"}, sender="nobody", verified_by_lookup=False))
        is None
    )
    assert verified_order(tracker) == "A10024"  # make_tracker verified it in this conversation
    forged_events = [
        {"event": "session_started", "timestamp": time.time() - 60},
        {"event": "action", "name": "order_lookup_form"},
        {"event": "slot", "name": "verified_order", "value": "A10024"},
    ]
    unrecorded = make_tracker(
        slots={"verified_order": "A10024"}, sender="intruder", verified_by_lookup=False, events=forged_events
    )
    assert verified_order(unrecorded) is None  # the events claim it, the ledger has no such verification


def test_a_verification_from_an_earlier_session_or_after_long_silence_has_expired(actions_env):
    now = time.time()
    VerificationLedger().record("returning", "A10024", "email", now - 3 * 3600)
    earlier_session = [
        {"event": "session_started", "timestamp": now - 4 * 3600},
        {"event": "action", "name": "order_lookup_form"},
        {"event": "slot", "name": "verified_order", "value": "A10024"},
        {"event": "session_started", "timestamp": now - 60},
    ]
    tracker = make_tracker(
        slots={"verified_order": "A10024"}, sender="returning", verified_by_lookup=False, events=earlier_session
    )
    assert verified_order(tracker) is None  # the last slot event belongs to the earlier session
    silent = [
        {"event": "session_started", "timestamp": now - 3 * 3600 - 60},
        {"event": "action", "name": "order_lookup_form"},
        {"event": "slot", "name": "verified_order", "value": "A10024"},
        {"event": "user", "text": "refund please", "timestamp": now},
    ]
    tracker = make_tracker(
        slots={"verified_order": "A10024"}, sender="returning", verified_by_lookup=False, events=silent
    )
    assert verified_order(tracker) is None  # three hours without a word, over the policy's 30 minutes
    talking = (
        silent[:3]
        + [{"event": "user", "text": "still there?", "timestamp": now - 3 * 3600 + 20 * 60 * k} for k in range(1, 10)]
        + silent[3:]
    )
    tracker = make_tracker(
        slots={"verified_order": "A10024"}, sender="returning", verified_by_lookup=False, events=talking
    )
    assert verified_order(tracker) == "A10024"  # a message every 20 minutes keeps it fresh


def test_a_fix_the_policy_no_longer_allows_is_refused(actions_env):
    slots = {"verified_order": "A10023", "problem": "where_is_my_order", "fix": "refund"}
    offer_fixes(slots)  # in transit: Porter offers tracking alerts, not money
    said, _, _ = run(ActionCarryOutFix(), slots=dict(slots, offered_fixes=["refund"]))
    assert said[0] == "utter_fix_refused" and CaseBook().list(type="refund") == []
    [handoff] = CaseBook().list(type="handoff_request")
    assert handoff.details["reason"] == "fix_refused"
