"""One attempt to pay a payment case through the order system, never paying it twice.

Before every attempt but the first, the order system is asked whether an earlier one paid after all (its
refunds are searched for the case reference, which Porter sets as the refund's note): found, the case is
``paid`` without a second request. Only then is the refund sent, and its answer decides the state: ``paid``,
``failed`` (certainly not paid) or ``unknown`` (may have been paid: reconciled on the next attempt). A store
that keeps no payments (the embedded one) leaves the case ``pending`` for the shop to pay out by hand.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from bot.decisions.cases import FAILED, MANUAL, PAID, PENDING, UNKNOWN, Case, CaseBook
from bot.http_client import BackendUnavailable
from bot.payments.schedule import RetrySchedule
from bot.shop.store import RefundOutcomeUnknown

logger = logging.getLogger(__name__)

# How long one attempt holds its case: longer than any attempt can take (a few Shopify calls, each with its
# own retries), so a shopper's click and the worker never pay the same case at once; a crashed attempt's
# claim simply runs out.
CLAIM_SECONDS = 600


def _why(exc: BaseException) -> str:
    """What went wrong, in words safe for the case and the logs (BackendUnavailable never carries secrets)."""
    if isinstance(exc, KeyError):
        return "the order system does not know this order"
    return str(exc)


def settle(case: Case, store: Any, book: CaseBook, schedule: Optional[RetrySchedule] = None) -> Case:
    """Reconciles and, if needed, pays ``case``; returns the case as it stands afterwards. Returns it untouched
    when it needs no payment or another attempt holds it. Raises nothing for a payment that did not go out."""
    schedule = schedule or RetrySchedule.from_env()
    now = datetime.now(timezone.utc)
    claimed = book.claim_payment(case.reference, now, now + timedelta(seconds=CLAIM_SECONDS))
    if claimed is None:
        return book.get(case.reference) or case
    if claimed.status != PENDING or claimed.details["attempts"] > 1:  # a refund may have been sent before
        try:
            found = store.find_refund(claimed.order_number, claimed.reference)
        except (BackendUnavailable, KeyError) as exc:
            # Nothing learnt: the state stays what it was (unknown stays unknown, never "failed").
            return _not_paid(book, claimed, claimed.status, exc, schedule, now)
        if found:
            logger.info("payments: case %s found paid in the order system (refund %s)", claimed.reference, found)
            return book.finish_payment(claimed.reference, PAID, {"refund_id": found, "reconciled": True})
    book.paying(claimed.reference)
    try:
        refund_id = store.refund(claimed.order_number, claimed.amount or 0.0, note=claimed.reference)
    except RefundOutcomeUnknown as exc:
        return _not_paid(book, claimed, UNKNOWN, exc, schedule, now)
    except (BackendUnavailable, KeyError) as exc:
        return _not_paid(book, claimed, FAILED, exc, schedule, now)
    if refund_id is None:
        return book.finish_payment(claimed.reference, PENDING, {"payout": MANUAL})
    logger.info("payments: case %s paid (refund %s)", claimed.reference, refund_id)
    return book.finish_payment(claimed.reference, PAID, {"refund_id": refund_id})


def _not_paid(
    book: CaseBook, claimed: Case, status: str, exc: BaseException, schedule: RetrySchedule, now: datetime
) -> Case:
    attempts = claimed.details["attempts"]
    retry_at = schedule.next_attempt(attempts, now)
    details = {"failure": _why(exc), "next_attempt_at": retry_at.isoformat(timespec="seconds") if retry_at else None}
    if retry_at is None:
        details["gave_up_at"] = now.isoformat(timespec="seconds")
        logger.error(
            "payments: case %s %s after %d attempts (%s); retries stopped: an agent must check it",
            claimed.reference,
            status,
            attempts,
            details["failure"],
        )
    else:
        logger.warning(
            "payments: case %s %s (%s); attempt %d, next at %s",
            claimed.reference,
            status,
            details["failure"],
            attempts,
            details["next_attempt_at"],
        )
    return book.finish_payment(claimed.reference, status, details)
