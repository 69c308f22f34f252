"""Carrying out the fix the shopper chose: one case per order, problem and choice, and a confirmation.

Each fix is a small function that opens its case and says what happened; `carry_out` adds what is common
(the answer when the case existed, the carrier claim when the carrier lost track, the closing question).
Money is told truthfully: a refund is "done" only once the order system paid it (or the shop pays it out
from the case); otherwise the shopper hears it is recorded, not gone out yet and retried automatically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot import wording
from actions.authorization import grant_fix
from actions.handoff import hand_over
from bot.decisions import cases as case_types
from bot.decisions import fix_cases, problems, remedies
from bot.decisions.cases import FAILED, PAID, Case, may_confirm, needs_payment
from bot.decisions.fix_cases import FixRequest
from bot.handoff import reasons
from bot.payments.settle import settle
from bot.shop.models import Order

logger = logging.getLogger(__name__)


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
    def request(self) -> FixRequest:
        """This fix as bot/decisions/fix_cases.py opens its case, the same way the desk's agents do."""
        return FixRequest(
            self.order, self.key, self.tracker.sender_id, self.problem, self.situation, evidence=self.evidence
        )

    @property
    def evidence(self) -> Dict[str, Any]:
        """What the shopper told us about an item problem, kept on the case for the team."""
        slots = ("photo", "photo_caption", "cancel_reason")
        return {slot: self.tracker.get_slot(slot) for slot in slots if self.tracker.get_slot(slot)}


def _pay_back(case: Case) -> Case:
    """Refund through the shop's order system when it takes refunds (Shopify), once, reconciled first when an
    earlier attempt may have paid (bot/payments); the embedded store keeps no payments, so there the case is
    the record the shop pays out from. Returns the case as it stands: money that did not go out is retried
    by `python -m bot payments retry`, so the shopper is told so and the conversation goes on."""
    return settle(case, services.store(), services.cases())


def _case_money(ctx: Context, case: Case) -> str:
    return wording.money(case.amount or 0.0, case.currency or ctx.order.currency, ctx.language)


def _say_not_paid_yet(ctx: Context, case: Case) -> None:
    """The truth about a refund whose money has not gone out: recorded, not paid yet (or being checked),
    retried automatically, never paid twice."""
    response = "utter_refund_payment_failed" if case.status == FAILED else "utter_refund_payment_checking"
    ctx.dispatcher.utter_message(response=response, case_reference=case.reference, amount=_case_money(ctx, case))


def _say_refund(ctx: Context, case: Case, response: str, **values: Any) -> None:
    """The fix's confirmation once the money is on its way, else what is true instead."""
    if may_confirm(case):
        ctx.dispatcher.utter_message(response=response, case_reference=case.reference, **values)
    else:
        _say_not_paid_yet(ctx, case)


def _say_again(ctx: Context, case: Case) -> None:
    """The same choice made before. Money that did not go out is reconciled and paid now if need be, and the
    shopper hears where it stands; "already taken care of" only for what was."""
    if needs_payment(case):
        case = _pay_back(case)
        if case.status == PAID:
            ctx.dispatcher.utter_message(
                response="utter_refund_paid_now",
                case_reference=case.reference,
                amount=_case_money(ctx, case),
                bank_days=services.policy().refund_bank_days,
            )
            return
    if needs_payment(case):
        _say_not_paid_yet(ctx, case)
    else:
        ctx.dispatcher.utter_message(
            response="utter_already_done", order_number=ctx.order.order_number, case_reference=case.reference
        )


def _refund(ctx: Context) -> Tuple[Case, bool]:
    item_problem = problems.handling(ctx.problem) == problems.ITEM_HANDLING
    case, created = fix_cases.refund(services.cases(), services.policy(), ctx.request)
    send_back = bool(case.details.get("return_required"))
    if created and not send_back:  # an item to send back is refunded when it arrives
        case = _pay_back(case)
    if created:
        _say_refund(ctx, case, "utter_refund_done", amount=ctx.money(ctx.order.total))
        if item_problem:
            _say_return_note(ctx, case, send_back)
    return case, created


