"""Carrying out the fix the shopper chose: one case per order, problem and choice, and a confirmation.

Each fix is a small function that opens its case and says what happened; `carry_out` adds what is common
(the "already done" answer when the case existed, the carrier claim when the carrier lost track, the
closing question).
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, wording
from actions.authorization import grant_fix
from actions.handoff import hand_over
from bot import remedies
from bot.cases import Case
from bot.http_client import BackendUnavailable
from bot.shop.models import Order

logger = logging.getLogger(__name__)

FIX_REFUSED = "fix_refused"  # the handoff reason when a chosen fix cannot be granted now


@dataclass
class Context:
    """What every fix needs: the order, the conversation, and how to speak."""
    order: Order
    tracker: Tracker
    dispatcher: CollectingDispatcher
    language: str
    problem: str
    situation: str
    key: str

    def money(self, amount: float) -> str:
        return wording.money(amount, self.order.currency, self.language)

    @property
    def common(self) -> Dict[str, Any]:
        return dict(order_number=self.order.order_number, conversation_id=self.tracker.sender_id)

    @property
    def evidence(self) -> Dict[str, Any]:
        """What the shopper told us about an item problem, kept on the case for the team."""
        slots = ("photo", "photo_caption", "cancel_reason")
        return {slot: self.tracker.get_slot(slot) for slot in slots if self.tracker.get_slot(slot)}


def _pay_back(ctx: Context, case: Case) -> None:
    """Refund through the shop's order system when it takes refunds (Shopify); the embedded store keeps
    no payments, so there the case is the record the shop pays out from. A failure marks the case and
    reaches the backend guard, which apologises and hands over."""
    try:
        refund_id = services.store().refund(ctx.order.order_number, case.amount or 0.0, note=case.reference)
    except BackendUnavailable:
        services.cases().update(case.reference, status="failed", details={"failure": "order system unavailable"})
        raise
    if refund_id:
        services.cases().update(case.reference, status="done", details={"refund_id": refund_id})


def _refund(ctx: Context) -> Tuple[Case, bool]:
    policy = services.policy()
    item_problem = ctx.problem in remedies.ITEM_PROBLEMS
    send_back = item_problem and not policy.needs_no_return(ctx.order.total, ctx.order.currency)
    case, created = services.cases().open_case(
        type="refund", idempotency_key=ctx.key, amount=ctx.order.total, currency=ctx.order.currency,
        details={"method": "original_payment", "situation": ctx.situation, "problem": ctx.problem,
                 "return_required": send_back, **ctx.evidence}, **ctx.common)
    if created and not send_back:  # an item to send back is refunded when it arrives
        _pay_back(ctx, case)
    if created:
        ctx.dispatcher.utter_message(response="utter_refund_done", case_reference=case.reference,
                                     amount=ctx.money(ctx.order.total))
        if item_problem:
            _say_return_note(ctx, case, send_back)
    return case, created


def _say_return_note(ctx: Context, case: Case, send_back: bool) -> None:
    if send_back:
        ctx.dispatcher.utter_message(response="utter_return_needed", case_reference=case.reference,
                                     return_address=services.policy().return_address)
    else:
        ctx.dispatcher.utter_message(response="utter_no_return_needed")


def _reship(ctx: Context) -> Tuple[Case, bool]:
    address = ctx.tracker.get_slot("new_address") or ctx.order.shipping_address.one_line()
    case, created = services.cases().open_case(
        type="reshipment", idempotency_key=ctx.key, amount=ctx.order.total, currency=ctx.order.currency,
        details={"address": address, "situation": ctx.situation}, **ctx.common)
    if created:
        ctx.dispatcher.utter_message(response="utter_reship_done", case_reference=case.reference, address=address)
    return case, created


def _replace(ctx: Context) -> Tuple[Case, bool]:
    """A new item for a damaged, wrong or defective one; cheap items are not sent back."""
    address = ctx.order.shipping_address.one_line()
    send_back = not services.policy().needs_no_return(ctx.order.total, ctx.order.currency)
    case, created = services.cases().open_case(
        type="reshipment", idempotency_key=ctx.key, amount=ctx.order.total, currency=ctx.order.currency,
        details={"address": address, "replacement": True, "problem": ctx.problem, "return_required": send_back,
                 "items": [item.sku for item in ctx.order.items], **ctx.evidence}, **ctx.common)
    if created:
        ctx.dispatcher.utter_message(response="utter_replace_done", case_reference=case.reference, address=address)
        _say_return_note(ctx, case, send_back)
    return case, created


def _partial_refund(ctx: Context) -> Tuple[Case, bool]:
    percent = services.policy().partial_refund_percent
    amount = round(ctx.order.total * percent / 100, 2)
    case, created = services.cases().open_case(
        type="refund", idempotency_key=ctx.key, amount=amount, currency=ctx.order.currency,
        details={"method": "original_payment", "partial_percent": percent, "keeps_item": True,
                 "problem": ctx.problem, **ctx.evidence}, **ctx.common)
    if created:
        _pay_back(ctx, case)
        ctx.dispatcher.utter_message(response="utter_partial_refund_done", case_reference=case.reference,
                                     amount=ctx.money(amount))
    return case, created


def _cancel(ctx: Context) -> Tuple[Case, bool]:
    """Not shipped yet: the order is cancelled and refunded in full (the refund is its own case)."""
    book = services.cases()
    refund, created = book.open_case(
        type="refund", idempotency_key=ctx.key, amount=ctx.order.total, currency=ctx.order.currency,
        details={"method": "original_payment", "reason": "cancelled_before_shipping"}, **ctx.common)
    if created:
        _pay_back(ctx, refund)
        book.open_case(type="cancellation", idempotency_key=f"{ctx.order.order_number}:cancellation",
                       details={"refund_case": refund.reference, "stage": "before_shipping"}, **ctx.common)
        ctx.dispatcher.utter_message(response="utter_cancel_done", case_reference=refund.reference,
                                     order_number=ctx.order.order_number, amount=ctx.money(ctx.order.total))
    return refund, created


def _refuse(ctx: Context) -> Tuple[Case, bool]:
    """Shipped by post: the shopper refuses the parcel; the refund waits for it to come back."""
    case, created = services.cases().open_case(
        type="cancellation", idempotency_key=ctx.key, amount=ctx.order.total, currency=ctx.order.currency,
        details={"stage": "shipped", "refund_on_return": True}, **ctx.common)
    if created:
        carrier = ctx.order.shipment.carrier if ctx.order.shipment else ""
        ctx.dispatcher.utter_message(response="utter_refuse_done", case_reference=case.reference, carrier=carrier,
                                     amount=ctx.money(ctx.order.total))
    return case, created


def _return(ctx: Context) -> Tuple[Case, bool]:
    policy = services.policy()
    # The shop pays the postage when the item was its fault; a change of mind is the shopper's cost.
    postage = "shop" if ctx.problem in remedies.ITEM_PROBLEMS else "shopper"
    case, created = services.cases().open_case(
        type="return", idempotency_key=ctx.key, amount=ctx.order.total, currency=ctx.order.currency,
        details={"return_address": policy.return_address, "postage_paid_by": postage, **ctx.evidence},
        **ctx.common)
    if created:
        ctx.dispatcher.utter_message(response="utter_return_steps", case_reference=case.reference,
                                     return_address=policy.return_address, amount=ctx.money(ctx.order.total))
    return case, created


def _notify(ctx: Context) -> Tuple[Case, bool]:
    shipment = ctx.order.shipment
    case, created = services.cases().open_case(
        type="scan_alert", idempotency_key=ctx.key,
        details={"tracking_number": shipment.tracking_number if shipment else None}, **ctx.common)
    if created:
        ctx.dispatcher.utter_message(response="utter_notify_done", case_reference=case.reference,
                                     carrier=shipment.carrier if shipment else "")
    return case, created


def _discount(ctx: Context) -> Tuple[Case, bool]:
    percent = services.policy().discount_percent
    case, created = services.cases().open_case(
        type="discount", idempotency_key=ctx.key,
        details={"percent": percent, "code": "SORRY-" + secrets.token_hex(3).upper()}, **ctx.common)
    if created:
        ctx.dispatcher.utter_message(response="utter_discount_done", case_reference=case.reference,
                                     discount=f"{percent:g}", discount_code=case.details["code"])
    return case, created


FIX_ACTIONS: Dict[str, Callable[[Context], Tuple[Case, bool]]] = {
    remedies.REFUND: _refund, remedies.RESHIP: _reship, remedies.REPLACE: _replace,
    remedies.PARTIAL_REFUND: _partial_refund, remedies.CANCEL: _cancel, remedies.REFUSE: _refuse,
    remedies.RETURN: _return, remedies.NOTIFY: _notify, remedies.DISCOUNT: _discount,
}


def carry_out(fix: Optional[str], dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
    """Record the chosen fix as a case (once per order and problem) and confirm it to the shopper.

    Nothing is done on the conversation's word: actions/authorization.py re-derives, now, that this
    conversation verified the order, was offered this fix, and that the policy still allows it."""
    events: List[Dict[Text, Any]] = [SlotSet("fix", None), SlotSet("offered_fixes", None), SlotSet("offer", None)]
    if fix == remedies.NONE or not tracker.get_slot("verified_order"):
        dispatcher.utter_message(response="utter_no_fix_chosen")
        dispatcher.utter_message(response="utter_anything_else")
        return events
    if fix == remedies.PERSON:
        return events + hand_over(tracker, dispatcher, reason=f"{tracker.get_slot('situation')}")
    action = FIX_ACTIONS.get(fix or "")
    if action is None:
        logger.warning("unknown fix %r", fix)
        dispatcher.utter_message(response="utter_default")
        return events
    grant = grant_fix(tracker, fix)
    if grant is None:
        return events + hand_over(tracker, dispatcher, reason=FIX_REFUSED, response="utter_fix_refused")

    order, problem, situation = grant.order, grant.offer.problem, grant.situation
    ctx = Context(order, tracker, dispatcher, wording.language_of(tracker), problem, situation,
                  key=f"{order.order_number}:{problem}:{fix}")
    case, created = action(ctx)
    if not created:
        dispatcher.utter_message(response="utter_already_done", order_number=order.order_number,
                                 case_reference=case.reference)
    elif order.shipment and remedies.needs_carrier_claim(situation, fix, problem):
        _open_carrier_claim(ctx, case)
    dispatcher.utter_message(response="utter_anything_else")
    logger.info("fix %s for order %s: case %s (%s)", fix, order.order_number, case.reference,
                "new" if created else "existing")
    return events + [SlotSet("case_reference", case.reference)]


def _open_carrier_claim(ctx: Context, remedy_case: Case) -> None:
    shipment = ctx.order.shipment
    claim, _ = services.cases().open_case(
        type="carrier_claim", idempotency_key=f"{ctx.order.order_number}:carrier_claim",
        amount=ctx.order.total, currency=ctx.order.currency,
        details={"carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
                 "situation": ctx.situation, "remedy_case": remedy_case.reference,
                 "evidence": ["order", "payment", "proof_of_shipment", "tracking_history", "conversation"]},
        **ctx.common)
    ctx.dispatcher.utter_message(response="utter_claim_opened", carrier=shipment.carrier,
                                 claim_reference=claim.reference)
