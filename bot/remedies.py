"""Which fixes the policy allows for a situation: the playbook's table as code.

The result names the fixes to offer (as buttons), or the next step when no choice is needed. Fix names
are the payload values buttons carry (``/inform{"fix":"refund"}``), so they are part of the channel
contract and stay stable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from bot import situations as s
from bot.policy import Policy
from bot.shop.models import Order

REFUND = "refund"
RESHIP = "reship"
NOTIFY = "notify"
DISCOUNT = "discount"
PERSON = "person"
NONE = "none"
FIXES = (REFUND, RESHIP, NOTIFY, DISCOUNT, PERSON, NONE)

CHOOSE_FIX = "choose_fix"
COLLECT_ADDRESS = "collect_address"
DONE = "done"

# Fixes that move money or goods: never twice for one order, and a carrier claim goes with them
# when the carrier lost track of the parcel.
MONEY_FIXES = (REFUND, RESHIP)
CLAIM_SITUATIONS = (s.STALLED, s.LOST, s.DELIVERED)


@dataclass(frozen=True)
class Remedy:
    next_step: str
    fixes: Tuple[str, ...] = ()
    # Why the offer looks the way it does, for the reply ("wait", "too_late", "above_limit", ...).
    reason: str = ""


def _money(order: Order, policy: Policy, fixes: Tuple[str, ...]) -> Remedy:
    if policy.needs_person(order.total, order.currency):
        return Remedy(CHOOSE_FIX, (PERSON, NONE), "above_limit")
    return Remedy(CHOOSE_FIX, fixes)


def for_missing_parcel(order: Order, situation: s.Situation, policy: Policy) -> Remedy:
    """Remedy for where_is_my_order / parcel_not_received / delivery_failed."""
    kind = situation.kind
    if kind == s.IN_TRANSIT:
        return Remedy(CHOOSE_FIX, (NOTIFY, NONE))
    if kind in (s.STALLED, s.LOST):
        return _money(order, policy, (REFUND, RESHIP))
    if kind == s.UNTRACKED_OVERDUE:
        fixes = (REFUND, RESHIP) if policy.is_low_value(order.total, order.currency) else (REFUND,)
        return _money(order, policy, fixes)
    if kind == s.DELIVERED:
        hours = situation.hours_since_delivery or 0
        if hours < policy.delivered_wait_hours:
            return Remedy(DONE, (), "wait")
        return _money(order, policy, (REFUND, RESHIP))
    if kind == s.ADDRESS_PROBLEM:
        return Remedy(COLLECT_ADDRESS, (RESHIP,))
    if kind == s.CUSTOMS_HOLD:
        return Remedy(CHOOSE_FIX, (PERSON, NONE))
    return Remedy(DONE)


def for_address_change(order: Order, situation: s.Situation, policy: Policy) -> Remedy:
    kind = situation.kind
    if kind == s.NOT_SHIPPED:
        return Remedy(COLLECT_ADDRESS, (), "update")
    if kind in (s.DELIVERED, s.CANCELLED):
        return Remedy(DONE, (), kind)
    if kind == s.ADDRESS_PROBLEM or policy.is_low_value(order.total, order.currency):
        return Remedy(COLLECT_ADDRESS, (RESHIP,), "reship")
    return Remedy(CHOOSE_FIX, (DISCOUNT, NONE), "too_late")


def decide(problem: str, order: Order, situation: s.Situation, policy: Policy) -> Remedy:
    if problem == "change_address":
        return for_address_change(order, situation, policy)
    return for_missing_parcel(order, situation, policy)


def needs_carrier_claim(situation_kind: str, fix: str) -> bool:
    return fix in MONEY_FIXES and situation_kind in CLAIM_SITUATIONS
