"""The playbook's table, row by row, on the demo shop (decision table of situations and remedies)."""
from datetime import datetime, timedelta, timezone
from dataclasses import replace

import pytest

from bot import remedies as r
from bot import situations as s
from bot.paths import PROJECT_ROOT
from bot.policy import load_policy

POLICY = load_policy(PROJECT_ROOT / "policy.yml")


def decide(store, number, problem="parcel_not_received", now=None, policy=POLICY):
    order = store.get(number)
    situation = s.classify(order, now or datetime.now(timezone.utc), policy)
    return situation.kind, r.decide(problem, order, situation, policy)


@pytest.mark.parametrize("number, kind, next_step, fixes", [
    ("A10023", s.IN_TRANSIT, r.CHOOSE_FIX, (r.NOTIFY, r.NONE)),              # reassure, offer a scan alert
    ("A10024", s.STALLED, r.CHOOSE_FIX, (r.REFUND, r.RESHIP)),               # no scan for 12 days
    ("#1001", s.UNTRACKED_OVERDUE, r.CHOOSE_FIX, (r.REFUND, r.RESHIP)),      # economy, low value
    ("PO-88812", s.DELIVERED, r.CHOOSE_FIX, (r.REFUND, r.RESHIP)),           # delivered 4 days ago, wait is over
    ("A10025", s.DELIVERED, r.DONE, ()),                                     # delivered 10 h ago: check first
    ("123456789", s.FAILED_ATTEMPT, r.DONE, ()),                             # how to rebook or collect
    ("A10026", s.AT_PICKUP_POINT, r.DONE, ()),                               # pickup place and deadline
    ("A10027", s.ADDRESS_PROBLEM, r.COLLECT_ADDRESS, (r.RESHIP,)),           # returned: new address, free reship
    ("A10028", s.CUSTOMS_HOLD, r.CHOOSE_FIX, (r.PERSON, r.NONE)),            # explain, logistics can help
    ("A10029", s.LOST, r.CHOOSE_FIX, (r.REFUND, r.RESHIP)),                  # lost by the carrier
    ("A10030", s.NOT_SHIPPED, r.DONE, ()),
    ("A10032", s.STALLED, r.CHOOSE_FIX, (r.PERSON, r.NONE)),                 # above the automatic limit
])
def test_missing_parcel_rows(demo_store, number, kind, next_step, fixes):
    got_kind, remedy = decide(demo_store, number)
    assert (got_kind, remedy.next_step, remedy.fixes) == (kind, next_step, fixes)


@pytest.mark.parametrize("number, next_step, fixes, reason", [
    ("A10030", r.COLLECT_ADDRESS, (), "update"),          # not shipped: update the order
    ("A10023", r.COLLECT_ADDRESS, (r.RESHIP,), "reship"),  # shipped, low value: reship to the new address
    ("A10031", r.CHOOSE_FIX, (r.DISCOUNT, r.NONE), "too_late"),  # shipped, high value: explain, discount
    ("PO-88812", r.DONE, (), s.DELIVERED),
])
def test_address_change_rows(demo_store, number, next_step, fixes, reason):
    _, remedy = decide(demo_store, number, problem="change_address")
    assert (remedy.next_step, remedy.fixes, remedy.reason) == (next_step, fixes, reason)


def test_untracked_high_value_gets_refund_only(demo_store):
    order = demo_store.get("#1001")
    demo_store.upsert_many([replace(order, total=90.0)])
    assert decide(demo_store, "#1001")[1].fixes == (r.REFUND,)


def test_stall_days_come_from_the_policy(demo_store):
    strict = replace(POLICY, stall_days=1)
    in_transit_scan_yesterday = decide(demo_store, "A10023", now=datetime.now(timezone.utc) + timedelta(days=1),
                                       policy=strict)
    assert in_transit_scan_yesterday[0] == s.STALLED


def test_carrier_claims_go_with_money_fixes_when_the_carrier_failed():
    assert r.needs_carrier_claim(s.STALLED, r.REFUND)
    assert r.needs_carrier_claim(s.LOST, r.RESHIP)
    assert not r.needs_carrier_claim(s.ADDRESS_PROBLEM, r.RESHIP)
    assert not r.needs_carrier_claim(s.IN_TRANSIT, r.NOTIFY)
