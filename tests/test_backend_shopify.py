"""The Shopify order store against a local stand-in answering the documented Admin REST API 2024-07 shapes
(tests/data/payloads/shopify): mapping to Porter's orders, what Porter sends, and the failure cases."""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import date, datetime, timezone

import pytest

from bot.http_client import BackendConfigError, BackendCredentialsError, BackendRejected, BackendUnavailable
from bot.paths import PROJECT_ROOT
from bot.shop.models import SUBSTATUSES, TRACKING_TAGS, Address
from bot.shop.shopify_store import EVENT_STATUSES, ShopifyOrderStore, event_from_shopify, service_of
from bot.backends import open_store
from bot.shop.store import OrderStore, RefundOutcomeUnknown, verify
from tests.test_http_client import HeaderRecorder, sequence

PAYLOADS = PROJECT_ROOT / "tests" / "data" / "payloads" / "shopify"
TOKEN = "shpat_0123456789abcdef-test"
V = "/admin/api/2024-07"


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def server():
    recorder = HeaderRecorder()
    yield recorder
    recorder.close()


@pytest.fixture
def shop(server, monkeypatch):
    """A shop of its own on the stand-in (a unique path prefix), and the environment that selects it."""
    prefix = f"/shop-{uuid.uuid4().hex[:8]}"
    for name, value in {
        "PORTER_ORDER_BACKEND": "shopify",
        "SHOPIFY_SHOP_URL": server.url + prefix,
        "SHOPIFY_ACCESS_TOKEN": TOKEN,
        "PORTER_TRACKING_BACKEND": "none",
        "PORTER_BACKEND_ATTEMPTS": "3",
        "PORTER_BACKEND_BACKOFF": "0.001",
        "PORTER_BACKEND_READ_TIMEOUT": "0.3",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SHOPIFY_API_VERSION", raising=False)

    class Shop:
        base = prefix + V

        def route(self, path, reply):
            server.route(self.base + path, reply)

        def received(self, part=""):
            return [r for r in server.received(self.base) if part in r.path[len(self.base) :]]

    return Shop()


@pytest.fixture
def store(shop):
    return ShopifyOrderStore.from_env()


def shipped_shop(shop, order=None, events=None):
    shop.route("/orders.json", lambda r: (200, order or payload("orders_by_name_shipped.json")))
    shop.route(
        "/orders/5801000000001/fulfillments/5300000000001/events.json",
        lambda r: (200, events if events is not None else payload("fulfillment_events.json")),
    )


# --- reading orders ----------------------------------------------------------------------------------------


def test_a_shipped_order_maps_onto_porters_order(shop, store):
    shipped_shop(shop)
    order = store.get("1001")
    assert order.order_number == "#1001" and order.status == "shipped"
    assert order.email == "ana.souza@example.com" and order.phone == "+351912345678"  # from the shipping address
    assert order.customer_name == "Ana Souza" and order.language == "pt"
    assert (order.currency, order.total) == ("EUR", 29.90)
    assert order.placed_at == datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)
    assert [(i.sku, i.name, i.quantity, i.unit_price) for i in order.items] == [
        ("SEED-MUL-01", "Mulberry seeds - 50 g", 2, 12.45)
    ]
    a = order.shipping_address
    assert (a.name, a.line1, a.line2, a.city, a.postal_code, a.country) == (
        "Ana Souza",
        "Rua Augusta 10",
        "3 Esq",
        "Lisboa",
        "1100-053",
        "PT",
    )
    s = order.shipment
    assert (s.carrier, s.service, s.tracked, s.tracking_number) == ("China Post", "standard", True, "LP00123456789012")
    assert s.shipped_at == datetime(2026, 10, 2, 8, 0, tzinfo=timezone.utc)
    assert s.promised_by == date(2026, 10, 17)  # shipped + policy promised_days.EUROPE.standard (15)
    assert [(e.status, e.substatus, e.location, e.description) for e in s.events] == [
        ("InfoReceived", None, "Shenzhen, Guangdong, CN", "Shipment information received"),
        ("InTransit", None, "Shenzhen, Guangdong, CN", "Departed facility"),
    ]
    assert verify(order, email="Ana.Souza@example.com") and not verify(order, email="someone@example.com")
    assert verify(order, phone="+351 912 345 678")


