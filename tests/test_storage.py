"""Porter's one storage layer (bot/storage) on both engines it runs on: a real SQLite file and a real PostgreSQL
server (tests/support/postgres.py).

The schema comes from migrations that `python -m bot db upgrade` applies to any database, twice or from several
processes at once, including a var/shop.db made before migrations existed. The stores' promises are kept by the
database itself, so they hold with several processes: one refund per order whatever the clicks, one handler per
channel update, one agent per ticket, one payment attempt at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import traceback
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from multiprocessing import get_context

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bot.authorization.verifications import VerificationLedger
from bot.decisions.cases import CaseBook
from bot.channels.inbox import BUSY, HANDLED, NEW, Inbox
from bot.channels.whatsapp_window import ConversationWindow, UndeliveredMessages
from bot.handoff.agents import AgentError, AgentStore
from bot.handoff.contacts import ContactLog
from bot.handoff.tickets import CLAIMED, SENDING, WAITING, TicketStore
from bot.paths import PROJECT_ROOT
from bot.shop.sqlite_store import SQLiteOrderStore
from bot.storage import database
from bot.storage.schema import metadata

from tests.conftest import DEMO_FILE
from tests.support.legacy_database import make_channels_db, make_shop_db
from tests.support.porter_server import free_port

FORK = get_context("fork")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.engines)])
def url(request, var, monkeypatch) -> str:
    """An empty database of each engine, configured as an operator would (PORTER_DATABASE_URL)."""
    url = (
        f"sqlite:///{var / 'porter.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres").new_database()
    )
    monkeypatch.setenv("PORTER_DATABASE_URL", url)
    return url


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )


def together(count: int, work):
    """``work(n)`` from ``count`` threads released at the same moment; their results."""
    start = threading.Barrier(count)

    def run(n):
        start.wait()
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def in_processes(count: int, work, *args):
    """``work(*args)`` in ``count`` forked processes (as several servers would run it), started at the same
    moment; their results."""
    results, start = FORK.Queue(), FORK.Barrier(count)

    def run():
        start.wait()
        try:
            results.put((True, work(*args)))
        except BaseException:
            results.put((False, traceback.format_exc()))

    processes = [FORK.Process(target=run) for _ in range(count)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert all(ok for ok, _ in outcomes), [failure for ok, failure in outcomes if not ok]
    return [result for _, result in outcomes]


def differences(url: str) -> list:
    """What the database lacks or has beyond bot/storage/schema.py (tables, columns, types, indexes)."""
    with database(url).reading() as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # expression indexes are not reflected by SQLAlchemy 1.4
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": lambda name, kind, parent: name != "sqlite_sequence"}
        )
        return compare_metadata(context, metadata)


# --- the schema and its migrations ------------------------------------------------------------------------


@pytest.mark.slow
def test_db_upgrade_builds_the_schema_on_an_empty_database_and_is_safe_to_run_again(url):
    first, again = cli("db", "upgrade"), cli("db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "schema upgraded from revision none to 0007" in first.stdout
    assert again.returncode == 0 and "schema at revision 0007, the current one" in again.stdout
    assert differences(url) == []
    # ...and the operator commands work on it
    assert cli("orders", "import", str(DEMO_FILE)).stdout.startswith("imported 18 orders")
    assert json.loads(cli("cases", "list", "--format", "json").stdout) == []


def test_processes_starting_together_upgrade_the_database_once(url):
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "db", "upgrade"],
            cwd=PROJECT_ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err for _, err in outputs]
    said = [out for out, _ in outputs]
    assert sum("upgraded from revision none to 0007" in out for out in said) == 1
    assert sum("the current one" in out for out in said) == 2


@pytest.mark.slow
@pytest.mark.parametrize("release", ["today", "first release"])
def test_db_upgrade_completes_a_shop_db_made_before_migrations_and_keeps_its_rows(var, release):
    now = time.time()
    make_shop_db(var / "shop.db", with_later_ticket_columns=release == "today")
    make_channels_db(var / "channels.db", now)

    first, again = cli("db", "upgrade"), cli("db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "upgraded from revision none to 0007" in first.stdout
    assert "moved the channels' tables" in first.stdout and "1 rows of undelivered_messages" in first.stdout
    assert "the current one" in again.stdout and "moved" not in again.stdout
    assert not (var / "channels.db").exists() and (var / "channels.db.imported").exists()

    # the shop's rows are all there, and the rules are now the database's
    [case] = json.loads(cli("cases", "list", "--format", "json").stdout)
    assert (case["reference"], case["order_number"], case["details"]) == ("PC-LGCY23", "A10024", {"payout": "manual"})
    again_refund, created = CaseBook().open_case(
        type="reshipment", idempotency_key="A10024:lost:reship", order_number="A10024"
    )
    assert not created and again_refund.reference == "PC-LGCY23"
    assert AgentStore().get("MARIA.SILVA").name == "maria.silva"
    with pytest.raises(AgentError, match="already exists"):
        AgentStore().add("Maria.Silva", "a long enough password")
    tickets = TicketStore()
    [waiting] = tickets.queue()
    assert waiting.conversation_id == "rest:waiting" and waiting.verified_order is None
    reply = tickets.add_message(waiting.id, "reply", "maria.silva", "Hello!")
    assert reply.delivery == SENDING
    assert [m.text for m in tickets.messages(waiting.id)] == ["called back", "Hello!"]

    # ...and so are the channels': a resend of a handled update stays a duplicate, a stopped one's is taken over
    inbox = Inbox(owner="restarted")
    assert inbox.receive("telegram", "bot:1", "telegram:555", {"text": "hi"}) == (HANDLED, None)
    [left] = inbox.take_over("telegram")
    assert (left.message_id, left.payload, left.attempts) == ("bot:2", {"text": "hello"}, 2)
    assert ConversationWindow().last_inbound("447700900011") == pytest.approx(now - 3600)
    assert "Your refund is done." in cli("channels", "undelivered").stdout


def test_a_database_porter_cannot_use_is_refused_with_the_reason(var, postgres, monkeypatch):
    monkeypatch.setenv("PORTER_DATABASE_URL", f"postgresql://porter:s3cret-pw@127.0.0.1:{free_port()}/porter")
    refused = cli("db", "upgrade")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "cannot use the database postgresql://porter:***@127.0.0.1" in refused.stderr
    assert "s3cret-pw" not in refused.stderr + refused.stdout
    assert cli("cases", "list").returncode == 2  # every command, not only the upgrade

    monkeypatch.setenv("PORTER_DATABASE_URL", "mysql://porter@db/porter")
    assert "Porter runs on sqlite or postgresql, not mysql" in cli("db", "upgrade").stderr

    newer = postgres.new_database()
    monkeypatch.setenv("PORTER_DATABASE_URL", newer)
    assert cli("db", "upgrade").returncode == 0
    with database(newer).writing() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    refused = cli("db", "upgrade")
    assert refused.returncode == 2 and "revision '9999', which this Porter does not know" in refused.stderr


# --- the stores' promises, with several processes ---------------------------------------------------------


def _click_refund_or_reship(url: str) -> list:
    """32 shoppers' clicks at once in one action server: refunds and reshipments, for several problems."""
    book = CaseBook(url)
    choices = [("refund", "refund"), ("reshipment", "reship")]

    def click(n):
        kind, choice = choices[n % 2]
        case, created = book.open_case(
            type=kind,
            idempotency_key=f"A10029:problem-{n % 4}:{choice}",
            order_number="A10029",
            amount=49.0,
            currency="USD",
        )
        return case.reference, created

    return together(32, click)


