"""Shared fixtures: every test gets its own var/ folder with a real SQLite file and the demo shop."""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.paths import PROJECT_ROOT

DEMO_FILE = PROJECT_ROOT / "data" / "demo" / "orders.json"
DEMO_ANCHOR = datetime(2026, 11, 1, tzinfo=timezone.utc)


def pytest_configure(config):
    """Tests choose their database and Redis themselves (PORTER_SHOP_DB, or a URL they pass): never the ones a
    developer's shell points at."""
    for inherited in ("PORTER_DATABASE_URL", "PORTER_TRACKER_DATABASE_URL", "PORTER_REDIS_URL"):
        os.environ.pop(inherited, None)
    from tests.support.needs import MARKERS

    for marker, needs in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: needs {needs}")


def pytest_collection_modifyitems(config, items):
    """A test that uses a fixture starting a server or a browser carries that fixture's marker; `make unit`
    (PORTER_UNIT_TESTS=1) leaves out every test with a marker of tests/support/needs.py."""
    from tests.support.needs import FIXTURE_MARKERS, MARKERS, UNIT_ONLY

    for item in items:
        for fixture in set(item.fixturenames).intersection(FIXTURE_MARKERS):
            item.add_marker(FIXTURE_MARKERS[fixture])
    if os.environ.get(UNIT_ONLY):
        needs = {id(item) for item in items if any(item.get_closest_marker(marker) for marker in MARKERS)}
        if needs:
            config.hook.pytest_deselected(items=[item for item in items if id(item) in needs])
            items[:] = [item for item in items if id(item) not in needs]


@pytest.fixture
def var(tmp_path, monkeypatch) -> Path:
    """An isolated var/ for this test; the CLI, stores and actions all read these variables."""
    monkeypatch.setenv("PORTER_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("PORTER_SHOP_DB", str(tmp_path / "shop.db"))
    return tmp_path


@pytest.fixture
def demo_document() -> dict:
    return json.loads(DEMO_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def order_file(tmp_path, demo_document):
    """Writes a (possibly modified) copy of the demo document and returns its path."""

    def write(document=None, name="orders.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(copy.deepcopy(document or demo_document), ensure_ascii=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def demo_store(var):
    """The demo shop imported as `make run` does it: dates re-anchored to now."""
    from bot.shop.importer import import_orders
    from bot.shop.sqlite_store import SQLiteOrderStore

    store = SQLiteOrderStore()
    import_orders(DEMO_FILE, store, relative_to=DEMO_ANCHOR)
    return store


@pytest.fixture(scope="session")
def remote_api():
    """One local stand-in for every remote API Porter calls (Telegram, Graph API...) for the whole run."""
    from tests.support.recorder import Recorder

    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.fixture(scope="session")
def porter(tmp_path_factory, remote_api):
    """Porter running as `make run` runs it, its channels pointed at remote_api. Shared by the live tests."""
    from tests.support.porter_server import start_porter

    try:
        running = start_porter(tmp_path_factory.mktemp("porter-var"), remote_api.url)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the whole run (tests/support/postgres.py); ``new_database()`` per test."""
    from tests.support.postgres import start_postgres

    try:
        server = start_postgres()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def porter_cluster():
    """Porter as `make run-cluster` runs it (tests/support/porter_cluster.py), once per module that asks: PostgreSQL,
    Redis, HAProxy, 2 Rasa replicas and 2 action servers, the web server and the refund worker."""
    from tests.support.porter_cluster import start_cluster

    try:
        running = start_cluster()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield running
    running.stop()


@pytest.fixture
def undo_cases(porter):
    """Removes the cases opened by the given conversations after the test, so the shared demo shop stays as
    the other live tests expect it (an order refunded once is never offered a refund again)."""
    import sqlite3

    conversations: list = []
    yield conversations
    with sqlite3.connect(porter.env["PORTER_SHOP_DB"]) as db:
        db.executemany("DELETE FROM cases WHERE conversation_id = ?", [(c,) for c in conversations])


def make_tracker(
    slots=None, text="", intent=None, entities=None, events=None, sender="shopper-1", verified_by_lookup=True
):
    """A rasa_sdk Tracker as the action server receives it, with the latest user message.

    A `verified_order` slot comes, as in a real conversation, with this session's events of the lookup form
    setting it and the action server's ledger entry for it (in this test's database, when the test has one);
    ``verified_by_lookup=False`` gives the bare slot, as a forged request would."""
    import os
    import time

    from rasa_sdk import Tracker

    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99} if intent else {},
        "entities": entities or [],
    }
    all_slots = {"language": "en", "verification_failures": 0}
    all_slots.update(slots or {})
    order = all_slots.get("verified_order")
    history = []
    if order and verified_by_lookup:
        now = time.time()
        history = [
            {"event": "session_started", "timestamp": now - 60},
            {"event": "action", "name": "order_lookup_form", "timestamp": now - 30},
            {"event": "slot", "name": "verified_order", "value": order, "timestamp": now - 30},
            {"event": "user", "text": text, "timestamp": now - 1},
        ]
        if os.environ.get("PORTER_SHOP_DB"):
            from bot.authorization.verifications import VerificationLedger

            VerificationLedger().record(sender, order, "email", now - 30)
    given = list(events or [])
    starts = [i for i, e in enumerate(given) if e.get("event") == "session_started"]
    if history and starts:  # the test's own session start: the lookup happened inside that session
        cut = starts[-1] + 1
        given = given[:cut] + history[1:] + given[cut:]
        history = []
    return Tracker(sender, all_slots, latest, history + given, False, None, {}, "action_listen")


@pytest.fixture
def actions_env(demo_store, monkeypatch):
    """Action modules pointed at this test's SQLite file (their services are cached per process)."""
    from actions import services

    for cached in (services.store, services.cases, services.policy):
        cached.cache_clear()
    yield demo_store
    for cached in (services.store, services.cases, services.policy):
        cached.cache_clear()


def offer_fixes(slots, sender="shopper-1"):
    """Runs action_resolve_order for this conversation, as the real flow does before any fix: it tells the
    situation and records the offer that actions/authorization.py later checks a chosen fix against."""
    import asyncio

    from rasa_sdk.executor import CollectingDispatcher

    from actions.resolve_order import ActionResolveOrder

    wanted = {key: value for key, value in slots.items() if key not in ("fix", "situation")}
    return asyncio.run(ActionResolveOrder().run(CollectingDispatcher(), make_tracker(slots=wanted, sender=sender), {}))