def test_what_porter_asks_shopify(shop, store):
    shipped_shop(shop)
    store.get("#1001")
    first = shop.received("/orders.json")[0]
    assert first.method == "GET" and first.query["name"] == ["#1001"] and first.query["status"] == ["any"]
    assert first.headers["x-shopify-access-token"] == TOKEN
    events = "/orders/5801000000001/fulfillments/5300000000001/events.json"
    assert [r.path for r in shop.received()][-1].endswith(events)


def test_an_order_number_typed_without_the_hash_is_found(shop, store):
    shop.route(
        "/orders.json",
        lambda r: (200, payload("orders_by_name_shipped.json") if r.query["name"] == ["#1001"] else {"orders": []}),
    )
    shipped_shop_events = payload("fulfillment_events.json")
    shop.route("/orders/5801000000001/", lambda r: (200, shipped_shop_events))
    assert store.get("1001").order_number == "#1001"
    assert [r.query["name"] for r in shop.received("/orders.json")] == [["1001"], ["#1001"]]


def test_a_similar_name_is_not_the_order(shop, store):
    shop.route("/orders.json", lambda r: (200, payload("orders_by_name_shipped.json")))
    assert store.get("10011") is None
    assert store.get("") is None


def test_an_unknown_order_is_none(shop, store):
    shop.route("/orders.json", lambda r: (200, {"orders": []}))
    assert store.get("A99999") is None


def test_an_unfulfilled_order(shop, store):
    shop.route("/orders.json", lambda r: (200, payload("orders_by_name_unfulfilled.json")))
    order = store.get("#1030")
    assert (order.status, order.shipment, order.language, order.phone) == ("unfulfilled", None, "zh", "+85291234567")
    assert (order.shipping_address.region, order.shipping_address.country) == ("KL", "HK")


def test_a_cancelled_order(shop, store):
    document = payload("orders_by_name_unfulfilled.json")
    document["orders"][0]["cancelled_at"] = "2026-10-31T10:00:00+08:00"
    shop.route("/orders.json", lambda r: (200, document))
    assert store.get("#1030").status == "cancelled"


def test_a_delivered_order(shop, store):
    events = payload("fulfillment_events.json")
    delivered = dict(
        events["fulfillment_events"][0],
        id=9100000000003,
        status="delivered",
        message="Delivered",
        happened_at="2026-10-15T10:00:00Z",
        city="Lisboa",
        province=None,
        country="PT",
    )
    events["fulfillment_events"].insert(0, delivered)
    shipped_shop(shop, events=events)
    order = store.get("#1001")
    assert order.status == "delivered" and order.shipment.last_event.location == "Lisboa, PT"


def test_without_scans_the_fulfillments_shipment_status_is_the_one_event(shop, store):
    shipped_shop(shop, events={"fulfillment_events": []})
    events = store.get("#1001").shipment.events
    assert [(e.status, e.at) for e in events] == [("InTransit", datetime(2026, 10, 9, 10, 0, tzinfo=timezone.utc))]


def test_untracked_economy_mail(shop, store):
    document = payload("orders_by_name_shipped.json")
    order = document["orders"][0]
    order["shipping_lines"][0].update(title="Economy (untracked, 20-40 days)", code="ECONOMY")
    order["fulfillments"][0].update(
        tracking_number=None, tracking_numbers=[], tracking_company=None, shipment_status=None
    )
    shipped_shop(shop, order=document, events={"fulfillment_events": []})
    shipment = store.get("#1001").shipment
    assert (shipment.service, shipment.tracked, shipment.tracking_number) == ("economy", False, None)
    assert shipment.promised_by == date(2026, 10, 27) and shipment.events == []  # EUROPE.economy: 25 days


