"""The kinds of problem a shopper brings: each is also the NLU intent that names it (domain/), and the code
stored on tickets and cases. The desk's name for each lives here too, and how Porter handles it: this is the one
module that looks at which problem it is. The decision (bot/decisions/remedies.py), the explanation
(actions/problem_replies.py) and the order of the replies (actions/resolve_order.py) each keep one table keyed
by the handling, so a new problem is a line here, its training data and its replies."""

from __future__ import annotations

from bot.decisions import situations as s

WHERE_IS_MY_ORDER = "where_is_my_order"
PARCEL_NOT_RECEIVED = "parcel_not_received"
DELIVERY_FAILED = "delivery_failed"
CHANGE_ADDRESS = "change_address"
CANCEL_ORDER = "cancel_order"
REQUEST_REFUND = "request_refund"
REFUND_STATUS = "refund_status"
RETURN_ITEM = "return_item"
DAMAGED_ITEM = "damaged_item"
WRONG_ITEM = "wrong_item"
QUALITY_ISSUE = "quality_issue"
CUSTOMS_ISSUE = "customs_issue"

LABELS = {
    WHERE_IS_MY_ORDER: "Where is my order",
    PARCEL_NOT_RECEIVED: "Parcel not received",
    DELIVERY_FAILED: "Delivery failed",
    CHANGE_ADDRESS: "Change of address",
    CANCEL_ORDER: "Cancel the order",
    REQUEST_REFUND: "Wants a refund",
    REFUND_STATUS: "Where is my refund",
    RETURN_ITEM: "Return an item",
    DAMAGED_ITEM: "Damaged item",
    WRONG_ITEM: "Wrong item",
    QUALITY_ISSUE: "Item does not work",
    CUSTOMS_ISSUE: "Stuck at customs",
}
ALL = tuple(LABELS)
# The parcel has not reached the shopper (or they cannot find it): the carrier's matter.
PARCEL = (WHERE_IS_MY_ORDER, PARCEL_NOT_RECEIVED, DELIVERY_FAILED)
# Something is wrong with the item that arrived: the shop's matter.
ITEM = (DAMAGED_ITEM, WRONG_ITEM, QUALITY_ISSUE)

# How a problem is handled. PARCEL: the tracking story, then the parcel fixes (refund, reship, notify...);
# ADDRESS: change where it goes; ITEM: the shop's matter (photo, replace, partial refund); CANCEL, RETURN,
# REFUND_STATUS and CUSTOMS: their own rules of the playbook.
PARCEL_HANDLING, ADDRESS_HANDLING, ITEM_HANDLING, CANCEL_HANDLING = "parcel", "address", "item", "cancel"
RETURN_HANDLING, REFUND_STATUS_HANDLING, CUSTOMS_HANDLING = "return", "refund_status", "customs"
HANDLING = {
    WHERE_IS_MY_ORDER: PARCEL_HANDLING,
    PARCEL_NOT_RECEIVED: PARCEL_HANDLING,
    DELIVERY_FAILED: PARCEL_HANDLING,
    REQUEST_REFUND: PARCEL_HANDLING,  # once read against the order (effective), a parcel problem at most
    CHANGE_ADDRESS: ADDRESS_HANDLING,
    DAMAGED_ITEM: ITEM_HANDLING,
    WRONG_ITEM: ITEM_HANDLING,
    QUALITY_ISSUE: ITEM_HANDLING,
    CANCEL_ORDER: CANCEL_HANDLING,
    RETURN_ITEM: RETURN_HANDLING,
    REFUND_STATUS: REFUND_STATUS_HANDLING,
    CUSTOMS_ISSUE: CUSTOMS_HANDLING,
}
# Handlings whose replies offer choices or ask for a photo: on a repeat contact that is a person's to do.
CHOOSING_HANDLINGS = (ITEM_HANDLING, CANCEL_HANDLING, RETURN_HANDLING)


def handling(problem: str) -> str:
    """How Porter handles ``problem`` (a problem it does not know: as a question about the parcel)."""
    return HANDLING.get(problem, PARCEL_HANDLING)


def effective(problem: str, situation: s.Situation) -> str:
    """What the shopper's request means for this order's state.

    "I want my money back" is a cancellation before shipment, a return after delivery, and otherwise a
    parcel problem; a customs question about a parcel that is not at customs is a tracking question.
    """
    kind = situation.kind
    if problem == REQUEST_REFUND:
        if kind in (s.NOT_SHIPPED, s.CANCELLED):
            return CANCEL_ORDER
        return RETURN_ITEM if kind == s.DELIVERED else PARCEL_NOT_RECEIVED
    if problem == CUSTOMS_ISSUE and kind != s.CUSTOMS_HOLD:
        return WHERE_IS_MY_ORDER
    if problem == RETURN_ITEM and kind == s.NOT_SHIPPED:
        return CANCEL_ORDER
    if problem == CANCEL_ORDER and kind == s.DELIVERED:
        return RETURN_ITEM
    return problem
