"""Before an order is shown or anything moves money, goods or an address: who verified what, and what the
policy allows, worked out at that moment.

Nothing in the request is taken on its word. The `verified_order` slot is only a claim: an order counts as
verified when this session's own events set it after the order lookup form, the action server's ledger has
the matching verification for this conversation (bot/authorization/verifications.py), and the shopper has not
been silent for longer than the policy's `verification_expiry_minutes` since. A fix is carried out only when
Porter offered it to this conversation for this order (bot/authorization/offers.py) and the policy, applied to
the order as the store has it now, still allows it. Every refusal is logged with its reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker

from actions import services
from bot.decisions import remedies
from bot.decisions import situations as s
from bot.authorization.offers import Offer, OfferLedger
from bot.authorization.verifications import VerificationLedger
from bot.shop.models import Order

logger = logging.getLogger(__name__)

# The actions whose events may set `verified_order`: the lookup form (its validation runs inside it), and
# Porter's own alerts and follow-ups in a conversation that verified the order before (actions/outreach.py).
VERIFYING_ACTIONS = ("order_lookup_form", "validate_order_lookup_form", "action_tracking_alert", "action_follow_up")
CLOCK_SKEW = 5.0  # seconds: Rasa stamps events, the action server stamps its ledger; both on synced clocks


def ledger() -> VerificationLedger:
    return VerificationLedger()


def offers() -> OfferLedger:
    return OfferLedger()


def _session_events(tracker: Tracker) -> List[Dict[str, Any]]:
    events = list(tracker.events or [])
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            return events[index:]
    return events


def _session_start(events: List[Dict[str, Any]]) -> float:
    first = events[0] if events else {}
    return float(first.get("timestamp") or 0.0) if first.get("event") == "session_started" else 0.0


def _claimed_in_session(events: List[Dict[str, Any]]) -> Optional[str]:
    """The order this session's events say was verified: the last `verified_order` slot event, counted only
    when the lookup form set it."""
    claimed, last_action = None, None
    for event in events:
        if event.get("event") == "action":
            last_action = event.get("name")
        elif event.get("event") == "slot" and event.get("name") == "verified_order":
            value = event.get("value")
            claimed = value if (value and last_action in VERIFYING_ACTIONS) else None
    return claimed if isinstance(claimed, str) else None


def _longest_silence(verified_at: float, events: List[Dict[str, Any]], now: float) -> float:
    """The longest stretch without a word from the shopper since the verification, up to now."""
    stamps = [float(e.get("timestamp") or 0) for e in events if e.get("event") == "user"]
    moments = [verified_at] + sorted(t for t in stamps if t > verified_at) + [now]
    return max(later - earlier for earlier, later in zip(moments, moments[1:]))


def verified_order(tracker: Tracker, now: Optional[float] = None) -> Optional[str]:
    """The order this conversation proved it owns, in this session and recently enough; None otherwise."""
    events = _session_events(tracker)
    claimed = _claimed_in_session(events)
    if claimed is None:
        if tracker.get_slot("verified_order"):
            logger.warning("refused: a verified_order slot that this session's lookup did not set")
        return None
    found = ledger().latest(tracker.sender_id, claimed)
    if found is None:
        logger.warning("refused: order %s was never verified in this conversation", claimed)
        return None
    if found.verified_at + CLOCK_SKEW < _session_start(events):
        logger.warning("refused: order %s was verified in an earlier session", claimed)
        return None
    now = time.time() if now is None else now
    limit = services.policy().verification_expiry_minutes * 60
    if _longest_silence(found.verified_at, events, now) > limit:
        logger.info(
            "refused: the verification of order %s expired after %d minutes of silence",
            claimed,
            services.policy().verification_expiry_minutes,
        )
        return None
    return claimed


def record_verification(tracker: Tracker, order_number: str, method: str) -> None:
    """Called by the lookup form at the moment the order matched: the only way into the ledger."""
    ledger().record(tracker.sender_id, order_number, method, time.time())


def record_offer(tracker: Tracker, order: Order, problem: str, situation: str, remedy: remedies.Remedy) -> None:
    offers().record(
        tracker.sender_id, order.order_number, problem, situation, remedy.next_step, tuple(remedy.fixes), time.time()
    )


@dataclass(frozen=True)
class Grant:
    """A fix the shopper may have now: the order as the store has it and what was offered."""

    order: Order
    offer: Offer
    situation: str


def _answers(tracker: Tracker) -> Dict[str, Any]:
    return {
        remedies.PHOTO: tracker.get_slot("photo"),
        remedies.CANCEL_REASON: tracker.get_slot("cancel_reason"),
        remedies.ITEM_UNUSED: tracker.get_slot("item_unused"),
    }


def grant_fix(tracker: Tracker, fix: str) -> Optional[Grant]:
    """The grant for carrying out ``fix`` now, or None (logged) when it must not be done."""
    order_number = verified_order(tracker)
    if order_number is None:
        return None
    order = services.store().get(order_number)
    if order is None:
        logger.warning("refused %s: order %s is not in the store", fix, order_number)
        return None
    offer = offers().latest(tracker.sender_id, order.order_number)
    if offer is None or fix not in offer.fixes:
        logger.warning("refused %s on order %s: it was not offered in this conversation", fix, order.order_number)
        return None
    policy = services.policy()
    situation = s.classify(order, services.now(), policy)
    allowed = remedies.decide(offer.problem, order, situation, policy, _answers(tracker))
    if fix not in allowed.fixes:
        logger.warning(
            "refused %s on order %s: the policy allows %s now (situation %s)",
            fix,
            order.order_number,
            list(allowed.fixes) or "nothing",
            situation.kind,
        )
        return None
    return Grant(order, offer, situation.kind)


def grant_address_update(tracker: Tracker) -> Optional[Order]:
    """The order whose address may be changed now: verified, offered the change, and still not shipped."""
    order_number = verified_order(tracker)
    order = services.store().get(order_number) if order_number else None
    if order is None:
        return None
    offer = offers().latest(tracker.sender_id, order.order_number)
    if offer is None or offer.next_step != remedies.COLLECT_ADDRESS:
        logger.warning("refused an address change on order %s: it was not offered", order.order_number)
        return None
    if s.classify(order, services.now(), services.policy()).kind != s.NOT_SHIPPED:
        logger.warning("refused an address change on order %s: it has shipped", order.order_number)
        return None
    return order