def test_64_clicks_on_two_action_servers_give_one_refund_or_reshipment(url):
    clicks = [click for server in in_processes(2, _click_refund_or_reship, url) for click in server]
    assert len(clicks) == 64
    assert len({reference for reference, _ in clicks}) == 1 and sum(created for _, created in clicks) == 1
    [case] = CaseBook(url).list(order_number="A10029")
    assert case.type in ("refund", "reshipment")


def test_a_case_key_gives_one_case_and_one_payment_attempt_at_a_time(url):
    book = CaseBook(url)
    opened = together(
        16,
        lambda n: (
            book.open_case(type="carrier_claim", idempotency_key="A10031:lost:claim", order_number="A10031")[
                0
            ].reference
        ),
    )
    assert len(set(opened)) == 1 and len(book.list(order_number="A10031")) == 1

    refund, _ = book.open_case(
        type="refund", idempotency_key="A10024:parcel_not_received:refund", order_number="A10024", amount=36.5
    )
    now = datetime.now(timezone.utc)
    claims = together(16, lambda n: book.claim_payment(refund.reference, now, now + timedelta(minutes=10)))
    [claimed] = [claim for claim in claims if claim]
    assert claimed.details["attempts"] == 1 and book.get(refund.reference).details["attempts"] == 1


def _receive_all(url: str, ids: list) -> list:
    inbox = Inbox(url, lease=60)
    return [
        (message_id, inbox.receive("whatsapp", message_id, "whatsapp:447700900011", {"text": message_id})[0])
        for message_id in ids
    ]


