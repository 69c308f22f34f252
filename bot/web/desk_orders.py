"""The order beside a desk conversation, and the fixes an agent carries out on it.

The agent sees what the shopper bought, what it cost, the parcel's scans and every case of the order (who
opened it, where its money stands), so nobody promises a second refund. An agent acts only on the order the
conversation verified (``Ticket.verified_order``), checked again when they click, and through the same case
functions as Porter (``bot/decisions/fix_cases.py``): the same idempotency and the same rule of one refund or
reshipment per order, so what Porter paid cannot be paid again from the desk. The shopper is told in their
language with the catalog's own reply, the same words Porter would have used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional, Tuple

from bot import replies, wording
from bot.backends import open_store
from bot.decisions import cases as case_types
from bot.decisions import fix_cases, remedies
from bot.decisions.cases import FAILED, ON_RETURN, Case, CaseBook, agent_view, may_confirm
from bot.decisions.fix_cases import FixRequest
from bot.decisions.policy import Policy, load_policy
from bot.handoff.tickets import Ticket
from bot.payments.settle import settle
from bot.shop.models import Order
from bot.shop.store import OrderStore

logger = logging.getLogger(__name__)

DESK_LANGUAGE = "en"  # the desk's own words; the shopper's words are in their language
DESK_FIXES = (remedies.REFUND, remedies.PARTIAL_REFUND, remedies.RESHIP, remedies.DISCOUNT)


class CannotAct(Exception):
    """The fix cannot be carried out on this ticket; the message says why, for the agent."""


@dataclass(frozen=True)
class Outcome:
    case: Case
    created: bool
    shopper_text: Optional[str]  # what the shopper is told, in their language; None when nothing was done


@lru_cache(maxsize=1)
def _store() -> OrderStore:
    return open_store()


@lru_cache(maxsize=1)
def _policy() -> Policy:
    return load_policy()


def _money(amount: Optional[float], currency: Optional[str]) -> Optional[str]:
    return wording.money(amount, currency, DESK_LANGUAGE) if amount is not None and currency else None


def case_view(case: Case) -> Dict[str, Any]:
    """A case as the desk lists it: the amount written out and who carried it out (an agent, else Porter)."""
    return {**agent_view(case), "money": _money(case.amount, case.currency), "by": case.details.get("agent")}


def fix_offers(order: Order) -> List[Dict[str, Any]]:
    """The fixes an agent may carry out on ``order``, each with what it gives."""
    policy = _policy()
    partial = round(order.total * policy.partial_refund_percent / 100, 2)
    gives = {
        remedies.REFUND: f"Refund in full ({_money(order.total, order.currency)})",
        remedies.PARTIAL_REFUND: f"Partial refund {policy.partial_refund_percent:g} % "
        f"({_money(partial, order.currency)}), the shopper keeps the item",
        remedies.RESHIP: "Reship the order free to the shipping address",
        remedies.DISCOUNT: f"Discount code, {policy.discount_percent:g} % off the next order",
    }
    return [{"fix": fix, "label": gives[fix]} for fix in DESK_FIXES]


def order_view(order: Order, cases: List[Case]) -> Dict[str, Any]:
    """The order as the agent reads it: no email, phone or street, only what helps decide."""
    shipment = order.shipment
    address = order.shipping_address
    return {
        "order_number": order.order_number,
        "placed_at": order.placed_at.timestamp(),
        "status": order.status,
        "total": _money(order.total, order.currency),
        "items": [
            {"name": item.name, "quantity": item.quantity, "price": _money(item.unit_price, order.currency)}
            for item in order.items
        ],
        "destination": ", ".join(part for part in (address.city, address.country) if part),
        "shipment": {
            "carrier": shipment.carrier,
            "service": shipment.service,
            "tracking_number": shipment.tracking_number,
            "shipped_at": shipment.shipped_at.timestamp(),
            "promised_by": wording.day(shipment.promised_by, DESK_LANGUAGE),
            "scans": [
                {
                    "at": event.at.timestamp(),
                    "location": event.location,
                    "status": event.status,
                    "description": event.description,
                }
                for event in reversed(shipment.events)
            ],
        }
        if shipment
        else None,
        "cases": [case_view(case) for case in cases],
        "fixes": fix_offers(order),
    }


def load_order(ticket: Ticket) -> Optional[Order]:
    """The order the ticket's conversation verified, read now from the order system (None when it has none)."""
    return _store().get(ticket.verified_order) if ticket.verified_order else None