def _say_return_note(ctx: Context, case: Case, send_back: bool) -> None:
    if send_back:
        ctx.dispatcher.utter_message(
            response="utter_return_needed",
            case_reference=case.reference,
            return_address=services.policy().return_address,
        )
    else:
        ctx.dispatcher.utter_message(response="utter_no_return_needed")


def _reship(ctx: Context) -> Tuple[Case, bool]:
    address = ctx.tracker.get_slot("new_address") or ctx.order.shipping_address.one_line()
    case, created = fix_cases.reship(services.cases(), ctx.request, address)
    if created:
        ctx.dispatcher.utter_message(response="utter_reship_done", case_reference=case.reference, address=address)
    return case, created


def _replace(ctx: Context) -> Tuple[Case, bool]:
    """A new item for a damaged, wrong or defective one; cheap items are not sent back."""
    address = ctx.order.shipping_address.one_line()
    send_back = not services.policy().needs_no_return(ctx.order.total, ctx.order.currency)
    case, created = services.cases().open_case(
        type=case_types.RESHIPMENT,
        idempotency_key=ctx.key,
        amount=ctx.order.total,
        currency=ctx.order.currency,
        details={
            "address": address,
            "replacement": True,
            "problem": ctx.problem,
            "return_required": send_back,
            "items": [item.sku for item in ctx.order.items],
            **ctx.evidence,
        },
        **ctx.common,
    )
    if created:
        ctx.dispatcher.utter_message(response="utter_replace_done", case_reference=case.reference, address=address)
        _say_return_note(ctx, case, send_back)
    return case, created


def _partial_refund(ctx: Context) -> Tuple[Case, bool]:
    case, created = fix_cases.partial_refund(services.cases(), services.policy(), ctx.request)
    if created:
        case = _pay_back(case)
        _say_refund(ctx, case, "utter_partial_refund_done", amount=ctx.money(case.amount or 0.0))
    return case, created


def _cancel(ctx: Context) -> Tuple[Case, bool]:
    """Not shipped yet: the order is cancelled and refunded in full (the refund is its own case)."""
    book = services.cases()
    refund, created = book.open_case(
        type=case_types.REFUND,
        idempotency_key=ctx.key,
        amount=ctx.order.total,
        currency=ctx.order.currency,
        details={"method": "original_payment", "reason": "cancelled_before_shipping"},
        **ctx.common,
    )
    if created:
        refund = _pay_back(refund)
        book.open_case(
            type=case_types.CANCELLATION,
            idempotency_key=f"{ctx.order.order_number}:cancellation",
            details={"refund_case": refund.reference, "stage": "before_shipping"},
            **ctx.common,
        )
        ctx.dispatcher.utter_message(
            response="utter_cancel_done",
            case_reference=refund.reference,
            order_number=ctx.order.order_number,
            amount=ctx.money(ctx.order.total),
        )
        if not may_confirm(refund):  # cancelled, but its refund has not gone out yet
            _say_not_paid_yet(ctx, refund)
    return refund, created


def _refuse(ctx: Context) -> Tuple[Case, bool]:
    """Shipped by post: the shopper refuses the parcel; the refund waits for it to come back."""
    case, created = services.cases().open_case(
        type=case_types.CANCELLATION,
        idempotency_key=ctx.key,
        amount=ctx.order.total,
        currency=ctx.order.currency,
        details={"stage": "shipped", "refund_on_return": True},
        **ctx.common,
    )
    if created:
        carrier = ctx.order.shipment.carrier if ctx.order.shipment else ""
        ctx.dispatcher.utter_message(
            response="utter_refuse_done",
            case_reference=case.reference,
            carrier=carrier,
            amount=ctx.money(ctx.order.total),
        )
    return case, created