def test_two_processes_receiving_the_same_updates_handle_each_once(url):
    ids = [f"wamid.{n}" for n in range(40)]
    outcomes = [outcome for process in in_processes(2, _receive_all, url, ids) for outcome in process]
    for message_id in ids:
        states = sorted(state for received, state in outcomes if received == message_id)
        assert states == [BUSY, NEW], message_id  # the first time is one process's; the other sees it busy


def _take_over(url: str) -> list:
    return [entry.message_id for entry in Inbox(url, lease=60).take_over("whatsapp")]


def test_two_processes_taking_over_a_stopped_processs_updates_take_each_once(url):
    stopped = Inbox(url, lease=60, clock=lambda: time.time() - 3600, owner="stopped an hour ago")
    for n in range(40):
        stopped.receive("whatsapp", f"wamid.{n}", "whatsapp:447700900011", {"text": f"message {n}"})
    taken = [message_id for share in in_processes(2, _take_over, url) for message_id in share]
    assert sorted(taken) == sorted(f"wamid.{n}" for n in range(40))


def test_one_ticket_per_conversation_one_queue_place_per_order_one_agent_per_ticket(url):
    tickets = TicketStore(url)
    opened = together(16, lambda n: tickets.open_ticket(conversation_id="web:twice", reason="shopper_asked")[0].id)
    assert len(set(opened)) == 1

    together(
        16,
        lambda n: tickets.open_ticket(conversation_id=f"web:tab-{n}", reason="shopper_asked", verified_order="A10024"),
    )
    queue = tickets.queue()  # sixteen tabs about one verified order: one place in the queue...
    assert [(t.conversation_id, t.verified_order) for t in queue][0] == ("web:twice", None)
    assert len(queue) == 2 and queue[1].verified_order == "A10024" and tickets.position(queue[1].id) == 2
    tabs = [t for t in tickets.list() if t.verified_order == "A10024"]  # ...each later one joined to the first
    joined = [m.text for t in tabs[1:] for m in tickets.messages(t.id) if m.text.startswith("Joined ticket")]
    assert len(tabs) == 16 and len(joined) == 15 and all(f"ticket {queue[1].id}," in text for text in joined)

    def claim(n):
        try:
            return tickets.claim(queue[1].id, f"agent-{n}").agent
        except ValueError as refused:
            return str(refused)

    answers = together(16, claim)
    [winner] = [answer for answer in answers if answer.startswith("agent-")]
    assert all(answer == f"ticket {queue[1].id} is claimed by {winner}" for answer in answers if answer != winner)
    assert {(t.status, t.agent) for t in tickets.list() if t.verified_order == "A10024"} == {(CLAIMED, winner)}
    assert [(t.conversation_id, t.status) for t in tickets.queue()] == [("web:twice", WAITING)]


def test_contacts_agents_and_verifications_are_recorded_once(url):
    contacts = ContactLog(url)
    now = datetime.now(timezone.utc)
    recorded = together(8, lambda n: contacts.record("A10024", "web:one", "session-1", now, now.date()))
    assert sum(contact.created for contact in recorded) == 1 and contacts.days("A10024") == 1

    agents = AgentStore(url)

    def add(n):
        try:
            return agents.add(["ana.lima", "Ana.Lima", "ANA.LIMA", "ana.LIMA"][n], "a long enough password").name
        except AgentError:
            return None

    assert len([name for name in together(4, add) if name]) == 1 and len(agents.list()) == 1

    ledger = VerificationLedger(url)
    together(4, lambda n: ledger.record("web:one", "A10024", "email", 1_800_000_000.25))
    assert ledger.latest("web:one", "A10024").verified_at == 1_800_000_000.25


def test_orders_and_the_whatsapp_window_read_the_same_on_both_engines(url):
    assert cli("orders", "import", str(DEMO_FILE)).returncode == 0
    assert cli("orders", "import", str(DEMO_FILE)).returncode == 0  # again: overwritten, not doubled
    store = SQLiteOrderStore(url)
    assert len(store.all()) == 18 and store.get("1001").order_number == "#1001"
    assert store.find_by_tracking_number("lp00123456789012").order_number == "A10023"

    window = ConversationWindow(url, clock=lambda: 1_800_000_000.0)
    window.record_inbound("447700900011", at=1_799_990_000.5)
    window.record_inbound("447700900011", at=1_799_900_000.0)  # an older message arriving late
    assert window.last_inbound("447700900011") == 1_799_990_000.5 and window.is_open("447700900011")
    UndeliveredMessages(url).record("whatsapp", "447700900011", "Your refund is done.", "outside the window")
    assert [m.text for m in UndeliveredMessages(url).list("whatsapp")] == ["Your refund is done."]
