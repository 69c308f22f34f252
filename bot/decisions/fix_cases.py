"""The case a fix opens, whoever carries it out: Porter in the conversation or an agent from the desk.

Both go through these functions, so both get the same idempotency keys and the same rule that an order gets
at most one refund or reshipment (``cases.ONE_PER_ORDER``): an agent can never pay again what Porter paid,
nor the other way round. Speaking is left to the caller (the actions reply in the shopper's language, the
desk shows the agent the case); money goes out through ``bot.payments.settle`` after the case exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from bot.decisions import cases as case_types
from bot.decisions import problems
from bot.decisions.cases import ON_RETURN, Case, CaseBook
from bot.decisions.policy import Policy
from bot.shop.models import Order


@dataclass(frozen=True)
class FixRequest:
    """One fix on one order: ``key`` makes the case idempotent, ``agent`` names the person who acted (None
    when Porter did), ``evidence`` is what the shopper told about the problem (photo, reason)."""

    order: Order
    key: str
    conversation_id: Optional[str]
    problem: Optional[str] = None
    situation: Optional[str] = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    agent: Optional[str] = None

    def details(self, **values: Any) -> Dict[str, Any]:
        return {**values, **self.evidence, **({"agent": self.agent} if self.agent else {})}

    @property
    def common(self) -> Dict[str, Any]:
        return dict(order_number=self.order.order_number, conversation_id=self.conversation_id)


def refund(book: CaseBook, policy: Policy, request: FixRequest) -> Tuple[Case, bool]:
    """The whole order back to the original payment. An item problem above the policy's no-return limit is
    refunded once the item is back (``payout: on_return``)."""
    order = request.order
    item_problem = problems.handling(request.problem) == problems.ITEM_HANDLING if request.problem else False
    send_back = item_problem and not policy.needs_no_return(order.total, order.currency)
    return book.open_case(
        type=case_types.REFUND,
        idempotency_key=request.key,
        amount=order.total,
        currency=order.currency,
        details=request.details(
            method="original_payment",
            situation=request.situation,
            problem=request.problem,
            return_required=send_back,
            **({"payout": ON_RETURN} if send_back else {}),
        ),
        **request.common,
    )


def partial_refund(book: CaseBook, policy: Policy, request: FixRequest) -> Tuple[Case, bool]:
    """The policy's share of the order back; the shopper keeps the item. A refund for the one-per-order rule."""
    percent = policy.partial_refund_percent
    return book.open_case(
        type=case_types.REFUND,
        idempotency_key=request.key,
        amount=round(request.order.total * percent / 100, 2),
        currency=request.order.currency,
        details=request.details(
            method="original_payment", partial_percent=percent, keeps_item=True, problem=request.problem
        ),
        **request.common,
    )


def reship(book: CaseBook, request: FixRequest, address: Optional[str] = None) -> Tuple[Case, bool]:
    """The order again, free, to ``address`` (the shipping address unless the shopper gave a new one)."""
    order = request.order
    return book.open_case(
        type=case_types.RESHIPMENT,
        idempotency_key=request.key,
        amount=order.total,
        currency=order.currency,
        details=request.details(
            address=address or order.shipping_address.one_line(),
            situation=request.situation,
        ),
        **request.common,
    )


def discount(book: CaseBook, policy: Policy, request: FixRequest) -> Tuple[Case, bool]:
    """A code worth the policy's percentage off the next order."""
    return book.open_case(
        type=case_types.DISCOUNT,
        idempotency_key=request.key,
        details=request.details(
            percent=policy.discount_percent,
            code="SORRY-" + secrets.token_hex(3).upper(),
        ),
        **request.common,
    )
