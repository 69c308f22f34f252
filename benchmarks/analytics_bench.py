"""`make bench-analytics`: how long the desk's analytics page takes to compute its figures over a generated history
of 100,000 conversations (90 days, eight languages, four channels), on SQLite.

The history: Rasa's events table filled as Rasa's SQL tracker store fills it (its own schema; rows inserted in
bulk so that generating takes seconds, not hours), about 9 events a conversation, one in six handed to a person
(a ticket, an agent's reply, most resolved), one in eight with a refund, reshipment or discount, one in ten
rated, one in twelve with a message Porter did not understand. Seeded: the same history every run.

Prints: the one-time reading of Rasa's events into the session index, then the figures for the last 30 days and
for all 90 days (what the page computes on each visit: the index brought up to date, then the aggregates), then
the catch-up after 1,000 new conversations. A benchmark, not a test: the target is under 2 s for the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "ru", "zh")
CHANNELS = ("web", "telegram", "whatsapp", "rest")
REASONS = (
    "where_is_my_order",
    "parcel_not_received",
    "delivery_failed",
    "damaged_item",
    "refund_status",
    "change_address",
)
HANDOFF_REASONS = ("shopper_asked", "upset", "not_understood", "repeat_contact", "fix_refused")
AGENTS = ("Ana", "Ben", "Chloé", "Dmitri")
FIXES = (("refund", 36.5, "USD"), ("reshipment", 33.0, "EUR"), ("discount", 3.3, "EUR"))
CARRIERS = ("YunExpress", "Correos", "DHL", "Cainiao")
COUNTRIES = ("US", "ES", "FR", "DE", "BR", "IT", "RU", "CN")
SITUATIONS = (
    "in_transit",
    "in_transit",
    "in_transit",
    "delivered",
    "stalled",
    "lost",
    "customs_hold",
    "address_problem",
)


def rasa_events_table(path: Path) -> None:
    """Rasa's own events table, created by its SQL tracker store."""
    import asyncio

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
    asyncio.run(store.save(DialogueStateTracker("bench:empty", [])))


