"""Money is told truthfully: refunds paid through Shopify (a local stand-in answering the documented payloads of
tests/data/payloads/shopify, and keeping the refunds it made) from the chat and from the retry worker
(`python -m bot payments retry --once`, run as the operator runs it), on real SQLite files.

What must hold: a refund whose payment did not certainly go out is never told "done"; before any retry the
order system is asked whether the earlier attempt paid after all; whatever happens, Shopify makes one refund
per case; agents see where the money stands on the desk.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.resolution import ActionCarryOutFix
from bot.decisions.cases import FAILED, MANUAL, PAID, PENDING, UNKNOWN, CaseBook
from bot.handoff.tickets import TicketStore
from bot.paths import PROJECT_ROOT
from tests.conftest import make_tracker, offer_fixes
from tests.support.desk import Desk, add_agent
from tests.support.porter_server import free_port
from tests.test_backend_shopify import TOKEN, V, payload
from tests.test_http_client import HeaderRecorder

pytestmark = pytest.mark.timeout(180)

SLOTS = {"verified_order": "#1001", "problem": "parcel_not_received", "fix": "refund"}


class ShopifyStandIn:
    """One shop on the stand-in: one order (#1001, EUR 29.90, shipped, unless told) and the refunds it has made.
    ``refunds_answer`` decides what a refund POST does: ``ok`` (made, 201), ``slow`` (made, but the answer comes
    after Porter's read timeout) or ``unavailable`` (503, nothing made: Shopify's answer during an outage)."""

    def __init__(self, server: HeaderRecorder, orders: str) -> None:
        self.base = f"/shop-{uuid.uuid4().hex[:8]}{V}"
        self.url = server.url + self.base[: -len(V)]
        self.server = server
        self.made: list[dict] = []
        self.refunds_answer = "ok"
        self._ids = itertools.count(9300000000101)
        self._lock = threading.Lock()
        order_id = payload(orders)["orders"][0]["id"]
        self.refunds_path = f"{self.base}/orders/{order_id}/refunds.json"
        server.route(self.base + "/orders.json", lambda r: (200, payload(orders)))
        server.route(
            self.base + f"/orders/{order_id}/fulfillments/", lambda r: (200, payload("fulfillment_events.json"))
        )
        server.route(
            self.base + f"/orders/{order_id}/refunds/calculate.json", lambda r: (200, payload("refund_calculate.json"))
        )
        server.route(self.refunds_path, self._refunds)

    def _refunds(self, request):
        if request.method == "GET":
            with self._lock:
                return 200, {"refunds": list(self.made)}
        if self.refunds_answer == "unavailable":
            return 503, {"errors": "Unavailable Shop"}
        refund = copy.deepcopy(payload("refund_created.json")["refund"])
        refund.update(id=next(self._ids), note=request.json["refund"]["note"])
        with self._lock:
            self.made.append(refund)
        if self.refunds_answer == "slow":
            time.sleep(1.0)  # Porter stopped waiting after PORTER_BACKEND_READ_TIMEOUT (0.3 s)
        return 201, {"refund": refund}

    def refund_posts(self) -> int:
        return len([r for r in self.server.received(self.refunds_path) if r.method == "POST"])


@pytest.fixture(scope="module")
def server():
    recorder = HeaderRecorder()
    yield recorder
    recorder.close()


@pytest.fixture
def open_shop(server, var, monkeypatch):
    """A shop on the stand-in that Porter's actions and CLI use, and a conversation offered its fixes."""

    def open_shop(orders: str = "orders_by_name_shipped.json", slots: dict = SLOTS) -> ShopifyStandIn:
        shop = ShopifyStandIn(server, orders)
        for name, value in {
            "PORTER_ORDER_BACKEND": "shopify",
            "SHOPIFY_SHOP_URL": shop.url,
            "SHOPIFY_ACCESS_TOKEN": TOKEN,
            "PORTER_TRACKING_BACKEND": "none",
            "PORTER_BACKEND_ATTEMPTS": "3",
            "PORTER_BACKEND_BACKOFF": "0.001",
            "PORTER_BACKEND_READ_TIMEOUT": "0.3",
            "PORTER_PAYMENT_RETRY_DELAY": "0",
        }.items():
            monkeypatch.setenv(name, value)
        for cached in (services.store, services.cases, services.policy):
            cached.cache_clear()
        offer_fixes(slots, sender="pay-chat")
        return shop

    yield open_shop
    for cached in (services.store, services.cases, services.policy):
        cached.cache_clear()


@pytest.fixture
def shop(open_shop):
    return open_shop()


def choose_refund(slots: dict = SLOTS) -> list[dict]:
    """The shopper presses the button of the fix (again): what Porter says."""
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionCarryOutFix().run(dispatcher, make_tracker(slots=slots, sender="pay-chat"), {}))
    return dispatcher.messages