@pytest.mark.parametrize(
    "title, code, service",
    [
        ("Standard International (12-20 days)", "Standard International", "standard"),
        ("DHL Express", "EXPRESS", "express"),
        ("Priority Mail", "", "express"),
        ("Free shipping", "", "economy"),
        ("Free express shipping", "", "express"),
        ("Economy", "", "economy"),
        ("Tracked Packet", "", "standard"),
    ],
)
def test_the_service_comes_from_the_shipping_line(title, code, service):
    assert service_of([{"title": title, "code": code}]) == service
    assert service_of([]) == "standard"


@pytest.mark.parametrize("status", sorted(EVENT_STATUSES))
def test_every_shopify_event_status_maps_into_porters_vocabulary(status):
    tag, substatus = EVENT_STATUSES[status]
    assert tag in TRACKING_TAGS and (substatus is None or substatus in SUBSTATUSES)
    event = event_from_shopify({"status": status, "happened_at": "2026-10-04T02:10:00Z", "city": "Shenzhen"})
    assert (event.status, event.substatus, event.location) == (tag, substatus, "Shenzhen")


def test_an_unknown_event_status_is_skipped():
    assert event_from_shopify({"status": "teleported", "happened_at": "2026-10-04T02:10:00Z"}) is None


def test_finding_an_order_by_tracking_number_follows_the_pages(shop, store, server):
    def orders(request):
        if request.query.get("page_info") == ["p2"]:
            return 200, payload("orders_scan_page2.json")
        if "name" in request.query:
            return 200, {"orders": []}
        server.headers(Link=f'<{server.url}{shop.base}/orders.json?limit=250&page_info=p2>; rel="next"')
        return 200, payload("orders_scan_page1.json")

    shop.route("/orders.json", orders)
    full = {"order": payload("orders_by_name_shipped.json")["orders"][0]}
    shop.route("/orders/5801000000001.json", lambda r: (200, full))
    shop.route("/orders/5801000000001/fulfillments/", lambda r: (200, payload("fulfillment_events.json")))
    order = store.find_by_tracking_number("lp00123456789012")
    assert order.order_number == "#1001" and order.shipment.tracking_number == "LP00123456789012"
    first, second = shop.received("/orders.json")
    assert first.query["fields"] == ["id,name,fulfillments"] and first.query["limit"] == ["250"]
    assert second.query == {"limit": ["250"], "page_info": ["p2"]}


def test_a_tracking_number_on_no_recent_order_is_none(shop, store):
    shop.route("/orders.json", lambda r: (200, payload("orders_scan_page1.json")))
    assert store.find_by_tracking_number("RR000000000CN") is None
    assert len(shop.received("/orders.json")) == 1  # no Link header: the last page


# --- changing orders ---------------------------------------------------------------------------------------


def test_the_address_of_an_unfulfilled_order_is_updated(shop, store):
    shop.route("/orders.json", lambda r: (200, payload("orders_by_name_unfulfilled.json")))
    shop.route("/orders/5801000000030.json", lambda r: (200, payload("order_updated.json")))
    new = Address(name="Jie Chen", line1="99 Nathan Road, 15/F, Flat C", country="HK")
    order = store.update_shipping_address("#1030", new)
    assert order.shipping_address.line1 == "99 Nathan Road, 15/F, Flat C" and order.shipping_address.city == ""
    put = shop.received("/orders/5801000000030.json")[-1]
    assert put.method == "PUT"
    assert put.json == {
        "order": {
            "id": 5801000000030,
            "shipping_address": {
                "address1": "99 Nathan Road, 15/F, Flat C",
                "address2": "",
                "city": "",
                "province": "",
                "zip": "",
                "country_code": "HK",
            },
        }
    }