def _pay(case: Case, book: CaseBook) -> Case:
    if case.details.get("payout") == ON_RETURN:
        return case
    return settle(case, _store(), book)


_OPENERS: Dict[str, Callable[[CaseBook, FixRequest], Tuple[Case, bool]]] = {
    remedies.REFUND: lambda book, request: fix_cases.refund(book, _policy(), request),
    remedies.PARTIAL_REFUND: lambda book, request: fix_cases.partial_refund(book, _policy(), request),
    remedies.RESHIP: lambda book, request: fix_cases.reship(book, request),
    remedies.DISCOUNT: lambda book, request: fix_cases.discount(book, _policy(), request),
}


def carry_out(ticket: Ticket, fix: str, agent: str) -> Outcome:
    """Opens the fix's case for the ticket's verified order in ``agent``'s name and pays a refund. Blocking
    (the database, the order system): the desk runs it in a thread."""
    if fix not in _OPENERS:
        raise CannotAct(f"{fix!r} is not a fix the desk carries out (choose from {', '.join(DESK_FIXES)})")
    if not ticket.verified_order:
        raise CannotAct(
            "this conversation has not verified an order: ask the shopper for their order number and email first"
        )
    order = load_order(ticket)
    if order is None:
        raise CannotAct(f"order {ticket.verified_order} is not in the order system any more")
    book = CaseBook()
    request = FixRequest(
        order,
        key=f"{order.order_number}:{ticket.problem or 'desk'}:{fix}",
        conversation_id=ticket.conversation_id,
        problem=ticket.problem,
        situation=ticket.situation,
        agent=agent,
    )
    case, created = _OPENERS[fix](book, request)
    if not created:
        return Outcome(case, False, None)
    if case.type == case_types.REFUND:
        case = _pay(case, book)
    return Outcome(case, True, _tell_shopper(fix, case, order, ticket.language))


def _tell_shopper(fix: str, case: Case, order: Order, language: Optional[str]) -> str:
    """The catalog's confirmation, or the truth about a refund whose money has not gone out yet."""
    amount = wording.money(case.amount or 0.0, case.currency or order.currency, language)
    if case.type == case_types.REFUND and not may_confirm(case):
        reply = "utter_refund_payment_failed" if case.status == FAILED else "utter_refund_payment_checking"
        return replies.say(reply, language, amount=amount, case_reference=case.reference)
    if fix == remedies.REFUND:
        return replies.say("utter_refund_done", language, amount=amount, case_reference=case.reference)
    if fix == remedies.PARTIAL_REFUND:
        return replies.say("utter_partial_refund_done", language, amount=amount, case_reference=case.reference)
    if fix == remedies.RESHIP:
        return replies.say(
            "utter_reship_done", language, address=case.details["address"], case_reference=case.reference
        )
    return replies.say(
        "utter_discount_done",
        language,
        discount=f"{case.details['percent']:g}",
        discount_code=case.details["code"],
        case_reference=case.reference,
    )


def already_done(case: Case) -> str:
    """Why the desk refuses: what was done before, so the agent can tell the shopper instead."""
    view = case_view(case)
    by = f"by {view['by']}" if view["by"] else "by Porter"
    money = f" of {view['money']}" if view["money"] else ""
    state = f", {view['payment']}" if view["payment"] else f", {case.status}"
    rule = (
        "An order gets one refund or reshipment; nothing was paid or sent again."
        if case.type in case_types.ONE_PER_ORDER
        else "Nothing was given again."
    )
    what = f"{case.type.replace('_', ' ')}{money} {case.reference} {by}{state}"
    return f"Already done for order {case.order_number}: {what}. {rule}"
