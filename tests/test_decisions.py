"""The playbook's table, row by row, on the demo shop (decision table of situations and remedies)."""

from datetime import datetime, timedelta, timezone
from dataclasses import replace

import pytest

from bot.decisions import remedies as r
from bot.decisions import situations as s
from bot.paths import PROJECT_ROOT
from bot.decisions.policy import load_policy

POLICY = load_policy(PROJECT_ROOT / "policy.yml")


def decide(store, number, problem="parcel_not_received", now=None, policy=POLICY):
    order = store.get(number)
    situation = s.classify(order, now or datetime.now(timezone.utc), policy)
    return situation.kind, r.decide(problem, order, situation, policy)


@pytest.mark.parametrize(
    "number, kind, next_step, fixes",
    [
        ("A10023", s.IN_TRANSIT, r.CHOOSE_FIX, (r.NOTIFY, r.NONE)),  # reassure, offer a scan alert
        ("A10024", s.STALLED, r.CHOOSE_FIX, (r.REFUND, r.RESHIP)),  # no scan for 12 days
        ("#1001", s.UNTRACKED_OVERDUE, r.CHOOSE_FIX, (r.REFUND, r.RESHIP)),  # economy, low value
        ("PO-88812", s.DELIVERED, r.CHOOSE_FIX, (r.REFUND, r.RESHIP)),  # delivered 4 days ago, wait is over
        ("A10025", s.DELIVERED, r.DONE, ()),  # delivered 10 h ago: check first
        ("123456789", s.FAILED_ATTEMPT, r.DONE, ()),  # how to rebook or collect
        ("A10026", s.AT_PICKUP_POINT, r.DONE, ()),  # pickup place and deadline
        ("A10027", s.ADDRESS_PROBLEM, r.COLLECT_ADDRESS, (r.RESHIP,)),  # returned: new address, free reship
        ("A10028", s.CUSTOMS_HOLD, r.CHOOSE_FIX, (r.PERSON, r.NONE)),  # explain, logistics can help
        ("A10029", s.LOST, r.CHOOSE_FIX, (r.REFUND, r.RESHIP)),  # lost by the carrier
        ("A10030", s.NOT_SHIPPED, r.DONE, ()),
        ("A10032", s.STALLED, r.CHOOSE_FIX, (r.PERSON, r.NONE)),  # above the automatic limit
    ],
)
def test_missing_parcel_rows(demo_store, number, kind, next_step, fixes):
    got_kind, remedy = decide(demo_store, number)
    assert (got_kind, remedy.next_step, remedy.fixes) == (kind, next_step, fixes)


@pytest.mark.parametrize(
    "number, next_step, fixes, reason",
    [
        ("A10030", r.COLLECT_ADDRESS, (), "update"),  # not shipped: update the order
        ("A10023", r.COLLECT_ADDRESS, (r.RESHIP,), "reship"),  # shipped, low value: reship to the new address
        ("A10031", r.CHOOSE_FIX, (r.DISCOUNT, r.NONE), "too_late"),  # shipped, high value: explain, discount
        ("PO-88812", r.DONE, (), s.DELIVERED),
    ],
)
def test_address_change_rows(demo_store, number, next_step, fixes, reason):
    _, remedy = decide(demo_store, number, problem="change_address")
    assert (remedy.next_step, remedy.fixes, remedy.reason) == (next_step, fixes, reason)


def test_untracked_high_value_gets_refund_only(demo_store):
    order = demo_store.get("#1001")
    demo_store.upsert_many([replace(order, total=90.0)])
    assert decide(demo_store, "#1001")[1].fixes == (r.REFUND,)


def test_stall_days_come_from_the_policy(demo_store):
    strict = replace(POLICY, stall_days=1)
    in_transit_scan_yesterday = decide(
        demo_store, "A10023", now=datetime.now(timezone.utc) + timedelta(days=1), policy=strict
    )
    assert in_transit_scan_yesterday[0] == s.STALLED


def test_carrier_claims_go_with_money_fixes_when_the_carrier_failed():
    assert r.needs_carrier_claim(s.STALLED, r.REFUND)
    assert r.needs_carrier_claim(s.LOST, r.RESHIP)
    assert not r.needs_carrier_claim(s.ADDRESS_PROBLEM, r.RESHIP)
    assert not r.needs_carrier_claim(s.IN_TRANSIT, r.NOTIFY)
    assert not r.needs_carrier_claim(s.DELIVERED, r.REFUND, "damaged_item")  # the shop's matter
    assert not r.needs_carrier_claim(s.DELIVERED, r.REFUND, "return_item")


# The rest of the playbook's table: item problems, cancellations, returns, refunds, customs.
@pytest.mark.parametrize("problem", ["damaged_item", "wrong_item", "quality_issue"])
def test_item_problems_ask_for_a_photo_then_offer_three_fixes(demo_store, problem):
    _, first = decide(demo_store, "A10025", problem=problem)
    assert (first.next_step, first.ask) == (r.COLLECT_DETAILS, r.PHOTO)
    for photo in ("wamid.IMG123", "none"):  # a photo, or the shopper has none: both go on
        order = demo_store.get("A10025")
        situation = s.classify(order, datetime.now(timezone.utc), POLICY)
        then = r.decide(problem, order, situation, POLICY, {r.PHOTO: photo})
        assert (then.next_step, then.fixes) == (r.CHOOSE_FIX, (r.REPLACE, r.PARTIAL_REFUND, r.REFUND))