def test_a_new_name_on_the_address_is_sent_as_first_and_last_name(shop, store):
    shop.route("/orders.json", lambda r: (200, payload("orders_by_name_unfulfilled.json")))
    shop.route("/orders/5801000000030.json", lambda r: (200, payload("order_updated.json")))
    store.update_shipping_address("#1030", Address(name="Chen Mei Ling", line1="1 Queen's Road", country="HK"))
    sent = shop.received("/orders/5801000000030.json")[-1].json["order"]["shipping_address"]
    assert (sent["first_name"], sent["last_name"]) == ("Chen", "Mei Ling")


def test_the_address_of_a_fulfilled_order_is_not_changed(shop, store):
    shipped_shop(shop)
    with pytest.raises(ValueError, match="already fulfilled"):
        store.update_shipping_address("#1001", Address(line1="Rua do Ouro 25", country="PT"))
    assert not [r for r in shop.received() if r.method == "PUT"]


def test_changing_an_unknown_order_is_a_key_error(shop, store):
    shop.route("/orders.json", lambda r: (200, {"orders": []}))
    with pytest.raises(KeyError):
        store.update_shipping_address("#4040", Address(line1="x", country="PT"))
    with pytest.raises(KeyError):
        store.refund("#4040", 10, "note")


def refund_shop(shop, created=(201, None)):
    shipped_shop(shop)
    shop.route("/orders/5801000000001/refunds/calculate.json", lambda r: (200, payload("refund_calculate.json")))
    status, body = created
    shop.route("/orders/5801000000001/refunds.json", lambda r: (status, body or payload("refund_created.json")))


def test_a_full_refund_refunds_items_and_shipping_to_the_original_payment(shop, store):
    refund_shop(shop)
    assert store.refund("#1001", 29.90, "Porter case PC-ACA8LG: stalled parcel") == "9300000000001"
    calculate = shop.received("/refunds/calculate.json")[-1].json["refund"]
    assert calculate["shipping"] == {"full_refund": True}
    assert calculate["refund_line_items"] == [
        {"line_item_id": 14100000000001, "quantity": 2, "restock_type": "no_restock"}
    ]
    created = shop.received("/refunds.json")[-1]
    assert created.method == "POST" and created.path.endswith("/orders/5801000000001/refunds.json")
    refund = created.json["refund"]
    assert refund["transactions"] == [
        {"parent_id": 7700000000001, "amount": "29.90", "kind": "refund", "gateway": "shopify_payments"}
    ]
    assert refund["note"] == "Porter case PC-ACA8LG: stalled parcel" and refund["notify"] is True
    assert refund["shipping"] == {"full_refund": True} and refund["refund_line_items"][0]["quantity"] == 2


def test_a_partial_refund_is_that_amount_only(shop, store):
    refund_shop(shop)
    store.refund("#1001", 10, "Porter case PC-Q2W3E4: partial refund, item kept")
    refund = shop.received("/refunds.json")[-1].json["refund"]
    assert refund["transactions"][0]["amount"] == "10.00"
    assert "refund_line_items" not in refund and "shipping" not in refund


def test_a_refund_is_never_sent_twice_after_an_unclear_failure(shop, store):
    refund_shop(shop, created=(500, {"errors": "Internal Server Error"}))
    with pytest.raises(RefundOutcomeUnknown, match="not repeated because it may have taken effect"):
        store.refund("#1001", 29.90, "note")
    assert len(shop.received("/refunds.json")) == 1


def test_a_refund_whose_answer_never_came_may_have_been_made(shop, store):
    def slow(request):
        time.sleep(0.8)
        return 201, payload("refund_created.json")

    refund_shop(shop)
    shop.route("/orders/5801000000001/refunds.json", slow)
    with pytest.raises(RefundOutcomeUnknown, match="no answer within"):
        store.refund("#1001", 29.90, "PC-ACA8LG")
    assert len(shop.received("/refunds.json")) == 1


