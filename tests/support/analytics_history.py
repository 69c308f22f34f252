"""A small history of conversations, tickets, cases and ratings whose every figure is worked out by hand
(tests/test_analytics.py, tests/test_analytics_browser.py). Conversations are written by Rasa's own SQL tracker
store into a real SQLite file, the table the running Rasa writes; the rest by Porter's own stores.

The history (UTC):
- 2026-11-10 telegram:1 (es): where is my order, then an order number. Porter answers; no person.
- 2026-11-10 web:abc (en): damaged item, then a person takes over (ConversationPaused). Ticket reason upset,
  created 10:00, first reply 10:05, resolved 11:00, rated 2 (agent Ana).
- 2026-11-10 rest:x (en): two messages Porter did not understand, one with an email in it.
- 2026-11-11 telegram:1 again, a new session: where is my order. Porter refunds A10024 (36.50 USD, YunExpress
  to the US) and gives a discount on A10026 (3.30 EUR, Correos, Spain); rated 5 with no agent.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Union

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from bot.decisions.cases import CaseBook
from bot.handoff.tickets import TicketStore
from bot.outreach.ratings import RatingBook
from bot.shop.importer import import_orders
from bot.shop.sqlite_store import SQLiteOrderStore
from bot.storage import database
from bot.storage.schema import cases, ticket_messages, tickets

FIRST_DAY, LAST_DAY = date(2026, 11, 10), date(2026, 11, 11)
NOV_10 = datetime(2026, 11, 10, 9, 0, tzinfo=timezone.utc).timestamp()
NOV_11 = datetime(2026, 11, 11, 9, 0, tzinfo=timezone.utc).timestamp()
DEMO_FILE = Path(__file__).resolve().parents[2] / "data" / "demo" / "orders.json"


def said(text: str, intent: str, at: float) -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 0.9}, timestamp=at)


def session(at: float, *events, language: str = "en") -> list:
    return [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at),
        SlotSet("language", language, timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
        *events,
    ]


def tracker_store(tracker_db: Union[Path, str]) -> SQLTrackerStore:
    """Rasa's SQL tracker store on a SQLite file or a PostgreSQL URL."""
    if isinstance(tracker_db, str) and "://" in tracker_db:
        url = make_url(tracker_db)
        return SQLTrackerStore(
            Domain.empty(),
            dialect="postgresql",
            host=url.host,
            port=url.port,
            db=url.database,
            username=url.username,
            password=url.password,
        )
    return SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tracker_db))


def events_url(tracker_db: Union[Path, str]) -> str:
    return tracker_db if isinstance(tracker_db, str) and "://" in tracker_db else f"sqlite:///{tracker_db}"


def save(tracker_db: Union[Path, str], conversation: str, events) -> None:
    """Adds events to a conversation the way Rasa saves a turn."""
    store = tracker_store(tracker_db)
    tracker = asyncio.run(store.retrieve(conversation)) or DialogueStateTracker(conversation, [])
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))


def seed(where: Union[Path, str], tracker_db: Union[Path, str]) -> None:
    """The history in Porter's database ``where`` (the demo shop imported too) and Rasa's ``tracker_db``."""
    import_orders(DEMO_FILE, SQLiteOrderStore(where), relative_to=datetime(2026, 11, 1, tzinfo=timezone.utc))
    save(
        tracker_db,
        "telegram:1",
        session(
            NOV_10,
            said("dónde está mi pedido", "where_is_my_order", NOV_10 + 1),
            said("A10024", "inform", NOV_10 + 2),
            language="es",
        ),
    )
    save(
        tracker_db,
        "web:abc",
        session(
            NOV_10 + 60,
            said("it arrived broken", "damaged_item", NOV_10 + 61),
            ConversationPaused(timestamp=NOV_10 + 62),
        ),
    )
    save(
        tracker_db,
        "rest:x",
        session(
            NOV_10 + 120,
            said("my email is ana@example.com blorf", "nlu_fallback", NOV_10 + 121),
            said("blorf qq", "nlu_fallback", NOV_10 + 122),
        ),
    )
    save(
        tracker_db, "telegram:1", session(NOV_11, said("y mi pedido?", "where_is_my_order", NOV_11 + 1), language="es")
    )

    ticket, _ = TicketStore(where).open_ticket(
        conversation_id="web:abc", reason="upset", channel="socketio", language="en", problem="damaged_item"
    )
    with database(where).writing() as conn:
        conn.execute(
            tickets.update()
            .where(tickets.c.id == ticket.id)
            .values(
                created_at="2026-11-10T10:00:00+00:00",
                closed_at="2026-11-10T11:00:00+00:00",
                status="resolved",
                agent="Ana",
            )
        )
        conn.execute(
            ticket_messages.insert().values(
                ticket_id=ticket.id, kind="reply", author="Ana", text="Sorry!", created_at="2026-11-10T10:05:00+00:00"
            )
        )
    book = CaseBook(where)
    for type_, key, order, amount, currency in (
        ("refund", "r1", "A10024", 36.5, "USD"),
        ("discount", "d1", "A10026", 3.3, "EUR"),
    ):
        case, _ = book.open_case(
            type=type_,
            idempotency_key=key,
            order_number=order,
            amount=amount,
            currency=currency,
            conversation_id="telegram:1",
        )
        with database(where).writing() as conn:  # made on the second day
            conn.execute(
                cases.update().where(cases.c.reference == case.reference).values(created_at="2026-11-11T09:10:00+00:00")
            )
    ratings = RatingBook(where)
    ratings.record(
        "web:abc",
        2,
        datetime(2026, 11, 10, 11, 1, tzinfo=timezone.utc),
        language="en",
        channel="socketio",
        problem="damaged_item",
        agent="Ana",
        ticket_id=ticket.id,
    )
    ratings.record(
        "telegram:1",
        5,
        datetime(2026, 11, 11, 9, 30, tzinfo=timezone.utc),
        language="es",
        channel="telegram",
        problem="where_is_my_order",
    )
