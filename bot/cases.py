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
import sqlite3
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from bot.db import connect
from bot.paths import shop_db_path

CASE_TYPES = ("refund", "reshipment", "address_change", "carrier_claim", "handoff_request",
              "scan_alert", "discount", "cancellation", "return", "customs_assist")
ONE_PER_ORDER = ("refund", "reshipment")
PAYMENT_TYPES = ("refund",)
PENDING, PAID, FAILED, UNKNOWN = "pending", "paid", "failed", "unknown"
MANUAL, ON_RETURN = "manual", "on_return"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: references are read aloud and retyped

SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    reference TEXT PRIMARY KEY,
    order_number TEXT,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    amount REAL,
    currency TEXT,
    conversation_id TEXT,
    created_at TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS cases_order ON cases (order_number);
"""


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


def _row_to_case(row: sqlite3.Row) -> Case:
    data = dict(row)
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
    stopped = "retries stopped after {} attempts: check the order system, then pay by hand".format(
        details.get("attempts", 0)) if details.get("gave_up_at") else None
    if case.status == UNKNOWN:
        return "payment unknown — " + (stopped or "being checked")
    if case.status == FAILED:
        return "payment failed — " + (stopped or "being retried")
    if case.status == PENDING:
        return "payment not made yet — " + (stopped or "being paid")
    return None   # a refund recorded before payment states existed: its status says what it is


def agent_view(case: Case) -> Dict[str, Any]:
    """A case as the desk shows it next to a ticket: no shopper details, only what the case is and where it
    stands."""
    return {"reference": case.reference, "type": case.type, "amount": case.amount, "currency": case.currency,
            "status": case.status, "payment": payment_note(case),
            "created_at": datetime.fromisoformat(case.created_at).timestamp()}


class CaseBook:
    def __init__(self, path: Optional[Path] = None):
        self.path = Path(path) if path else shop_db_path()
        with connect(self.path) as conn:
            conn.executescript(SCHEMA)

    def open_case(self, *, type: str, idempotency_key: str, order_number: Optional[str] = None,
                  status: Optional[str] = None, amount: Optional[float] = None, currency: Optional[str] = None,
                  conversation_id: Optional[str] = None, details: Optional[Dict[str, Any]] = None
                  ) -> Tuple[Case, bool]:
        """(case, created). Returns the existing case when the key (or the one-per-order rule) matches.
        A payment case always starts ``pending``; others ``open`` unless told."""
        if type not in CASE_TYPES:
            raise ValueError(f"unknown case type {type!r}")
        status = PENDING if type in PAYMENT_TYPES else status or "open"
        with connect(self.path) as conn:
            conn.execute("BEGIN IMMEDIATE")  # serialise concurrent clicks on the same button
            existing = conn.execute("SELECT * FROM cases WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
            if existing is None and type in ONE_PER_ORDER and order_number:
                existing = conn.execute(
                    "SELECT * FROM cases WHERE order_number = ? AND type IN (?, ?) ORDER BY created_at LIMIT 1",
                    (order_number, *ONE_PER_ORDER),
                ).fetchone()
            if existing is not None:
                return _row_to_case(existing), False
            case = Case(
                reference=new_reference(), order_number=order_number, type=type, status=status,
                amount=amount, currency=currency, conversation_id=conversation_id,
                created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                idempotency_key=idempotency_key, details=details or {},
            )
            conn.execute(
                "INSERT INTO cases (reference, order_number, type, status, amount, currency, conversation_id, "
                "created_at, idempotency_key, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case.reference, case.order_number, case.type, case.status, case.amount, case.currency,
                 case.conversation_id, case.created_at, case.idempotency_key,
                 json.dumps(case.details, ensure_ascii=False, sort_keys=True)),
            )
            return case, True

    def list(self, order_number: Optional[str] = None, type: Optional[str] = None) -> List[Case]:
        query, args = "SELECT * FROM cases WHERE 1=1", []
        if order_number:
            query += " AND order_number = ?"
            args.append(order_number)
        if type:
            query += " AND type = ?"
            args.append(type)
        with connect(self.path) as conn:
            rows = conn.execute(query + " ORDER BY created_at, reference", args).fetchall()
        return [_row_to_case(r) for r in rows]

    def get(self, reference: str) -> Optional[Case]:
        with connect(self.path) as conn:
            row = conn.execute("SELECT * FROM cases WHERE reference = ?", (reference.strip().upper(),)).fetchone()
        return _row_to_case(row) if row else None

    def update(self, reference: str, *, status: Optional[str] = None,
               details: Optional[Dict[str, Any]] = None) -> Case:
        """Records what happened after the case was opened (a payment id, a failure); keys are merged."""
        with connect(self.path) as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT * FROM cases WHERE reference = ?", (reference,)).fetchone()
            if row is None:
                raise KeyError(reference)
            case = _row_to_case(row)
            merged = {**case.details, **(details or {})}
            conn.execute("UPDATE cases SET status = ?, details = ? WHERE reference = ?",
                         (status or case.status, json.dumps(merged, ensure_ascii=False, sort_keys=True), reference))
        return self.get(reference)

    def payments_open(self) -> List[Case]:
        """Payment cases whose money has not been confirmed, oldest first (what the retry worker looks at)."""
        types, states = ",".join("?" * len(PAYMENT_TYPES)), (PENDING, FAILED, UNKNOWN)
        with connect(self.path) as conn:
            rows = conn.execute(f"SELECT * FROM cases WHERE type IN ({types}) AND status IN (?, ?, ?) "
                                "ORDER BY created_at, reference", (*PAYMENT_TYPES, *states)).fetchall()
        return [c for c in map(_row_to_case, rows) if needs_payment(c)]

    def claim_payment(self, reference: str, now: datetime, until: datetime) -> Optional[Case]:
        """Takes the case for one payment attempt until ``until``, counting the attempt; None when it needs no
        payment or another attempt holds it (a shopper's click and the worker at the same moment)."""
        with connect(self.path) as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT * FROM cases WHERE reference = ?", (reference,)).fetchone()
            case = _row_to_case(row) if row else None
            if case is None or not needs_payment(case):
                return None
            held = _instant(case.details.get("claimed_until"))
            if held and held > now:
                return None
            details = {**case.details, "attempts": case.details.get("attempts", 0) + 1,
                       "last_attempt_at": _iso(now), "claimed_until": _iso(until)}
            conn.execute("UPDATE cases SET details = ? WHERE reference = ?",
                         (json.dumps(details, ensure_ascii=False, sort_keys=True), reference))
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
