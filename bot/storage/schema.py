"""Every table Porter writes, in one place: the shape the migrations (bot/storage/migrations) build.

Times are ISO 8601 text or epoch seconds as the stores have always kept them, and documents are JSON text,
so the same rows read the same on SQLite and PostgreSQL. A change here needs a new migration;
tests/test_storage.py fails until the migrations build exactly this.
"""

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

metadata = MetaData(
    naming_convention={
        "pk": "%(table_name)s_pkey",
        "uq": "%(table_name)s_%(column_0_name)s_key",
        "fk": "%(table_name)s_%(column_0_name)s_fkey",
    }
)


def _only_where(condition: str) -> dict:
    """A partial index's condition, for both dialects."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


# --- the embedded order store (bot/shop/sqlite_store.py): each order as its orders/v1 document ---------------
orders = Table(
    "orders",
    metadata,
    Column("order_key", Text, primary_key=True),
    Column("order_number", Text, nullable=False),
    Column("tracking_number", Text),
    Column("document", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Index("orders_tracking", "tracking_number"),
)

# --- cases (bot/decisions/cases.py): one per key, and one refund or reshipment per order whatever the key -------------
cases = Table(
    "cases",
    metadata,
    Column("reference", Text, primary_key=True),
    Column("order_number", Text),
    Column("type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("amount", Float),
    Column("currency", Text),
    Column("conversation_id", Text),
    Column("created_at", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("details", Text, nullable=False, server_default="{}"),
    UniqueConstraint("idempotency_key"),
    Index("cases_order", "order_number"),
    Index("cases_one_payout_per_order", "order_number", unique=True, **_only_where("type IN ('refund', 'reshipment')")),
)

# --- agents and their desk sessions (bot/handoff/agents.py) ---------------------------------------------------
agents = Table(
    "agents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    sqlite_autoincrement=True,
)
Index("agents_name_folded", func.lower(agents.c.name), unique=True)  # a name is taken once whatever its case

agent_sessions = Table(
    "agent_sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False),
    Column("csrf_token", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
    Index("agent_sessions_expiry", "expires_at"),
)

# --- handoff tickets and what agents write on them (bot/handoff/tickets.py) -----------------------------------
tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Text, nullable=False),
    Column("channel", Text),
    Column("language", Text),
    Column("order_number", Text),
    Column("problem", Text),
    Column("situation", Text),
    Column("offered", Text, nullable=False, server_default="[]"),
    Column("reason", Text, nullable=False),
    Column("case_reference", Text),
    Column("status", Text, nullable=False),
    Column("agent", Text),
    Column("created_at", Text, nullable=False),
    Column("claimed_at", Text),
    Column("closed_at", Text),
    Column("transcript", Text, nullable=False, server_default="[]"),
    Column("verified_order", Text),
    Column("priority", Text, nullable=False, server_default="[]"),  # bot/handoff/priority.py's reasons, as JSON
    Column("shopper_name", Text),  # the verified order's customer name
    Column("seen_message", Text),  # the last shopper message (Rasa's message id) its agent has seen
    Index("tickets_status", "status", "created_at"),
    Index("tickets_one_open", "conversation_id", unique=True, **_only_where("status IN ('waiting', 'claimed')")),
    Index("tickets_verified_order", "verified_order", "status"),
    sqlite_autoincrement=True,
)

ticket_messages = Table(
    "ticket_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("delivery", Text),
    Column("delivery_at", Text),
    Index("ticket_messages_ticket", "ticket_id", "id"),
    sqlite_autoincrement=True,
)

# --- repeat contacts (bot/handoff/contacts.py): one row per conversation session and order -------------------
order_contacts = Table(
    "order_contacts",
    metadata,
    Column("order_number", Text, nullable=False),
    Column("contact", Text, nullable=False),
    Column("conversation_id", Text, nullable=False),
    Column("day", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    PrimaryKeyConstraint("order_number", "contact"),
    Index("order_contacts_order", "order_number", "day"),
)

# --- what the action server recorded itself (bot/authorization/) --------------------------------------------
offers = Table(
    "offers",
    metadata,
    Column("conversation_id", Text, nullable=False),
    Column("order_number", Text, nullable=False),
    Column("problem", Text, nullable=False),
    Column("situation", Text, nullable=False),
    Column("next_step", Text, nullable=False),
    Column("fixes", Text, nullable=False),
    Column("offered_at", Float, nullable=False),
    Index("offers_latest", "conversation_id", "order_number", "offered_at"),
)

verifications = Table(
    "verifications",
    metadata,
    Column("conversation_id", Text, nullable=False),
    Column("order_number", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("verified_at", Float, nullable=False),
    PrimaryKeyConstraint("conversation_id", "order_number", "verified_at"),
    Index("verifications_latest", "conversation_id", "order_number", "verified_at"),
)

# --- the channels (bot/channels/): the durable inbox, WhatsApp's window and the undelivered replies ---------
inbox = Table(
    "inbox",
    metadata,
    Column("channel", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("conversation", Text, nullable=False),
    Column("payload", Text),
    Column("received_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("claimed_by", Text),
    Column("claimed_until", Float, nullable=False, server_default="0"),
    Column("handled_at", Float),
    Column("outcome", Text),
    PrimaryKeyConstraint("channel", "message_id"),
    Index("inbox_unhandled", "channel", "handled_at", "claimed_until"),
    Index("inbox_handled_at", "handled_at"),
)

whatsapp_last_inbound = Table(
    "whatsapp_last_inbound",
    metadata,
    Column("wa_id", Text, primary_key=True),
    Column("last_inbound_at", Float, nullable=False),
)

undelivered_messages = Table(
    "undelivered_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    sqlite_autoincrement=True,
)

photos = Table(
    "photos",
    metadata,
    Column("token", Text, primary_key=True),  # random; the id a message's attachment and a case refer to
    Column("conversation_id", Text, nullable=False),
    Column("source", Text, nullable=False),  # the channel it came from: widget, whatsapp, telegram
    Column("content_type", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Text, nullable=False),
    Index("photos_conversation", "conversation_id", "created_at"),
)

# --- Porter speaking first (bot/outreach/): what the watcher last saw of each shipment, the alerts and
# follow-ups it sent, who asked for no more, the tracking services' pushes already taken, and ratings ------
watched_shipments = Table(
    "watched_shipments",
    metadata,
    Column("order_number", Text, primary_key=True),
    Column("situation", Text, nullable=False),  # bot/decisions/situations.py's kind, as last seen
    Column("last_event_at", Text),
    Column("checked_at", Text, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Text, nullable=False),  # bot/outreach/alert_book.py KINDS: a situation alert or a follow-up
    Column("order_number", Text, nullable=False),
    Column("situation", Text),
    Column("case_reference", Text),  # the refund or reshipment a follow-up asks about
    Column("conversation_id", Text),  # None when it went by email only
    Column("channel", Text, nullable=False),
    Column("language", Text),
    Column("status", Text, nullable=False),  # held (quiet hours), sent, failed
    Column("detail", Text),
    Column("created_at", Text, nullable=False),
    Column("due_at", Text),  # a held alert goes out from then
    Column("sent_at", Text),
    Index("alerts_order", "order_number", "created_at"),
    Index("alerts_held", "status", "due_at"),
    Index("alerts_one_follow_up", "case_reference", "kind", unique=True, **_only_where("case_reference IS NOT NULL")),
    sqlite_autoincrement=True,
)

alert_stops = Table(
    "alert_stops",
    metadata,
    Column("contact", Text, primary_key=True),  # a conversation id, or "email:" and the address in lower case
    Column("source", Text, nullable=False),  # chat or email
    Column("created_at", Text, nullable=False),
)

tracking_pushes = Table(
    "tracking_pushes",
    metadata,
    Column("service", Text, nullable=False),
    Column("delivery_id", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    PrimaryKeyConstraint("service", "delivery_id"),
    Index("tracking_pushes_received", "received_at"),
)

ratings = Table(
    "ratings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Text, nullable=False),
    Column("channel", Text),
    Column("language", Text),
    Column("order_number", Text),
    Column("case_reference", Text),
    Column("problem", Text),
    Column("agent", Text),  # the agent who resolved the ticket; None when Porter resolved it
    Column("ticket_id", Integer),
    Column("score", Integer, nullable=False),
    Column("comment", Text),
    Column("created_at", Text, nullable=False),
    Index("ratings_created", "created_at"),
    Index("ratings_conversation", "conversation_id", "created_at"),
    sqlite_autoincrement=True,
)

widget_presence = Table(
    "widget_presence",
    metadata,
    Column("socket_id", Text, primary_key=True),  # one open chat window (a socket.io connection)
    Column("conversation_id", Text, nullable=False),
    Column("seen_at", Float, nullable=False),
    Index("widget_presence_conversation", "conversation_id"),
)

# --- analytics (bot/analytics/): conversations summed up from Rasa's events, a session a row -------------------
analytics_sessions = Table(
    "analytics_sessions",
    metadata,
    Column("conversation_id", Text, nullable=False),
    Column("started_at", Float, nullable=False),  # the session's session_started event (epoch seconds)
    Column("day", Text, nullable=False),  # its UTC date, YYYY-MM-DD
    Column("channel", Text, nullable=False),
    Column("language", Text),
    Column("reason", Text),  # the first kind of problem the shopper raised (bot/decisions/problems.py), if any
    Column("handed_over", Integer, nullable=False, server_default="0"),
    Column("messages", Integer, nullable=False, server_default="0"),
    Column("fallbacks", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("conversation_id", "started_at"),
    # covers the figures' one GROUP BY (bot/analytics/figures.py): read from the index alone, day first for the range
    Index("analytics_sessions_figures", "day", "reason", "language", "channel", "handed_over"),
)

analytics_fallbacks = Table(
    "analytics_fallbacks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Text, nullable=False),
    Column("day", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("language", Text),
    Column("text", Text, nullable=False),  # the shopper's words, identifiers masked (bot/analytics/masking.py)
    Index("analytics_fallbacks_day", "day"),
    sqlite_autoincrement=True,
)

analytics_progress = Table(
    "analytics_progress",
    metadata,
    Column("source", Text, primary_key=True),  # "rasa_events"
    Column("last_event_id", Integer, nullable=False),
)