def test_a_refund_shopify_turned_away_was_certainly_not_made(shop, store):
    refund_shop(shop, created=(503, {"errors": "Unavailable Shop"}))
    with pytest.raises(BackendUnavailable, match="HTTP 503 after 3 attempts") as caught:
        store.refund("#1001", 29.90, "PC-ACA8LG")
    assert not isinstance(caught.value, RefundOutcomeUnknown)


def test_a_refund_is_found_by_the_case_reference_in_its_note(shop, store):
    shipped_shop(shop)
    shop.route("/orders/5801000000001/refunds.json", lambda r: (200, payload("refunds_list.json")))
    assert store.find_refund("#1001", "PC-ACA8LG") == "9300000000001"
    assert store.find_refund("#1001", "PC-Q2W3E4") is None  # noted, but its transaction failed: no money went out
    assert store.find_refund("#1001", "PC-ACA8L") is None  # a reference is matched whole
    asked = shop.received("/refunds.json")[-1]
    assert asked.method == "GET" and asked.query["limit"] == ["250"]


def test_a_refund_shopify_refuses_names_the_field(shop, store):
    refund_shop(shop, created=(422, payload("error_422_refund.json")))
    with pytest.raises(BackendRejected, match="HTTP 422: transactions"):
        store.refund("#1001", 29.90, "note")


def test_nothing_left_to_refund(shop, store):
    shipped_shop(shop)
    calculated = payload("refund_calculate.json")
    calculated["refund"]["transactions"] = []
    shop.route("/orders/5801000000001/refunds/calculate.json", lambda r: (200, calculated))
    with pytest.raises(BackendRejected, match="nothing left to refund on order #1001"):
        store.refund("#1001", 29.90, "note")
    assert not shop.received("/refunds.json")


# --- failures ----------------------------------------------------------------------------------------------


def test_500_then_200_is_retried(shop, store):
    shop.route(
        "/orders.json",
        sequence((500, {"errors": "Internal Server Error"}), (200, payload("orders_by_name_unfulfilled.json"))),
    )
    assert store.get("#1030").order_number == "#1030"
    assert len(shop.received("/orders.json")) == 2


def test_429_is_retried(shop, store):
    shop.route(
        "/orders.json", sequence((429, payload("error_429.json")), (200, payload("orders_by_name_unfulfilled.json")))
    )
    assert store.get("#1030").order_number == "#1030"


def test_a_persistent_503_is_backend_unavailable(shop, store):
    shop.route("/orders.json", lambda r: (503, {"errors": "Unavailable Shop"}))
    with pytest.raises(BackendUnavailable, match="^Shopify is unavailable: HTTP 503 after 3 attempts$"):
        store.get("#1001")


def test_a_refused_token_names_the_setting_not_the_token(shop, store):
    shop.route("/orders.json", lambda r: (401, payload("error_401.json")))
    with pytest.raises(BackendCredentialsError) as caught:
        store.get("#1001")
    assert "check SHOPIFY_ACCESS_TOKEN" in str(caught.value) and TOKEN not in str(caught.value)


def test_a_slow_shop_times_out(shop, store):
    def slow(request):
        time.sleep(0.8)
        return 200, payload("orders_by_name_unfulfilled.json")

    shop.route("/orders.json", slow)
    with pytest.raises(BackendUnavailable, match="no answer within 0.3 s"):
        store.get("#1030")


def test_malformed_or_unexpected_answers_are_unusable(shop, store):
    shop.route("/orders.json", lambda r: (200, b'{"orders": [{"id": 1,'))
    with pytest.raises(BackendUnavailable, match="malformed JSON"):
        store.get("#1001")
    shop.route("/orders.json", lambda r: (200, {"order": {}}))
    with pytest.raises(BackendUnavailable, match="without the expected 'orders'"):
        store.get("#1001")