def said(messages: list[dict]) -> list[str]:
    return [m["response"] for m in messages]


def retry_worker(**settings: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "payments", "retry", "--once"],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, **settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def the_refund_case():
    [case] = CaseBook().list(type="refund")
    return case


def test_a_refund_whose_answer_never_came_is_not_told_done_and_the_next_click_finds_it_paid(shop):
    shop.refunds_answer = "slow"
    first = choose_refund()
    case = the_refund_case()
    assert case.status == UNKNOWN and len(shop.made) == 1  # Shopify made it; Porter could not know
    assert said(first)[0] == "utter_refund_payment_checking" and "utter_refund_done" not in said(first)
    assert first[0]["case_reference"] == case.reference and first[0]["amount"] == "€29.90"

    again = choose_refund()
    assert said(again) == ["utter_refund_paid_now", "utter_anything_else"]
    case = the_refund_case()
    assert (case.status, case.details["refund_id"]) == (PAID, str(shop.made[0]["id"]))
    assert shop.refund_posts() == 1 and len(shop.made) == 1  # found by its reference, never sent again

    assert said(choose_refund()) == ["utter_already_done", "utter_anything_else"]


def test_asking_where_the_refund_is_tells_the_truth_about_money_not_yet_out(shop):
    from actions.resolve_order import ActionResolveOrder

    shop.refunds_answer = "slow"
    choose_refund()
    dispatcher = CollectingDispatcher()
    asyncio.run(
        ActionResolveOrder().run(
            dispatcher, make_tracker(slots=dict(SLOTS, problem="refund_status"), sender="pay-chat"), {}
        )
    )
    assert said(dispatcher.messages)[0] == "utter_refund_payment_checking"  # not "issued on <date>"


@pytest.mark.slow
def test_the_worker_reconciles_an_unknown_refund_without_paying_it_again(shop):
    shop.refunds_answer = "slow"
    choose_refund()
    assert the_refund_case().status == UNKNOWN
    shop.refunds_answer = "ok"
    out = retry_worker().stdout
    case = the_refund_case()
    assert (case.status, case.details["refund_id"]) == (PAID, str(shop.made[0]["id"]))
    assert case.reference in out and "paid" in out
    assert shop.refund_posts() == 1 and len(shop.made) == 1


@pytest.mark.slow
def test_a_refund_shopify_turned_away_fails_and_the_worker_pays_it_exactly_once(shop):
    shop.refunds_answer = "unavailable"
    first = choose_refund()
    case = the_refund_case()
    assert case.status == FAILED and not shop.made
    assert said(first)[0] == "utter_refund_payment_failed" and first[0]["case_reference"] == case.reference

    shop.refunds_answer = "ok"
    retry_worker()
    case = the_refund_case()
    assert case.status == PAID and len(shop.made) == 1 and shop.made[0]["note"] == case.reference
    posts = shop.refund_posts()
    retry_worker()
    assert shop.refund_posts() == posts and len(shop.made) == 1
    assert said(choose_refund()) == ["utter_already_done", "utter_anything_else"]


@pytest.mark.slow
def test_a_refund_left_pending_by_a_crash_is_paid_once_by_the_worker(shop):
    # What a crash between recording the refund and paying it leaves behind.
    case, _ = CaseBook().open_case(
        type="refund",
        idempotency_key="#1001:parcel_not_received:refund",
        order_number="#1001",
        amount=29.9,
        currency="EUR",
        conversation_id="pay-chat",
    )
    assert case.status == PENDING
    retry_worker()  # within the grace period the chat may still be paying it: left alone
    assert the_refund_case().status == PENDING and shop.refund_posts() == 0

    out = retry_worker(PORTER_PAYMENT_GRACE="0").stdout
    assert the_refund_case().status == PAID and case.reference in out
    retry_worker(PORTER_PAYMENT_GRACE="0")
    assert len(shop.made) == 1 and shop.made[0]["note"] == case.reference


