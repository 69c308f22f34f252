"""Which fixes the policy allows for a situation: the playbook's table as code.

The result names the fixes to offer (as buttons), or the next step when no choice is needed. Fix names
are the payload values buttons carry (``/inform{"fix":"refund"}``), so they are part of the channel
contract and stay stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from bot.decisions import situations as s
from bot.decisions import problems
from bot.handoff import reasons
from bot.decisions.policy import Policy
from bot.shop.models import Order

REFUND = "refund"
RESHIP = "reship"
NOTIFY = "notify"
DISCOUNT = "discount"
PERSON = "person"
NONE = "none"
REPLACE = "replace"  # send a new item (damaged, wrong, defective)
PARTIAL_REFUND = "partial_refund"  # part of the price back, the shopper keeps the item
CANCEL = "cancel"  # cancel before shipment, full refund
REFUSE = "refuse"  # shipped by post: refuse the parcel, refund once it is back
RETURN = "return"  # send the item back for a refund
# What the agent desk calls each fix.
FIX_LABELS = {
    REFUND: "Full refund",
    RESHIP: "Send a new one free",
    NOTIFY: "Alert when it moves",
    DISCOUNT: "Discount",
    PERSON: "A person",
    NONE: "Nothing",
    REPLACE: "Replacement item",
    PARTIAL_REFUND: "Partial refund, keep the item",
    CANCEL: "Cancel and refund",
    REFUSE: "Refuse the parcel, refund on return",
    RETURN: "Return for a refund",
}
FIXES = (REFUND, RESHIP, NOTIFY, DISCOUNT, PERSON, NONE, REPLACE, PARTIAL_REFUND, CANCEL, REFUSE, RETURN)

CHOOSE_FIX = "choose_fix"
COLLECT_ADDRESS = "collect_address"
COLLECT_DETAILS = "collect_details"  # one more answer first: a photo, the reason to cancel, the item's state
HANDOFF = "handoff"
DONE = "done"

# What COLLECT_DETAILS asks for; the names are slots of the details form.
PHOTO = "photo"
CANCEL_REASON = "cancel_reason"
ITEM_UNUSED = "item_unused"

# Fixes that move money or goods: never twice for one order, and a carrier claim goes with them
# when the carrier lost track of the parcel.
MONEY_FIXES = (REFUND, RESHIP, REPLACE, PARTIAL_REFUND, CANCEL)
CLAIM_SITUATIONS = (s.STALLED, s.LOST, s.DELIVERED)


@dataclass(frozen=True)
class Remedy:
    next_step: str
    fixes: Tuple[str, ...] = ()
    # Why the offer looks the way it does, for the reply ("wait", "too_late", "above_limit", ...).
    reason: str = ""
    # For COLLECT_DETAILS: the details-form slot to fill.
    ask: Optional[str] = None


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


def for_item_problem(order: Order, policy: Policy, answers: Mapping[str, object]) -> Remedy:
    """Damaged, wrong or defective: a photo first (or the shopper says they have none), then three fixes."""
    if answers.get(PHOTO) is None:
        return Remedy(COLLECT_DETAILS, ask=PHOTO)
    return _money(order, policy, (REPLACE, PARTIAL_REFUND, REFUND))


def for_cancel(order: Order, situation: s.Situation, policy: Policy, answers: Mapping[str, object]) -> Remedy:
    kind = situation.kind
    if kind == s.CANCELLED:
        return Remedy(DONE, (), "already_cancelled")
    if kind == s.NOT_SHIPPED:
        return _money(order, policy, (CANCEL, NONE))
    if order.shipment and order.shipment.service != "express":
        return Remedy(CHOOSE_FIX, (REFUSE, NONE), "postal")
    # Express: sending it back costs more than the goods. Understand why first, then offer to keep it.
    if not answers.get(CANCEL_REASON):
        return Remedy(COLLECT_DETAILS, ask=CANCEL_REASON)
    if policy.needs_person(order.total, order.currency):
        return Remedy(CHOOSE_FIX, (PERSON, NONE), "above_limit")
    return Remedy(CHOOSE_FIX, (PARTIAL_REFUND, RETURN, NONE), "express")


def for_return(order: Order, situation: s.Situation, policy: Policy, answers: Mapping[str, object]) -> Remedy:
    kind = situation.kind
    if kind == s.CANCELLED:
        return Remedy(DONE, (), "already_cancelled")
    if kind != s.DELIVERED:
        return Remedy(DONE, (), "not_delivered_yet")
    if (situation.hours_since_delivery or 0) > policy.return_window_days * 24:
        return Remedy(CHOOSE_FIX, (PERSON, NONE), "window_closed")
    if policy.return_requires_unused:
        unused = answers.get(ITEM_UNUSED)
        if unused is None:
            return Remedy(COLLECT_DETAILS, ask=ITEM_UNUSED)
        if unused is False:
            return Remedy(CHOOSE_FIX, (PERSON, NONE), "condition")
    return Remedy(CHOOSE_FIX, (RETURN, NONE), "return")


def for_customs(order: Order, situation: s.Situation, policy: Policy) -> Remedy:
    if (situation.days_since_last_scan or 0) >= policy.customs_handoff_days:
        return Remedy(HANDOFF, (), reasons.CUSTOMS_STUCK)
    return Remedy(CHOOSE_FIX, (PERSON, NONE), "customs")


def decide(
    problem: str, order: Order, situation: s.Situation, policy: Policy, answers: Optional[Mapping[str, object]] = None
) -> Remedy:
    """The playbook's table: what to do next for this problem, order and tracking situation.

    `answers` holds what the details form already collected (photo, cancel_reason, item_unused).
    """
    answers = answers or {}
    decider = _DECIDERS[problems.handling(problems.effective(problem, situation))]
    return decider(order, situation, policy, answers)


# The playbook's table, by how the problem is handled (bot/decisions/problems.py).
_DECIDERS = {
    problems.PARCEL_HANDLING: lambda order, situation, policy, answers: for_missing_parcel(order, situation, policy),
    problems.ADDRESS_HANDLING: lambda order, situation, policy, answers: for_address_change(order, situation, policy),
    problems.ITEM_HANDLING: lambda order, situation, policy, answers: for_item_problem(order, policy, answers),
    problems.CANCEL_HANDLING: for_cancel,
    problems.RETURN_HANDLING: for_return,
    problems.REFUND_STATUS_HANDLING: lambda order, situation, policy, answers: Remedy(DONE, (), "refund_status"),
    problems.CUSTOMS_HANDLING: lambda order, situation, policy, answers: for_customs(order, situation, policy),
}


def needs_carrier_claim(situation_kind: str, fix: str, problem: str = problems.PARCEL_NOT_RECEIVED) -> bool:
    """The carrier lost track of the parcel and we paid for it: claim it back. A broken, wrong or unwanted
    item is the shop's matter, not the carrier's, even when the parcel was delivered."""
    return (
        problems.handling(problem) == problems.PARCEL_HANDLING
        and fix in MONEY_FIXES
        and situation_kind in CLAIM_SITUATIONS
    )
