"""What is going on with an order, in the playbook's terms, derived from the order and its tracking.

Carriers never report "stalled": it is derived here from the policy's thresholds. Decisions downstream
read only the situation kind, never raw carrier codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Optional

from bot.shop.models import Order, TrackingEvent

if TYPE_CHECKING:  # the policy checks its alert situations against KINDS: no import loop
    from bot.decisions.policy import Policy

NOT_SHIPPED = "not_shipped"
CANCELLED = "cancelled"
IN_TRANSIT = "in_transit"
STALLED = "stalled"
UNTRACKED_IN_WINDOW = "untracked_in_window"
UNTRACKED_OVERDUE = "untracked_overdue"
DELIVERED = "delivered"
FAILED_ATTEMPT = "failed_attempt"
AT_PICKUP_POINT = "at_pickup_point"
ADDRESS_PROBLEM = "address_problem"
CUSTOMS_HOLD = "customs_hold"
LOST = "lost"
# What the agent desk calls each situation.
LABELS = {
    NOT_SHIPPED: "Not shipped yet",
    CANCELLED: "Cancelled",
    IN_TRANSIT: "In transit",
    STALLED: "Stalled: no scan for days or past the promised date",
    UNTRACKED_IN_WINDOW: "Untracked economy, still within its window",
    UNTRACKED_OVERDUE: "Untracked economy, overdue",
    DELIVERED: "Delivered",
    FAILED_ATTEMPT: "Delivery attempt failed",
    AT_PICKUP_POINT: "Waiting at a pickup point",
    ADDRESS_PROBLEM: "Returned: address problem",
    CUSTOMS_HOLD: "Held at customs",
    LOST: "Lost",
}

KINDS = (
    NOT_SHIPPED,
    CANCELLED,
    IN_TRANSIT,
    STALLED,
    UNTRACKED_IN_WINDOW,
    UNTRACKED_OVERDUE,
    DELIVERED,
    FAILED_ATTEMPT,
    AT_PICKUP_POINT,
    ADDRESS_PROBLEM,
    CUSTOMS_HOLD,
    LOST,
)

# The situations a shopper can be warned of before they ask (policy.yml `alert_situations`, bot/outreach/).
ALERTABLE = (STALLED, FAILED_ATTEMPT, AT_PICKUP_POINT, CUSTOMS_HOLD, ADDRESS_PROBLEM, LOST, DELIVERED)

_CUSTOMS = {"customs_hold", "customs_documents_required", "customs_duties_unpaid"}
_ADDRESS = {"address_incorrect", "returning_to_sender", "returned_to_sender"}


@dataclass(frozen=True)
class Situation:
    kind: str
    last_event: Optional[TrackingEvent] = None
    days_since_last_scan: Optional[int] = None
    hours_since_delivery: Optional[float] = None


def _late(order: Order, now: datetime, policy: Policy, grace_days: int) -> bool:
    promised = order.shipment.promised_by
    return promised is not None and now.date() > promised + timedelta(days=grace_days)


def classify(order: Order, now: datetime, policy: Policy) -> Situation:
    if order.status == "cancelled":
        return Situation(CANCELLED)
    shipment = order.shipment
    if order.status == "unfulfilled" or shipment is None:
        return Situation(NOT_SHIPPED)
    if not shipment.tracked:
        overdue = _late(order, now, policy, policy.untracked_grace_days)
        return Situation(UNTRACKED_OVERDUE if overdue else UNTRACKED_IN_WINDOW)

    last = shipment.last_event
    since = now - (last.at if last else shipment.shipped_at)
    days = since.days
    if last is None:
        kind = (
            STALLED
            if days >= policy.stall_days or _late(order, now, policy, policy.late_after_promised_days)
            else IN_TRANSIT
        )
        return Situation(kind, None, days)
    if last.status == "Delivered" or order.status == "delivered":
        return Situation(DELIVERED, last, days, since.total_seconds() / 3600)
    if last.substatus in _ADDRESS or last.status == "Exception" and last.substatus == "recipient_refused":
        return Situation(ADDRESS_PROBLEM, last, days)
    if last.substatus in _CUSTOMS:
        return Situation(CUSTOMS_HOLD, last, days)
    if last.substatus in ("lost", "damaged"):
        return Situation(LOST, last, days)
    if last.status == "AvailableForPickup":
        return Situation(AT_PICKUP_POINT, last, days)
    if last.status == "AttemptFail":
        return Situation(FAILED_ATTEMPT, last, days)
    if (
        last.status == "Expired"
        or days >= policy.stall_days
        or _late(order, now, policy, policy.late_after_promised_days)
    ):
        return Situation(STALLED, last, days)
    return Situation(IN_TRANSIT, last, days)
