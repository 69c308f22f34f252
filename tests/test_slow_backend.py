"""A Shopify that hangs on one order does not freeze Porter: the running Porter (`python -m bot serve`) against a
local Shopify stand-in answering the documented payloads (tests/data/payloads/shopify), except for one order
whose lookup it holds until the test ends.

Shopper A asks about that order; while A waits, shopper B is answered in full; A then hears that the order
system is not answering and gets a person, within the action deadline; after that one failed call the circuit
is open, so a third shopper gets the same apology without Porter calling Shopify at all.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time

import pytest
import requests

from bot.identifiers import normalize_order_number
from bot.paths import PROJECT_ROOT
from tests.support.porter_server import start_porter
from tests.test_http_client import HeaderRecorder

PAYLOADS = PROJECT_ROOT / "tests" / "data" / "payloads" / "shopify"
ORDERS = "/admin/api/2024-07/orders.json"
HANGING_ORDER = "A10031"
APOLOGY = "I'm sorry, I can't reach our order system right now. A person from our team will pick this up"


class HangingShopify(HeaderRecorder):
    """Shopify's Admin API for every order number as order #1001 of the payloads, except HANGING_ORDER, whose
    lookup is held until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        order = json.loads((PAYLOADS / "orders_by_name_shipped.json").read_text(encoding="utf-8"))
        events = json.loads((PAYLOADS / "fulfillment_events.json").read_text(encoding="utf-8"))

        def orders(request):
            name = request.query["name"][0]
            if normalize_order_number(name) == HANGING_ORDER:
                self.release.wait(120)
            return 200, {"orders": [dict(order["orders"][0], name=name)]}

        self.route(ORDERS, orders)
        self.route("/admin/api/2024-07/orders/5801000000001/fulfillments/", lambda r: (200, events))

    def lookups(self):
        return self.received(ORDERS)


@pytest.fixture(scope="module")
def shopify():
    stand_in = HangingShopify()
    yield stand_in
    stand_in.release.set()
    stand_in.close()


@pytest.fixture(scope="module")
def porter(tmp_path_factory, shopify):
    try:
        running = start_porter(
            tmp_path_factory.mktemp("slow-backend"),
            extra_env={
                "PORTER_ORDER_BACKEND": "shopify",
                "SHOPIFY_SHOP_URL": shopify.url,
                "SHOPIFY_ACCESS_TOKEN": "shpat_slow-backend-test",
                "PORTER_TRACKING_BACKEND": "none",
                "PORTER_ACTION_DEADLINE": "8",
                "PORTER_BACKEND_BREAKER_FAILURES": "1",
                "PORTER_BACKEND_BREAKER_SECONDS": "600",
            },
        )
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield running
    running.stop()


def say(porter, sender: str, text: str) -> str:
    response = requests.post(
        f"{porter.base}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120
    )
    response.raise_for_status()
    return "\n".join(reply.get("text", "") for reply in response.json())


def handoff_cases(porter) -> dict:
    listed = subprocess.run(
        [sys.executable, "-m", "bot", "cases", "list", "--format", "json"],
        cwd=PROJECT_ROOT,
        env=porter.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {c["reference"]: c for c in json.loads(listed.stdout) if c["type"] == "handoff_request"}


def reference_in(answer: str) -> str:
    found = re.search(r"reference is (PC-[A-Z0-9]{6})", answer)
    assert found, answer
    return found.group(1)


@pytest.mark.timeout(600)
def test_a_hanging_order_lookup_holds_only_its_own_shopper(porter, shopify):
    for sender, order in (("slow-a", HANGING_ORDER), ("slow-b", "A10024")):
        assert "order number" in say(porter, sender, "my parcel never arrived")
        assert "email" in say(porter, sender, order)

    answer_a = []
    waiting_a = threading.Thread(target=lambda: answer_a.append(say(porter, "slow-a", "ana.souza@example.com")))
    asked_at = time.time()
    waiting_a.start()
    try:
        assert shopify.wait_for(ORDERS, since=asked_at)  # A's lookup reached Shopify, which holds it
        answer_b = say(porter, "slow-b", "ana.souza@example.com")
        assert waiting_a.is_alive()  # B's whole answer came while A was still waiting
    finally:
        waiting_a.join(120)
    assert "Shenzhen" in answer_b and APOLOGY not in answer_b  # B's parcel, its last scans

    assert not shopify.release.is_set()  # Shopify never answered A: the deadline did
    assert APOLOGY in answer_a[0]
    handoff = handoff_cases(porter)[reference_in(answer_a[0])]
    assert handoff["details"]["reason"] == "backend_down"

    # One call failed because Shopify is down: the circuit is open, nobody else waits for it.
    asked_before = len(shopify.lookups())
    assert "order number" in say(porter, "slow-c", "where is my order")
    assert "email" in say(porter, "slow-c", "A10024")
    answer_c = say(porter, "slow-c", "ana.souza@example.com")
    assert APOLOGY in answer_c and reference_in(answer_c) in handoff_cases(porter)
    assert len(shopify.lookups()) == asked_before
