"""What Porter says, with the numbers, before offering fixes for item problems, cancellations, returns and
refund questions. (Parcel and address problems are explained from the tracking in resolve_order.)

Returns None for problems this module does not explain, so the caller falls back to the tracking story.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from actions import services
from bot import wording
from bot.decisions import cases, problems
from bot.decisions import remedies
from bot.decisions import situations as s
from bot.shop.models import Order

Reply = Tuple[str, Dict[str, Any]]


def _amounts(order: Order, language: str) -> Dict[str, Any]:
    policy = services.policy()
    partial = round(order.total * policy.partial_refund_percent / 100, 2)
    return {
        "order_number": order.order_number,
        "amount": wording.money(order.total, order.currency, language),
        "partial_amount": wording.money(partial, order.currency, language),
        "partial_percent": f"{policy.partial_refund_percent:g}",
        "return_window_days": policy.return_window_days,
    }


def _item_problem(order: Order, remedy: remedies.Remedy, language: str) -> List[Reply]:
    values = _amounts(order, language)
    if remedy.next_step == remedies.COLLECT_DETAILS:
        return [("utter_item_problem_intro", values)]
    if remedy.reason == "above_limit":
        return []
    keep = services.policy().needs_no_return(order.total, order.currency)
    return [("utter_item_problem_options_keep" if keep else "utter_item_problem_options_return", values)]


def _cancel(order: Order, situation: s.Situation, remedy: remedies.Remedy, language: str) -> List[Reply]:
    values = _amounts(order, language)
    if remedy.reason == "already_cancelled":
        return [("utter_situation_cancelled", values)]
    if remedy.next_step == remedies.COLLECT_DETAILS or remedy.reason == "above_limit":
        return []  # the form asks why; above the limit the person offer explains itself
    if remedy.reason == "postal":
        shipment = order.shipment
        return [
            (
                "utter_cancel_postal",
                dict(values, carrier=shipment.carrier, shipped_at=wording.day(shipment.shipped_at, language)),
            )
        ]
    if remedy.reason == "express":
        return [("utter_cancel_express_options", values)]
    return [("utter_cancel_not_shipped", values)]


def _return(order: Order, situation: s.Situation, remedy: remedies.Remedy, language: str) -> List[Reply]:
    values = _amounts(order, language)
    last = situation.last_event
    by_reason = {
        "already_cancelled": [("utter_situation_cancelled", values)],
        "not_delivered_yet": [("utter_return_not_delivered_yet", values)],
        "window_closed": [
            ("utter_return_window_closed", dict(values, delivered_at=wording.day(last.at, language) if last else ""))
        ],
        "condition": [("utter_return_condition_refused", values)],
        "return": [("utter_return_options", values)],
    }
    return by_reason.get(remedy.reason, [])


def refund_reply(refund: cases.Case, order: Order, language: str) -> Reply:
    """Where a refund case's money stands, as the shopper may hear it."""
    amount = wording.money(refund.amount or 0, refund.currency or order.currency, language)
    if refund.details.get("payout") == cases.ON_RETURN:  # paid once the item is back, not before
        return "utter_refund_waits_for_return", {"case_reference": refund.reference, "amount": amount}
    if not cases.may_confirm(refund):  # recorded, but the money has not gone out (or we are checking)
        response = "utter_refund_payment_failed" if refund.status == cases.FAILED else "utter_refund_payment_checking"
        return response, {"case_reference": refund.reference, "amount": amount}
    issued = wording.day(datetime.fromisoformat(refund.created_at), language)
    return "utter_refund_status", {
        "case_reference": refund.reference,
        "refund_date": issued,
        "amount": amount,
        "bank_days": services.policy().refund_bank_days,
    }


def _refund_status(order: Order, language: str) -> List[Reply]:
    refunds = services.cases().list(order_number=order.order_number, type=cases.REFUND)
    if not refunds:
        return [("utter_refund_status_none", {"order_number": order.order_number})]
    return [refund_reply(refunds[-1], order, language)]


def explain(
    problem: str, order: Order, situation: s.Situation, remedy: remedies.Remedy, language: str
) -> Optional[List[Reply]]:
    explainer = _EXPLAINERS.get(problems.handling(problem))
    return explainer(order, situation, remedy, language) if explainer else None


# By how the problem is handled (bot/decisions/problems.py); the others are told from the tracking.
_EXPLAINERS = {
    problems.ITEM_HANDLING: lambda order, situation, remedy, language: _item_problem(order, remedy, language),
    problems.CANCEL_HANDLING: _cancel,
    problems.RETURN_HANDLING: _return,
    problems.REFUND_STATUS_HANDLING: lambda order, situation, remedy, language: _refund_status(order, language),
}