def generate(
    tracker_db: Path, porter_db: Path, conversations: int, days: int, first_id: int = 0, seed: int = 7
) -> None:
    rnd = random.Random(seed + first_id)
    end = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    events, tickets, messages, cases, ratings, orders, watched = [], [], [], [], [], [], []
    for n in range(first_id, first_id + conversations):
        sender = f"{rnd.choice(CHANNELS)}:bench{n}"
        at = start.timestamp() + rnd.random() * days * 86400
        language = rnd.choice(LANGUAGES)
        reason = rnd.choice(REASONS) if rnd.random() < 0.8 else None
        rows = [
            ("action", at, None, "action_session_start", {}),
            ("session_started", at, None, None, {}),
            ("slot", at, None, None, {"name": "language", "value": language}),
            ("action", at, None, "action_listen", {}),
            ("user", at + 1, "greet", None, {"text": "hello"}),
            ("bot", at + 2, None, None, {"text": "Hi, I'm Porter"}),
        ]
        if reason:
            rows.append(("user", at + 10, reason, None, {"text": "where is my parcel"}))
        if rnd.random() < 1 / 12:
            rows.append(
                ("user", at + 20, "nlu_fallback", None, {"text": f"blorf {rnd.randint(1, 40)} ana@example.com"})
            )
        handed = rnd.random() < 1 / 6
        if handed:
            rows.append(("pause", at + 30, None, None, {}))
            created = datetime.fromtimestamp(at + 30, timezone.utc)
            resolved = rnd.random() < 0.8
            tickets.append(
                (
                    len(tickets) + 1,
                    sender,
                    sender.split(":")[0].replace("web", "socketio"),
                    language,
                    reason,
                    rnd.choice(HANDOFF_REASONS),
                    "resolved" if resolved else "waiting",
                    rnd.choice(AGENTS),
                    created.isoformat(timespec="seconds"),
                    (created + timedelta(minutes=rnd.randint(10, 600))).isoformat(timespec="seconds")
                    if resolved
                    else None,
                )
            )
            messages.append(
                (len(tickets), (created + timedelta(minutes=rnd.randint(1, 60))).isoformat(timespec="seconds"))
            )
        if rnd.random() < 1 / 8:
            kind, amount, currency = rnd.choice(FIXES)
            order = f"B{n:09d}"
            document = {
                "order_number": order,
                "shipping_address": {"country": rnd.choice(COUNTRIES)},
                "shipment": {
                    "carrier": rnd.choice(CARRIERS),
                    "promised_by": (start + timedelta(days=rnd.randint(0, days))).date().isoformat(),
                    "events": [{"location": "Shenzhen, CN"}],
                },
            }
            orders.append((order, order, json.dumps(document), start.isoformat()))
            watched.append((order, rnd.choice(SITUATIONS), end.isoformat(timespec="seconds")))
            cases.append(
                (
                    f"B{n:09d}",
                    order,
                    kind,
                    amount,
                    currency,
                    sender,
                    datetime.fromtimestamp(at + 40, timezone.utc).isoformat(timespec="seconds"),
                    f"bench-{n}",
                )
            )
        if rnd.random() < 1 / 10:
            ratings.append(
                (
                    sender,
                    rnd.randint(1, 5),
                    language,
                    reason,
                    rnd.choice(AGENTS) if handed else None,
                    datetime.fromtimestamp(at + 50, timezone.utc).isoformat(timespec="seconds"),
                )
            )
        events += [
            (sender, kind, stamp, intent, action, json.dumps(dict(data, event=kind)))
            for kind, stamp, intent, action, data in rows
        ]
    with sqlite3.connect(tracker_db) as db:
        db.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            events,
        )
    with sqlite3.connect(porter_db) as db:
        base = db.execute("SELECT COALESCE(MAX(id), 0) FROM tickets").fetchone()[0]
        db.executemany(
            "INSERT INTO tickets (id, conversation_id, channel, language, problem, reason, status, agent, "
            "created_at, closed_at, offered, transcript, priority) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', '[]', '[]')",
            [(base + t[0],) + t[1:] for t in tickets],
        )
        db.executemany(
            "INSERT INTO ticket_messages (ticket_id, kind, author, text, created_at) "
            "VALUES (?, 'reply', 'Ana', 'On it', ?)",
            [(base + m[0], m[1]) for m in messages],
        )
        db.executemany(
            "INSERT INTO cases (reference, order_number, type, status, amount, currency, conversation_id, created_at, "
            "idempotency_key, details) VALUES (?, ?, ?, 'done', ?, ?, ?, ?, ?, '{}')",
            cases,
        )
        db.executemany("INSERT INTO orders (order_key, order_number, document, updated_at) VALUES (?, ?, ?, ?)", orders)
        db.executemany("INSERT INTO watched_shipments (order_number, situation, checked_at) VALUES (?, ?, ?)", watched)
        db.executemany(
            "INSERT INTO ratings (conversation_id, score, language, problem, agent, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ratings,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="porter-analytics-"))
    os.environ.update(PORTER_VAR_DIR=str(folder), PORTER_SHOP_DB=str(folder / "shop.db"))
    os.environ.pop("PORTER_DATABASE_URL", None)
    from bot.analytics.figures import Analytics, Filters
    from bot.shop.importer import import_orders
    from bot.shop.sqlite_store import SQLiteOrderStore

    import_orders(
        ROOT / "data" / "demo" / "orders.json",
        SQLiteOrderStore(),
        relative_to=datetime(2026, 11, 1, tzinfo=timezone.utc),
    )
    tracker_db = folder / "tracker.db"
    rasa_events_table(tracker_db)
    began = time.perf_counter()
    generate(tracker_db, folder / "shop.db", args.conversations, args.days)
    print(
        f"generated {args.conversations:,} conversations over {args.days} days in {time.perf_counter() - began:.1f} s"
    )

    analytics = Analytics(events_url=f"sqlite:///{tracker_db}")
    began = time.perf_counter()
    read = analytics.index.update()
    print(
        f"session index, first reading of Rasa's events: {read:,} events in {time.perf_counter() - began:.1f} s (once)"
    )
    today = datetime.now(timezone.utc).date()
    results = []
    for label, since in (
        ("last 30 days", today - timedelta(days=29)),
        (f"all {args.days} days", today - timedelta(days=args.days)),
    ):
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            tables = analytics.compute(Filters(since, today))
            timings.append(time.perf_counter() - began)
        conversations = sum(row[2] for row in next(t for t in tables if t.key == "conversations_by_channel").rows)
        results.append((label, conversations, min(timings), max(timings)))
    generate(tracker_db, folder / "shop.db", 1_000, 1, first_id=args.conversations)
    began = time.perf_counter()
    analytics.compute(Filters(today - timedelta(days=29), today))
    catch_up = time.perf_counter() - began

    print()
    print("| the page's figures | conversations | best of 3 | worst of 3 |")
    print("|---|---|---|---|")
    for label, conversations, best, worst in results:
        print(f"| {label} | {conversations:,} | {best:.2f} s | {worst:.2f} s |")
    print(f"| last 30 days, after 1,000 new conversations (index catch-up included) | | {catch_up:.2f} s | |")
    worst = max(r[3] for r in results)
    print(f"\ntarget: under 2 s for the page's figures: {'met' if worst < 2 else 'NOT met'} (worst {worst:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