def test_a_cancellation_whose_refund_did_not_go_out_says_so_then_pays_it_when_asked_again(open_shop):
    slots = {"verified_order": "#1030", "problem": "cancel_order", "fix": "cancel"}
    shop = open_shop("orders_by_name_unfulfilled.json", slots)
    shop.refunds_answer = "unavailable"
    first = choose_refund(slots)
    refund = the_refund_case()
    assert said(first)[:2] == ["utter_cancel_done", "utter_refund_payment_failed"] and refund.status == FAILED
    assert first[1]["case_reference"] == refund.reference and not shop.made

    shop.refunds_answer = "ok"
    assert said(choose_refund(slots)) == ["utter_refund_paid_now", "utter_anything_else"]
    assert the_refund_case().status == PAID and len(shop.made) == 1


@pytest.mark.slow
def test_retries_stop_after_the_last_attempt_and_say_so(shop):
    shop.refunds_answer = "unavailable"
    choose_refund()
    out = retry_worker(PORTER_PAYMENT_ATTEMPTS="2").stdout
    case = the_refund_case()
    assert case.status == FAILED and case.details["attempts"] == 2 and case.details["gave_up_at"]
    assert "retries stopped after 2 attempts" in out
    posts = shop.refund_posts()
    shop.refunds_answer = "ok"
    retry_worker(PORTER_PAYMENT_ATTEMPTS="2")
    assert shop.refund_posts() == posts and not shop.made  # an agent takes it from here


@pytest.mark.slow
def test_the_embedded_store_leaves_the_refund_to_the_shop_and_the_worker_never_touches_it(actions_env):
    from actions.fixes import carry_out

    slots = {"verified_order": "A10024", "problem": "parcel_not_received"}
    offer_fixes(slots)
    dispatcher = CollectingDispatcher()
    carry_out("refund", dispatcher, make_tracker(slots=slots))
    assert said(dispatcher.messages)[0] == "utter_refund_done"
    [case] = CaseBook().list(type="refund")
    assert (case.status, case.details["payout"]) == (PENDING, MANUAL)
    assert retry_worker(PORTER_PAYMENT_GRACE="0").stdout == ""
    assert CaseBook().get(case.reference) == case


def _catches_sigterm(pid: int) -> bool:
    caught = next(line for line in open(f"/proc/{pid}/status") if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


@pytest.mark.slow
def test_the_worker_stops_when_told_to_terminate(actions_env):
    """Kubernetes and the cluster stop processes with SIGTERM; as PID 1 a worker without a handler would ignore
    it and be killed after the grace period, maybe in the middle of paying."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "payments", "retry"],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, PORTER_PAYMENT_POLL="60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _catches_sigterm(worker.pid):  # started: its handler is in place
            assert worker.poll() is None and time.monotonic() < deadline, worker.stdout.read()
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        worker.kill()


@pytest.fixture
def web(var):
    """`python -m bot web` on this test's var/ (Rasa is not running: the desk says so and shows the rest)."""
    port = free_port()
    env = dict(os.environ, PORTER_RASA_URL=f"http://127.0.0.1:{free_port()}", PORTER_WEB_PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "web", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None, "the web server did not start"
                time.sleep(0.2)
        yield base, env
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


@pytest.mark.slow
def test_agents_see_where_the_money_of_the_order_stands(web):
    base, env = web
    book = CaseBook()
    unknown, _ = book.open_case(
        type="refund",
        idempotency_key="#1001:parcel_not_received:refund",
        order_number="#1001",
        amount=36.5,
        currency="USD",
    )
    book.update(unknown.reference, status=UNKNOWN, details={"attempts": 1})
    claim, _ = book.open_case(type="carrier_claim", idempotency_key="#1001:carrier_claim", order_number="#1001")
    book.open_case(type="refund", idempotency_key="#2002:damaged_item:refund", order_number="#2002", amount=5.0)
    ticket, _ = TicketStore().open_ticket(conversation_id="rest:pay-desk", reason="shopper_asked", order_number="#1001")
    desk = Desk(base, *add_agent(env, "pay"))

    cases = {c["reference"]: c for c in desk.ticket(ticket.id)["cases"]}
    assert set(cases) == {unknown.reference, claim.reference}  # this order's cases only
    shown = cases[unknown.reference]
    assert (shown["type"], shown["amount"], shown["currency"], shown["status"]) == ("refund", 36.5, "USD", UNKNOWN)
    assert shown["payment"] == "payment unknown — being checked" and shown["created_at"]
    assert cases[claim.reference]["payment"] is None and cases[claim.reference]["status"] == "open"

    book.finish_payment(unknown.reference, PAID, {"refund_id": "9300000000101"})
    paid = next(c for c in desk.ticket(ticket.id)["cases"] if c["reference"] == unknown.reference)
    assert paid["payment"] == "paid (order system refund 9300000000101)"