def test_logs_never_show_the_token_or_the_shoppers_details(shop, store, caplog):
    refund_shop(shop)
    shop.route("/orders.json", sequence((502, {}), (200, payload("orders_by_name_shipped.json"))))
    with caplog.at_level(logging.DEBUG):
        store.get("#1001")
        store.refund("#1001", 29.90, "note")
    for secret in (TOKEN, "ana.souza@example.com", "912345678", "Rua Augusta", "Lisboa"):
        assert secret not in caplog.text
    assert "HTTP 502" in caplog.text


# --- configuration -----------------------------------------------------------------------------------------


def test_open_store_selects_shopify_from_the_environment(shop):
    store = open_store()
    assert isinstance(store, ShopifyOrderStore)
    assert store.prefix == V


@pytest.mark.parametrize("variable", ["SHOPIFY_SHOP_URL", "SHOPIFY_ACCESS_TOKEN"])
def test_a_missing_setting_is_named(shop, monkeypatch, variable):
    monkeypatch.delenv(variable)
    with pytest.raises(BackendConfigError, match=f"{variable} is not set: PORTER_ORDER_BACKEND=shopify needs it"):
        open_store()


def test_an_unknown_backend_is_named(monkeypatch):
    monkeypatch.setenv("PORTER_ORDER_BACKEND", "magento")
    with pytest.raises(
        ValueError, match="PORTER_ORDER_BACKEND='magento' is not a known order backend \\(known: sqlite, shopify\\)"
    ):
        open_store()


def test_the_api_version_is_a_setting(shop, monkeypatch):
    monkeypatch.setenv("SHOPIFY_API_VERSION", "2025-01")
    assert open_store().prefix == "/admin/api/2025-01"


def test_a_plain_http_shop_url_is_refused(shop, monkeypatch):
    monkeypatch.setenv("SHOPIFY_SHOP_URL", "http://myshop.myshopify.com")
    with pytest.raises(BackendConfigError, match="SHOPIFY_SHOP_URL must use https://"):
        open_store()


def test_the_embedded_store_records_refunds_as_cases_only(demo_store):
    assert demo_store.refund("A10024", 36.50, "stalled") is None
    assert demo_store.find_refund("A10024", "PC-ACA8LG") is None
    with pytest.raises(KeyError):
        demo_store.refund("A99999", 1, "x")
    assert callable(OrderStore.refund)


def test_an_order_with_unreadable_fields_is_unusable(shop, store):
    document = payload("orders_by_name_unfulfilled.json")
    document["orders"][0]["line_items"][0]["quantity"] = "two"
    shop.route("/orders.json", lambda r: (200, document))
    with pytest.raises(BackendUnavailable, match="answered an order Porter cannot read \\(ValueError\\)"):
        store.get("#1030")


# --- carried out from the conversation -------------------------------------------------------------------


def test_a_refund_chosen_in_chat_is_paid_back_through_shopify_once(shop, var):
    import asyncio

    from rasa_sdk.executor import CollectingDispatcher

    from actions import services
    from actions.resolution import ActionCarryOutFix
    from bot.decisions.cases import CaseBook
    from tests.conftest import make_tracker, offer_fixes

    refund_shop(shop)
    for cached in (services.store, services.cases, services.policy):
        cached.cache_clear()
    try:
        slots = {"verified_order": "#1001", "problem": "parcel_not_received", "fix": "refund"}
        offer_fixes(slots, sender="shopify-chat")
        for _ in range(2):  # the same button pressed twice
            dispatcher = CollectingDispatcher()
            tracker = make_tracker(slots=slots, sender="shopify-chat")
            asyncio.run(ActionCarryOutFix().run(dispatcher, tracker, {}))
    finally:
        for cached in (services.store, services.cases, services.policy):
            cached.cache_clear()
    [case] = CaseBook().list(type="refund")
    assert (case.status, case.details["refund_id"], case.amount) == ("paid", "9300000000001", 29.9)
    assert len(shop.received("/refunds.json")) == 1
    assert shop.received("/refunds.json")[0].json["refund"]["note"] == case.reference
