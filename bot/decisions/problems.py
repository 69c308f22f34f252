"""The kinds of problem a shopper brings: each is also the NLU intent that names it (domain/), and the code
stored on tickets and cases. The desk's name for each lives here too, so a new problem is added in one place
besides its training data, replies and remedy (bot/decisions/remedies.py decides what to do for each)."""
from __future__ import annotations

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
    WHERE_IS_MY_ORDER: "Where is my order", PARCEL_NOT_RECEIVED: "Parcel not received",
    DELIVERY_FAILED: "Delivery failed", CHANGE_ADDRESS: "Change of address", CANCEL_ORDER: "Cancel the order",
    REQUEST_REFUND: "Wants a refund", REFUND_STATUS: "Where is my refund", RETURN_ITEM: "Return an item",
    DAMAGED_ITEM: "Damaged item", WRONG_ITEM: "Wrong item", QUALITY_ISSUE: "Item does not work",
    CUSTOMS_ISSUE: "Stuck at customs",
}
ALL = tuple(LABELS)
# The parcel has not reached the shopper (or they cannot find it): the carrier's matter.
PARCEL = (WHERE_IS_MY_ORDER, PARCEL_NOT_RECEIVED, DELIVERY_FAILED)
# Something is wrong with the item that arrived: the shop's matter.
ITEM = (DAMAGED_ITEM, WRONG_ITEM, QUALITY_ISSUE)
