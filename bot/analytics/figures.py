"""The analytics' figures for a date range, a language and a channel: each a small table of aggregates.

Computed from the session index (bot/analytics/sessions.py, brought up to date first), tickets and their
messages, cases, ratings, the watcher's view of each shipment and the shop's orders. Nothing here returns a
shopper's words except the masked list of messages Porter did not understand.

Each figure is a Table: a title, what it means, column names and rows, so the same figure prints as Markdown,
CSV or JSON (bot/analytics/report.py) and draws as a chart in the desk.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from sqlalchemy import and_, func, select

from bot.analytics.sessions import SessionIndex
from bot.decisions import cases as case_types
from bot.handoff.tickets import PORTER
from bot.storage import Where, database
from bot.storage.schema import (
    analytics_fallbacks,
    analytics_sessions,
    cases,
    orders,
    ratings,
    ticket_messages,
    tickets,
    watched_shipments,
)

NO_REASON = "(none)"
DELIVERY_PROBLEMS = ("stalled", "lost", "address_problem", "customs_hold")  # address_problem: returned to sender
MONEY_CASES = {
    "refund": case_types.REFUND,
    "reshipment": case_types.RESHIPMENT,
    "discount": case_types.DISCOUNT,
}


class Group(NamedTuple):
    """Sessions alike in day, reason, language and channel: how many, and how many were handed over."""

    day: str
    reason: Optional[str]
    language: Optional[str]
    channel: str
    sessions: int
    handed_over: int


@dataclass(frozen=True)
class Filters:
    since: date
    until: date  # inclusive
    language: Optional[str] = None
    channel: Optional[str] = None

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise ValueError(f"the range ends ({self.until}) before it starts ({self.since})")

    @property
    def first_instant(self) -> str:
        return datetime.combine(self.since, datetime.min.time(), timezone.utc).isoformat(timespec="seconds")

    @property
    def after_instant(self) -> str:
        return datetime.combine(self.until + timedelta(days=1), datetime.min.time(), timezone.utc).isoformat(
            timespec="seconds"
        )


@dataclass
class Table:
    key: str
    title: str
    meaning: str
    columns: List[str]
    rows: List[List[Any]] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "meaning": self.meaning,
            "columns": self.columns,
            "rows": self.rows,
        }


def _share(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def _minutes(later: Optional[str], earlier: Optional[str]) -> Optional[float]:
    if not later or not earlier:
        return None
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds() / 60


class Analytics:
    def __init__(self, where: Where = None, events_url: Optional[str] = None) -> None:
        self.db = database(where)
        self.index = SessionIndex(where, events_url)

    def compute(self, filters: Filters, refresh: bool = True) -> List[Table]:
        if refresh:
            self.index.update()
        self._known_orders: Dict[str, Dict[str, Any]] = {}
        with self.db.reading() as conn:
            s = analytics_sessions.c
            groups = [s.day, s.reason, s.language, s.channel]
            # One GROUP BY, read from its covering index, for every conversation figure: (day, reason, language,
            # channel, sessions, handed over), a few thousand rows where the range holds 100,000 sessions.
            sessions = [
                Group(*row)
                for row in conn.execute(
                    select(*groups, func.count(), func.coalesce(func.sum(s.handed_over), 0))
                    .where(self._session_filter(filters))
                    .group_by(*groups)
                ).all()
            ]
            tables = [
                *self._per_day(sessions),
                self._automation(sessions),
                self._handoff_reasons(conn, filters),
                *self._ratings(conn, filters),
                self._handover_times(conn, filters),
                self._money(conn, filters),
                self._delivery_problems(conn),
                self._least_understood(conn, filters),
            ]
        return tables

    # --- conversations ------------------------------------------------------------------------------------

    @staticmethod
    def _session_filter(filters: Filters):
        s = analytics_sessions.c
        conditions = [s.day >= filters.since.isoformat(), s.day <= filters.until.isoformat()]
        if filters.language:
            conditions.append(s.language == filters.language)
        if filters.channel:
            conditions.append(s.channel == filters.channel)
        return and_(*conditions)

    @staticmethod
    def _per_day(sessions: Sequence) -> List[Table]:
        out = []
        for key, label, pick in (
            ("conversations_by_reason", "reason", lambda row: row.reason or NO_REASON),
            ("conversations_by_language", "language", lambda row: row.language or "unknown"),
            ("conversations_by_channel", "channel", lambda row: row.channel),
        ):
            counts: Counter = Counter()
            for group in sessions:
                counts[(group.day, pick(group))] += group.sessions
            out.append(
                Table(
                    key,
                    f"Conversations per day by {label}",
                    f"Conversation sessions started each day (UTC), by {label}; a session ends after 30 minutes "
                    "of silence. "
                    + (
                        "The reason is the first kind of problem the shopper raised; (none) when they raised none "
                        "(a greeting, a question Porter could not place)."
                        if label == "reason"
                        else ""
                    ),
                    ["day", label, "conversations"],
                    [[day, what, count] for (day, what), count in sorted(counts.items())],
                )
            )
        return out

    @staticmethod
    def _automation(sessions: Sequence) -> Table:
        table = Table(
            "automation",
            "Solved without a person, by reason",
            "Of the conversations that raised a problem, the share Porter saw through without handing over to a "
            "person (automation rate), and the share handed over. The last row counts every conversation.",
            ["reason", "conversations", "without a person", "automation rate", "handed over", "handoff rate"],
        )

        def row(name: str, count: int, handed: int) -> List[Any]:
            return [name, count, count - handed, _share(count - handed, count), handed, _share(handed, count)]

        counts: Counter = Counter()
        handed: Counter = Counter()
        for group in sessions:
            counts[group.reason] += group.sessions
            handed[group.reason] += int(group.handed_over)
        reasons = sorted(r for r in counts if r is not None)
        table.rows += [row(r, counts[r], handed[r]) for r in reasons]
        table.rows.append(row("all problems", sum(counts[r] for r in reasons), sum(handed[r] for r in reasons)))
        table.rows.append(row("all conversations", sum(counts.values()), sum(handed.values())))
        return table

    # --- people -----------------------------------------------------------------------------------------------

    @staticmethod
    def _ticket_filter(filters: Filters):
        t = tickets.c
        conditions = [t.created_at >= filters.first_instant, t.created_at < filters.after_instant]
        if filters.language:
            conditions.append(t.language == filters.language)
        if filters.channel:
            conditions.append(t.channel == filters.channel)
        return and_(*conditions)

    def _handoff_reasons(self, conn, filters: Filters) -> Table:
        t = tickets.c
        rows = conn.execute(
            select(t.reason, func.count())
            .where(self._ticket_filter(filters))
            .group_by(t.reason)
            .order_by(func.count().desc(), t.reason)
        ).all()
        total = sum(r[1] for r in rows)
        return Table(
            "handoff_reasons",
            "Why conversations went to a person",
            "Tickets opened in the range by their reason (bot/handoff/reasons.py), with each reason's share.",
            ["reason", "tickets", "share"],
            [[reason, count, _share(count, total)] for reason, count in rows],
        )

    def _ratings(self, conn, filters: Filters) -> List[Table]:
        r = ratings.c
        conditions = [r.created_at >= filters.first_instant, r.created_at < filters.after_instant]
        if filters.language:
            conditions.append(r.language == filters.language)
        if filters.channel:
            conditions.append(r.channel == filters.channel)
        found = conn.execute(select(r.score, r.problem, r.language, r.agent).where(and_(*conditions))).all()
        out = []
        for key, label, pick in (
            ("ratings_by_reason", "reason", lambda row: row.problem or NO_REASON),
            ("ratings_by_language", "language", lambda row: row.language or "unknown"),
            ("ratings_by_agent", "agent", lambda row: row.agent or PORTER),
        ):
            groups: Dict[str, List[int]] = defaultdict(list)
            for row in found:
                groups[pick(row)].append(row.score)
            table = Table(
                key,
                f"Ratings by {label}",
                f"Shoppers' 1-to-5 ratings by {label}: how many, the average and how many gave each score. "
                + ("Porter: conversations no agent resolved." if label == "agent" else ""),
                [label, "ratings", "average", "1", "2", "3", "4", "5"],
            )
            for name in sorted(groups):
                scores = Counter(groups[name])
                table.rows.append(
                    [name, len(groups[name]), round(statistics.fmean(groups[name]), 2)]
                    + [scores[s] for s in range(1, 6)]
                )
            out.append(table)
        return out

    def _handover_times(self, conn, filters: Filters) -> Table:
        t, m = tickets.c, ticket_messages.c
        first_reply = (
            select(m.ticket_id, func.min(m.created_at).label("replied_at"))
            .where(m.kind == "reply")
            .group_by(m.ticket_id)
            .subquery()
        )
        found = conn.execute(
            select(t.created_at, t.closed_at, t.status, first_reply.c.replied_at)
            .select_from(tickets.outerjoin(first_reply, first_reply.c.ticket_id == t.id))
            .where(self._ticket_filter(filters))
        ).all()
        to_reply = [v for v in (_minutes(row.replied_at, row.created_at) for row in found) if v is not None]
        to_resolve = [
            v
            for v in (_minutes(row.closed_at, row.created_at) for row in found if row.status == "resolved")
            if v is not None
        ]
        table = Table(
            "handover_times",
            "Time to the first agent reply and to resolution",
            "For conversations handed to a person: minutes from the handoff to the agent's first reply, and to the "
            "ticket's resolution (resolved tickets only): how many, the median and the 90th percentile.",
            ["measure", "tickets", "median minutes", "p90 minutes"],
        )
        for label, values in (("first reply", to_reply), ("resolution", to_resolve)):
            ordered = sorted(values)
            p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else None
            table.rows.append(
                [
                    label,
                    len(ordered),
                    round(statistics.median(ordered), 1) if ordered else None,
                    round(p90, 1) if p90 is not None else None,
                ]
            )
        return table

    # --- money and parcels ------------------------------------------------------------------------------------

    def _orders(self, conn, numbers: Iterable[str]) -> Dict[str, Dict[str, Any]]:
        """Carrier, route and dates of these orders, from the embedded store (empty with an external shop); each
        order read once per computation."""
        out = self._known_orders
        wanted = sorted({n for n in numbers if n and n not in out})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for number, document in conn.execute(
                select(orders.c.order_number, orders.c.document).where(orders.c.order_number.in_(chunk))
            ).all():
                data = json.loads(document)
                shipment = data.get("shipment") or {}
                events = shipment.get("events") or []
                origin = (events[0].get("location") or "").rpartition(",")[2].strip() if events else ""
                out[number] = {
                    "carrier": shipment.get("carrier") or "unknown",
                    "country": (data.get("shipping_address") or {}).get("country") or "unknown",
                    "origin": origin or "unknown",
                    "promised_by": shipment.get("promised_by"),
                    "currency": data.get("currency"),
                }
        return out

    def _money(self, conn, filters: Filters) -> Table:
        c = cases.c
        found = conn.execute(
            select(c.type, c.amount, c.currency, c.order_number, c.details).where(
                c.type.in_(list(MONEY_CASES.values())),
                c.created_at >= filters.first_instant,
                c.created_at < filters.after_instant,
            )
        ).all()
        known = self._orders(conn, (row.order_number for row in found))
        totals: Dict[Tuple[str, str, str, str], List[float]] = defaultdict(lambda: [0, 0.0])
        for row in found:
            details = json.loads(row.details or "{}")
            kind = "partial refund" if row.type == case_types.REFUND and details.get("partial_percent") else row.type
            order = known.get(row.order_number, {})
            key = (kind, order.get("carrier", "unknown"), order.get("country", "unknown"), row.currency or "")
            totals[key][0] += 1
            totals[key][1] += float(row.amount or 0)
        return Table(
            "fixes",
            "Refunds, reshipments, partial refunds and discounts",
            "What the fixes cost, by carrier and destination country: how many and their value in the order's "
            "currency (a reshipment's value is the goods sent again).",
            ["fix", "carrier", "country", "currency", "count", "value"],
            [[*key, count, round(value, 2)] for key, (count, value) in sorted(totals.items())],
        )

    def _delivery_problems(self, conn) -> Table:
        w = watched_shipments.c
        seen = conn.execute(select(w.order_number, w.situation, w.checked_at)).all()
        known = self._orders(conn, (row.order_number for row in seen))
        groups: Dict[Tuple[str, str], Counter] = defaultdict(Counter)
        days_lost: Dict[Tuple[str, str], float] = defaultdict(float)
        for row in seen:
            order = known.get(row.order_number)
            if order is None:
                continue
            key = (order["carrier"], f"{order['origin']} → {order['country']}")
            groups[key]["all"] += 1
            groups[key][row.situation] += 1
            if row.situation in DELIVERY_PROBLEMS and order["promised_by"]:
                late = datetime.fromisoformat(row.checked_at).date() - date.fromisoformat(order["promised_by"])
                days_lost[key] += max(0, late.days)
        table = Table(
            "delivery_problems",
            "Delivery problems per carrier and route",
            "Of the shipments the watcher follows, by carrier and route (origin → destination country): the share "
            "stalled, lost, returned or with an address problem, and held at customs, as last seen; days lost adds "
            "up, for those shipments, the days past the promised date.",
            ["carrier", "route", "shipments", "stalled", "lost", "returned or address", "customs", "days lost"],
        )
        for key in sorted(groups):
            count = groups[key]
            whole = count["all"]
            table.rows.append(
                [
                    *key,
                    whole,
                    *(_share(count[s], whole) for s in DELIVERY_PROBLEMS[:2]),
                    _share(count["address_problem"], whole),
                    _share(count["customs_hold"], whole),
                    round(days_lost[key]),
                ]
            )
        return table

    # --- understanding ----------------------------------------------------------------------------------------

    def _least_understood(self, conn, filters: Filters, limit: int = 30) -> Table:
        f = analytics_fallbacks.c
        conditions = [f.day >= filters.since.isoformat(), f.day <= filters.until.isoformat()]
        if filters.language:
            conditions.append(f.language == filters.language)
        if filters.channel:
            conditions.append(f.channel == filters.channel)
        rows = conn.execute(
            select(f.text, func.coalesce(f.language, "unknown"), func.count())
            .where(and_(*conditions))
            .group_by(f.text, f.language)
            .order_by(func.count().desc(), f.text)
            .limit(limit)
        ).all()
        return Table(
            "least_understood",
            "Messages Porter understood least",
            "The shoppers' messages Porter could not understand (it asked them to rephrase, and a second time handed "
            "over), most frequent first; emails, phone numbers, order and tracking numbers and long numbers masked.",
            ["message", "language", "times"],
            [list(r) for r in rows],
        )
