"""Cases: the record of every outcome (refund, reshipment, address change, claim, handoff request).

Creating a case is idempotent on its key: a shopper who clicks "refund" twice, or a retried action call,
gets the first case back and never a second refund. Refunds and reshipments are additionally limited to
one per order, whatever the problem, because money and goods must never go out twice.

Cases that pay money back through the order system (``PAYMENT_TYPES``) have a payment state as their status,
and this module is the one place that knows them: ``pending`` (recorded, not paid yet), ``paid`` (the order
system confirmed it; ``details.refund_id``), ``failed`` (certainly not paid: never reached the order system,
or refused) and ``unknown`` (may or may not have gone out: no clear answer after the request was sent).
``details.payout`` marks money Porter does not pay itself: ``manual`` (the store keeps no payments, as the
embedded one: the shop pays out from the case) and ``on_return`` (paid once the item is back). Every payment
attempt is claimed first (``claim_payment``), so the chat and the retry worker never pay the same case at the
same moment; ``bot.payments`` makes the attempts.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from bot.storage import Where, database
from bot.storage.schema import cases

# What a case records (its `type`, stored and shown in the desk and `python -m bot cases list`).
REFUND, RESHIPMENT, ADDRESS_CHANGE, CARRIER_CLAIM = "refund", "reshipment", "address_change", "carrier_claim"
HANDOFF_REQUEST, SCAN_ALERT, DISCOUNT, CANCELLATION = "handoff_request", "scan_alert", "discount", "cancellation"
RETURN, CUSTOMS_ASSIST = "return", "customs_assist"
CASE_TYPES = (
    REFUND,
    RESHIPMENT,
    ADDRESS_CHANGE,
    CARRIER_CLAIM,
    HANDOFF_REQUEST,
    SCAN_ALERT,
    DISCOUNT,
    CANCELLATION,
    RETURN,
    CUSTOMS_ASSIST,
)
ONE_PER_ORDER = (REFUND, RESHIPMENT)  # kept by the index cases_one_payout_per_order (bot/storage/schema.py)
PAYMENT_TYPES = (REFUND,)
PENDING, PAID, FAILED, UNKNOWN = "pending", "paid", "failed", "unknown"
MANUAL, ON_RETURN = "manual", "on_return"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: references are read aloud and retyped


@dataclass(frozen=True)
class Case:
    reference: str
    order_number: Optional[str]
    type: str
    status: str
    amount: Optional[float]
    currency: Optional[str]
    conversation_id: Optional[str]
    created_at: str
    idempotency_key: str
    details: Dict[str, Any]

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _row_to_case(row) -> Case:
    data = dict(row._mapping)
    data["details"] = json.loads(data["details"] or "{}")
    return Case(**data)


def new_reference() -> str:
    return "PC-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def _instant(value: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")


def is_payment(case: Case) -> bool:
    return case.type in PAYMENT_TYPES


def needs_payment(case: Case) -> bool:
    """Money Porter still has to pay through the order system (or confirm it paid)."""
    return is_payment(case) and case.status in (PENDING, FAILED, UNKNOWN) and not case.details.get("payout")


def may_confirm(case: Case) -> bool:
    """Whether the shopper may hear that their refund is done: the order system paid it, or the shop pays it
    out from the case itself."""
    return case.status == PAID or bool(case.details.get("payout"))


def payment_note(case: Case) -> Optional[str]:
    """Where the money of a payment case stands, in the words agents read (the desk); None for other cases."""
    if not is_payment(case):
        return None
    details = case.details
    if case.status == PAID:
        return "paid" + (f" (order system refund {details['refund_id']})" if details.get("refund_id") else "")
    if details.get("payout") == MANUAL:
        return "to be paid out by the shop from this case (the order system keeps no payments)"
    if details.get("payout") == ON_RETURN:
        return "to be paid once the item is back"
    stopped = (
        "retries stopped after {} attempts: check the order system, then pay by hand".format(details.get("attempts", 0))
        if details.get("gave_up_at")
        else None
    )
    if case.status == UNKNOWN:
        return "payment unknown — " + (stopped or "being checked")
    if case.status == FAILED:
        return "payment failed — " + (stopped or "being retried")
    if case.status == PENDING:
        return "payment not made yet — " + (stopped or "being paid")
    return None  # a refund recorded before payment states existed: its status says what it is


def agent_view(case: Case) -> Dict[str, Any]:
    """A case as the desk shows it next to a ticket: no shopper details, only what the case is and where it
    stands."""
    return {
        "reference": case.reference,
        "type": case.type,
        "amount": case.amount,
        "currency": case.currency,
        "status": case.status,
        "payment": payment_note(case),
        "created_at": datetime.fromisoformat(case.created_at).timestamp(),
    }


class CaseBook:
    def __init__(self, where: Where = None):
        self.db = database(where)

    def open_case(
        self,
        *,
        type: str,
        idempotency_key: str,
        order_number: Optional[str] = None,
        status: Optional[str] = None,
        amount: Optional[float] = None,
        currency: Optional[str] = None,
        conversation_id: Optional[str] = None,
        details: Optional[Dict[str, Any]] = None,
    ) -> Tuple[Case, bool]:
        """(case, created). Returns the existing case when the key (or the one-per-order rule) matches: both are
        unique indexes, so simultaneous clicks in several processes still make one case.
        A payment case always starts ``pending``; others ``open`` unless told."""
        if type not in CASE_TYPES:
            raise ValueError(f"unknown case type {type!r}")
        status = PENDING if type in PAYMENT_TYPES else status or "open"
        while True:
            case = Case(
                reference=new_reference(),
                order_number=order_number,
                type=type,
                status=status,
                amount=amount,
                currency=currency,
                conversation_id=conversation_id,
                created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                idempotency_key=idempotency_key,
                details=details or {},
            )
            row = {**case.to_dict(), "details": json.dumps(case.details, ensure_ascii=False, sort_keys=True)}
            with self.db.writing() as conn:
                if conn.execute(self.db.insert(cases).values(row).on_conflict_do_nothing()).rowcount == 1:
                    return case, True
                existing = self._existing(conn, idempotency_key, type, order_number)
            if existing is not None:
                return existing, False
            # only the random reference collided: draw another

    @staticmethod
    def _existing(conn: Connection, idempotency_key: str, type: str, order_number: Optional[str]) -> Optional[Case]:
        row = conn.execute(select(cases).where(cases.c.idempotency_key == idempotency_key)).first()
        if row is None and type in ONE_PER_ORDER and order_number:
            row = conn.execute(
                select(cases).where(cases.c.order_number == order_number, cases.c.type.in_(ONE_PER_ORDER))
            ).first()
        return _row_to_case(row) if row else None

    def list(self, order_number: Optional[str] = None, type: Optional[str] = None) -> List[Case]:
        query = select(cases)
        if order_number:
            query = query.where(cases.c.order_number == order_number)
        if type:
            query = query.where(cases.c.type == type)
        with self.db.reading() as conn:
            rows = conn.execute(query.order_by(cases.c.created_at, cases.c.reference)).all()
        return [_row_to_case(r) for r in rows]

    def get(self, reference: str) -> Optional[Case]:
        with self.db.reading() as conn:
            row = conn.execute(select(cases).where(cases.c.reference == reference.strip().upper())).first()
        return _row_to_case(row) if row else None

    @staticmethod
    def _locked(conn: Connection, reference: str) -> Optional[Case]:
        """The case, its row locked until the transaction ends (SQLite: the write lock does it)."""
        row = conn.execute(select(cases).where(cases.c.reference == reference).with_for_update()).first()
        return _row_to_case(row) if row else None

    @staticmethod
    def _save(conn: Connection, reference: str, status: str, details: Dict[str, Any]) -> None:
        conn.execute(
            update(cases)
            .where(cases.c.reference == reference)
            .values(status=status, details=json.dumps(details, ensure_ascii=False, sort_keys=True))
        )

    def update(self, reference: str, *, status: Optional[str] = None, details: Optional[Dict[str, Any]] = None) -> Case:
        """Records what happened after the case was opened (a payment id, a failure); keys are merged."""
        with self.db.writing() as conn:
            case = self._locked(conn, reference)
            if case is None:
                raise KeyError(reference)
            self._save(conn, reference, status or case.status, {**case.details, **(details or {})})
        return self.get(reference)

    def payments_open(self) -> List[Case]:
        """Payment cases whose money has not been confirmed, oldest first (what the retry worker looks at)."""
        with self.db.reading() as conn:
            rows = conn.execute(
                select(cases)
                .where(cases.c.type.in_(PAYMENT_TYPES), cases.c.status.in_((PENDING, FAILED, UNKNOWN)))
                .order_by(cases.c.created_at, cases.c.reference)
            ).all()
        return [c for c in map(_row_to_case, rows) if needs_payment(c)]

    def claim_payment(self, reference: str, now: datetime, until: datetime) -> Optional[Case]:
        """Takes the case for one payment attempt until ``until``, counting the attempt; None when it needs no
        payment or another attempt holds it (a shopper's click and the worker at the same moment)."""
        with self.db.writing() as conn:
            case = self._locked(conn, reference)
            if case is None or not needs_payment(case):
                return None
            held = _instant(case.details.get("claimed_until"))
            if held and held > now:
                return None
            details = {
                **case.details,
                "attempts": case.details.get("attempts", 0) + 1,
                "last_attempt_at": _iso(now),
                "claimed_until": _iso(until),
            }
            self._save(conn, reference, case.status, details)
        return replace(case, details=details)

    def paying(self, reference: str) -> Case:
        """The request that may move money is about to be sent: until its answer, the outcome is unknown (a
        crash now leaves the case to be reconciled, never paid blindly again)."""
        return self.update(reference, status=UNKNOWN)

    def finish_payment(self, reference: str, status: str, details: Dict[str, Any]) -> Case:
        """Records how a claimed attempt ended and releases the claim."""
        if status not in (PENDING, PAID, FAILED, UNKNOWN):
            raise ValueError(f"not a payment state: {status!r}")
        return self.update(reference, status=status, details={**details, "claimed_until": None})
