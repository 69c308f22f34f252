"""Cases: the record of every outcome (refund, reshipment, address change, claim, handoff request).

Creating a case is idempotent on its key: a shopper who clicks "refund" twice, or a retried action call,
gets the first case back and never a second refund. Refunds and reshipments are additionally limited to
one per order, whatever the problem, because money and goods must never go out twice.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from bot.db import connect
from bot.paths import shop_db_path

CASE_TYPES = ("refund", "reshipment", "address_change", "carrier_claim", "handoff_request",
              "scan_alert", "discount", "cancellation", "return", "customs_assist")
ONE_PER_ORDER = ("refund", "reshipment")
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


class CaseBook:
    def __init__(self, path: Optional[Path] = None):
        self.path = Path(path) if path else shop_db_path()
        with connect(self.path) as conn:
            conn.executescript(SCHEMA)

    def open_case(self, *, type: str, idempotency_key: str, order_number: Optional[str] = None,
                  status: str = "open", amount: Optional[float] = None, currency: Optional[str] = None,
                  conversation_id: Optional[str] = None, details: Optional[Dict[str, Any]] = None
                  ) -> Tuple[Case, bool]:
        """(case, created). Returns the existing case when the key (or the one-per-order rule) matches."""
        if type not in CASE_TYPES:
            raise ValueError(f"unknown case type {type!r}")
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