def _return(ctx: Context) -> Tuple[Case, bool]:
    policy = services.policy()
    # The shop pays the postage when the item was its fault; a change of mind is the shopper's cost.
    postage = "shop" if problems.handling(ctx.problem) == problems.ITEM_HANDLING else "shopper"
    case, created = services.cases().open_case(
        type=case_types.RETURN,
        idempotency_key=ctx.key,
        amount=ctx.order.total,
        currency=ctx.order.currency,
        details={"return_address": policy.return_address, "postage_paid_by": postage, **ctx.evidence},
        **ctx.common,
    )
    if created:
        ctx.dispatcher.utter_message(
            response="utter_return_steps",
            case_reference=case.reference,
            return_address=policy.return_address,
            amount=ctx.money(ctx.order.total),
        )
    return case, created


def _notify(ctx: Context) -> Tuple[Case, bool]:
    shipment = ctx.order.shipment
    case, created = services.cases().open_case(
        type=case_types.SCAN_ALERT,
        idempotency_key=ctx.key,
        details={"tracking_number": shipment.tracking_number if shipment else None},
        **ctx.common,
    )
    if created:
        ctx.dispatcher.utter_message(
            response="utter_notify_done", case_reference=case.reference, carrier=shipment.carrier if shipment else ""
        )
    return case, created


def _discount(ctx: Context) -> Tuple[Case, bool]:
    case, created = fix_cases.discount(services.cases(), services.policy(), ctx.request)
    if created:
        ctx.dispatcher.utter_message(
            response="utter_discount_done",
            case_reference=case.reference,
            discount=f"{case.details['percent']:g}",
            discount_code=case.details["code"],
        )
    return case, created


FIX_ACTIONS: Dict[str, Callable[[Context], Tuple[Case, bool]]] = {
    remedies.REFUND: _refund,
    remedies.RESHIP: _reship,
    remedies.REPLACE: _replace,
    remedies.PARTIAL_REFUND: _partial_refund,
    remedies.CANCEL: _cancel,
    remedies.REFUSE: _refuse,
    remedies.RETURN: _return,
    remedies.NOTIFY: _notify,
    remedies.DISCOUNT: _discount,
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
        logger.warning("unknown fix %r", str(fix)[:40])  # a slot anyone can set: never a whole message
        dispatcher.utter_message(response="utter_default")
        return events
    grant = grant_fix(tracker, fix)
    if grant is None:
        return events + hand_over(tracker, dispatcher, reason=reasons.FIX_REFUSED, response="utter_fix_refused")

    order, problem, situation = grant.order, grant.offer.problem, grant.situation
    ctx = Context(
        order,
        tracker,
        dispatcher,
        wording.language_of(tracker),
        problem,
        situation,
        key=f"{order.order_number}:{problem}:{fix}",
    )
    case, created = action(ctx)
    if not created:
        _say_again(ctx, case)
    elif order.shipment and remedies.needs_carrier_claim(situation, fix, problem):
        _open_carrier_claim(ctx, case)
    dispatcher.utter_message(response="utter_anything_else")
    logger.info(
        "fix %s for order %s: case %s (%s)", fix, order.order_number, case.reference, "new" if created else "existing"
    )
    return events + [SlotSet("case_reference", case.reference)]


def _open_carrier_claim(ctx: Context, remedy_case: Case) -> None:
    shipment = ctx.order.shipment
    claim, _ = services.cases().open_case(
        type=case_types.CARRIER_CLAIM,
        idempotency_key=f"{ctx.order.order_number}:carrier_claim",
        amount=ctx.order.total,
        currency=ctx.order.currency,
        details={
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "situation": ctx.situation,
            "remedy_case": remedy_case.reference,
            "evidence": ["order", "payment", "proof_of_shipment", "tracking_history", "conversation"],
        },
        **ctx.common,
    )
    ctx.dispatcher.utter_message(
        response="utter_claim_opened", carrier=shipment.carrier, claim_reference=claim.reference
    )