def test_an_expensive_damaged_item_goes_to_a_person(demo_store):
    order = demo_store.get("A10031")
    remedy = r.decide(
        "damaged_item", order, s.classify(order, datetime.now(timezone.utc), POLICY), POLICY, {r.PHOTO: "none"}
    )
    assert (remedy.next_step, remedy.fixes, remedy.reason) == (r.CHOOSE_FIX, (r.PERSON, r.NONE), "above_limit")


def test_cheap_items_are_not_sent_back():
    assert POLICY.needs_no_return(12.5, "EUR") and not POLICY.needs_no_return(28.0, "GBP")
    assert "JPY" not in POLICY.exchange_rates
    assert not POLICY.needs_no_return(1.0, "JPY")  # a currency without a rate: never assume cheap


@pytest.mark.parametrize(
    "number, next_step, fixes, reason, ask",
    [
        ("A10030", r.CHOOSE_FIX, (r.CANCEL, r.NONE), "", None),  # not shipped: cancel, refund in full
        ("A10023", r.CHOOSE_FIX, (r.REFUSE, r.NONE), "postal", None),  # shipped by post: refuse it
        ("A10033", r.COLLECT_DETAILS, (), "", r.CANCEL_REASON),  # express: ask why first
        ("A10034", r.COLLECT_DETAILS, (), "", r.ITEM_UNUSED),  # delivered: it is a return
    ],
)
def test_cancellation_rows(demo_store, number, next_step, fixes, reason, ask):
    _, remedy = decide(demo_store, number, problem="cancel_order")
    assert (remedy.next_step, remedy.fixes, remedy.reason, remedy.ask) == (next_step, fixes, reason, ask)


def test_express_cancellation_offers_to_keep_it_for_a_partial_refund(demo_store):
    order = demo_store.get("A10033")
    situation = s.classify(order, datetime.now(timezone.utc), POLICY)
    remedy = r.decide("cancel_order", order, situation, POLICY, {r.CANCEL_REASON: "found it cheaper locally"})
    assert (remedy.fixes, remedy.reason) == ((r.PARTIAL_REFUND, r.RETURN, r.NONE), "express")


@pytest.mark.parametrize(
    "number, answers, next_step, fixes, reason",
    [
        ("A10034", {r.ITEM_UNUSED: True}, r.CHOOSE_FIX, (r.RETURN, r.NONE), "return"),
        ("A10034", {r.ITEM_UNUSED: False}, r.CHOOSE_FIX, (r.PERSON, r.NONE), "condition"),
        ("A10035", {}, r.CHOOSE_FIX, (r.PERSON, r.NONE), "window_closed"),  # delivered 46 days ago
        ("A10023", {}, r.DONE, (), "not_delivered_yet"),
    ],
)
def test_return_rows(demo_store, number, answers, next_step, fixes, reason):
    order = demo_store.get(number)
    remedy = r.decide("return_item", order, s.classify(order, datetime.now(timezone.utc), POLICY), POLICY, answers)
    assert (remedy.next_step, remedy.fixes, remedy.reason) == (next_step, fixes, reason)


def test_the_return_window_comes_from_the_policy(demo_store):
    generous = replace(POLICY, return_window_days=60, return_requires_unused=False)
    order = demo_store.get("A10035")
    remedy = r.decide("return_item", order, s.classify(order, datetime.now(timezone.utc), generous), generous)
    assert remedy.fixes == (r.RETURN, r.NONE)


@pytest.mark.parametrize(
    "number, next_step, reason",
    [
        ("A10028", r.CHOOSE_FIX, "customs"),  # held 4 days: explain, record, a person can help
        ("A10023", r.CHOOSE_FIX, ""),  # not at customs at all: the parcel's real situation
    ],
)
def test_customs_rows(demo_store, number, next_step, reason):
    _, remedy = decide(demo_store, number, problem="customs_issue")
    assert (remedy.next_step, remedy.reason) == (next_step, reason)


def test_a_parcel_stuck_at_customs_goes_to_the_logistics_team(demo_store):
    in_two_days = datetime.now(timezone.utc) + timedelta(days=2)
    _, remedy = decide(demo_store, "A10028", problem="customs_issue", now=in_two_days)
    assert (remedy.next_step, remedy.reason) == (r.HANDOFF, "customs_stuck")


@pytest.mark.parametrize(
    "number, fixes",
    [
        ("A10030", (r.CANCEL, r.NONE)),  # not shipped: cancel
        ("A10024", (r.REFUND, r.RESHIP)),  # stalled: the parcel's own remedy
    ],
)
def test_a_refund_request_follows_the_order_state(demo_store, number, fixes):
    assert decide(demo_store, number, problem="request_refund")[1].fixes == fixes
    assert decide(demo_store, "A10034", problem="request_refund")[1].ask == r.ITEM_UNUSED  # delivered: a return


def test_every_problem_has_a_handling_and_every_handling_a_decision():
    from bot.decisions import problems

    assert set(problems.HANDLING) == set(problems.ALL)
    assert set(r._DECIDERS) == set(problems.HANDLING.values())
