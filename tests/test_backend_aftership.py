"""AfterShip (Tracking API 2024-07) against a local stand-in answering the documented shapes
(tests/data/payloads/aftership): the mapping onto Porter's vocabulary, what Porter sends, failures, and an
order from the embedded store getting its events from AfterShip."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

import pytest

from bot.decisions import situations
from bot.http_client import BackendConfigError, BackendCredentialsError, BackendUnavailable
from bot.paths import PROJECT_ROOT
from bot.decisions.policy import load_policy
from bot.shop.models import SUBSTATUSES, TRACKING_TAGS
from bot.backends import open_store
from bot.tracking import TrackedOrderStore, open_tracking
from bot.tracking.aftership import (
    CARRIER_SLUGS,
    SUBTAGS,
    TAG_SUBSTATUS,
    TAGS,
    AfterShipTracking,
    carrier_slug,
    normalize,
)
from tests.test_http_client import HeaderRecorder, sequence

PAYLOADS = PROJECT_ROOT / "tests" / "data" / "payloads" / "aftership"
KEY = "asat_test-key-0123456789"
V = "/tracking/2024-07"


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def server():
    recorder = HeaderRecorder()
    yield recorder
    recorder.close()


@pytest.fixture
def api(server, monkeypatch):
    prefix = f"/as-{uuid.uuid4().hex[:8]}"
    for name, value in {
        "PORTER_TRACKING_BACKEND": "aftership",
        "AFTERSHIP_API_KEY": KEY,
        "AFTERSHIP_API_URL": server.url + prefix,
        "PORTER_BACKEND_ATTEMPTS": "3",
        "PORTER_BACKEND_BACKOFF": "0.001",
        "PORTER_BACKEND_READ_TIMEOUT": "0.3",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AFTERSHIP_API_VERSION", raising=False)

    class Api:
        base = prefix + V

        def route(self, path, reply):
            server.route(self.base + path, reply)

        def received(self, part=""):
            return [r for r in server.received(self.base) if part in r.path[len(self.base) :]]

    return Api()


@pytest.fixture
def aftership(api):
    return open_tracking()


def test_a_tracking_by_carrier_slug_and_number(api, aftership):
    api.route("/trackings/china-post/LP00123456789012", lambda r: (200, payload("tracking_customs_hold.json")))
    tracking = aftership.track("China Post", "LP00123456789012")
    assert (tracking.status, tracking.substatus, tracking.carrier) == ("Exception", "customs_hold", "china-post")
    assert [(e.at, e.location, e.status, e.substatus, e.description) for e in tracking.events] == [
        (
            datetime(2026, 10, 2, 8, 0, tzinfo=timezone.utc),
            "Shenzhen, Guangdong, CHN",
            "InfoReceived",
            None,
            "Shipment information received",
        ),
        (datetime(2026, 10, 4, 2, 10, tzinfo=timezone.utc), "Shenzhen, CHN", "InTransit", None, "Departed facility"),
        (
            datetime(2026, 10, 20, 6, 45, tzinfo=timezone.utc),
            "Lisboa, PRT",
            "Exception",
            "customs_hold",
            "Held by customs: awaiting clearance",
        ),
    ]
    sent = api.received("/trackings/")[-1]
    assert sent.method == "GET" and sent.headers["as-api-key"] == KEY and "aftership-api-key" not in sent.headers


def test_an_unknown_carrier_is_looked_up_by_tracking_number(api, aftership):
    api.route("/trackings", lambda r: (200, payload("trackings_list_delivered.json")))
    tracking = aftership.track("Local Courier Co.", "YT2610000000049")
    assert tracking.status == "Delivered" and tracking.events[-1].status == "Delivered"
    assert tracking.events[-1].at == datetime(2026, 10, 27, 10, 2, tzinfo=timezone.utc)  # no offset: read as UTC
    assert tracking.events[-1].location == "Austin, TX, USA"
    assert api.received("/trackings")[-1].query == {"tracking_numbers": ["YT2610000000049"]}


def test_a_wrong_slug_falls_back_to_the_tracking_number(api, aftership):
    api.route("/trackings/dhl/", lambda r: (404, payload("not_found.json")))
    api.route("/trackings", lambda r: (200, payload("trackings_list_delivered.json")))
    assert aftership.track("DHL", "YT2610000000049").carrier == "yunexpress"
    assert [r.path[len(api.base) :] for r in api.received()] == ["/trackings/dhl/YT2610000000049", "/trackings"]


def test_a_parcel_aftership_does_not_know_is_none(api, aftership):
    api.route("/trackings/china-post/", lambda r: (404, payload("not_found.json")))
    api.route("/trackings", lambda r: (200, {"meta": {"code": 200}, "data": {"trackings": []}}))
    assert aftership.track("China Post", "LP99999999999999") is None


def test_the_unwrapped_tracking_of_later_versions_is_read_too(api, aftership):
    unwrapped = payload("tracking_customs_hold.json")["data"]["tracking"]
    api.route("/trackings/china-post/", lambda r: (200, {"meta": {"code": 200}, "data": unwrapped}))
    assert aftership.track("China Post", "LP00123456789012").substatus == "customs_hold"


# --- the mapping tables ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", sorted(TAGS))
def test_every_tag_is_a_porter_status(tag):
    status, substatus = normalize(tag, None)
    assert status == tag and status in TRACKING_TAGS
    assert substatus == TAG_SUBSTATUS.get(tag)


@pytest.mark.parametrize("subtag", sorted(SUBTAGS))
def test_every_mapped_subtag(subtag):
    tag = subtag.split("_")[0]
    assert normalize(tag, subtag) == (tag, SUBTAGS[subtag])
    assert SUBTAGS[subtag] in SUBSTATUSES


@pytest.mark.parametrize(
    "subtag, expected",
    [
        ("Exception_004", "customs_hold"),
        ("Exception_006", "customs_duties_unpaid"),
        ("Exception_018", "customs_documents_required"),
        ("Exception_007", "address_incorrect"),
        ("Exception_013", "lost"),
        ("Exception_010", "returning_to_sender"),
        ("Exception_011", "returned_to_sender"),
        ("Exception_012", "damaged"),
        ("AttemptFail_001", "recipient_absent"),
        ("InTransit_005", "customs_released"),
    ],
)
def test_the_playbooks_codes(subtag, expected):
    assert normalize(subtag.split("_")[0], subtag)[1] == expected


def test_subtags_without_a_reason_keep_only_their_tag():
    assert normalize("InTransit", "InTransit_001") == ("InTransit", None)
    assert normalize("Exception", "Exception_001") == ("Exception", None)
    assert normalize("Exception", "Exception_020") == ("Exception", None)
    assert normalize("AttemptFail", None) == ("AttemptFail", "recipient_absent")
    assert normalize(None, "Delivered_003") == ("Delivered", None)  # tag missing: read from the subtag
    assert normalize("Teleported", None) == ("InTransit", None)  # unknown: neutral, and logged


@pytest.mark.parametrize(
    "carrier, slug",
    [
        ("China Post", "china-post"),
        ("  YunExpress ", "yunexpress"),
        ("DHL Express", "dhl"),
        ("royal-mail", "royal-mail"),
        ("Local Courier Co.", None),
        ("", None),
        (None, None),
    ],
)
def test_carrier_names_become_slugs(carrier, slug):
    assert carrier_slug(carrier) == slug


def test_every_known_carrier_has_a_slug_shaped_slug():
    for name, slug in CARRIER_SLUGS.items():
        assert carrier_slug(name.upper()) == slug and carrier_slug(slug) == slug


# --- failures ----------------------------------------------------------------------------------------------


def test_500_then_200_is_retried(api, aftership):
    api.route(
        "/trackings/china-post/", sequence((500, {"meta": {"code": 500}}), (200, payload("tracking_customs_hold.json")))
    )
    assert aftership.track("China Post", "LP00123456789012").status == "Exception"
    assert len(api.received()) == 2


def test_429_is_retried(api, aftership):
    api.route(
        "/trackings/china-post/",
        sequence((429, payload("rate_limited.json")), (200, payload("tracking_customs_hold.json"))),
    )
    assert aftership.track("China Post", "LP00123456789012").status == "Exception"


def test_a_persistent_503_is_backend_unavailable(api, aftership):
    api.route("/trackings", lambda r: (503, {"meta": {"code": 503}}))
    with pytest.raises(BackendUnavailable, match="^AfterShip is unavailable: HTTP 503 after 3 attempts$"):
        aftership.track("China Post", "LP00123456789012")


def test_a_refused_key_names_the_setting(api, aftership):
    api.route("/trackings", lambda r: (401, payload("unauthorized.json")))
    with pytest.raises(BackendCredentialsError, match="check AFTERSHIP_API_KEY") as caught:
        aftership.track("China Post", "LP00123456789012")
    assert KEY not in str(caught.value)


def test_a_slow_service_times_out(api, aftership):
    def slow(request):
        time.sleep(0.8)
        return 200, payload("tracking_customs_hold.json")

    api.route("/trackings", slow)
    with pytest.raises(BackendUnavailable, match="no answer within 0.3 s after 3 attempts"):
        aftership.track("China Post", "LP00123456789012")


def test_malformed_or_unexpected_answers_are_unusable(api, aftership):
    api.route("/trackings", lambda r: (200, b'{"meta": {"code": 200}, "data": '))
    with pytest.raises(BackendUnavailable, match="malformed JSON"):
        aftership.track("China Post", "LP00123456789012")
    api.route("/trackings", lambda r: (200, {"meta": {"code": 200}}))
    with pytest.raises(BackendUnavailable, match="without the expected 'data' object"):
        aftership.track("China Post", "LP00123456789012")


# --- an order from any store gets its events from AfterShip ------------------------------------------------


def test_the_demo_shop_reads_its_parcels_from_aftership(api, demo_store):
    api.route("/trackings/china-post/LP00123456789012", lambda r: (200, payload("tracking_customs_hold.json")))
    store = open_store()
    assert isinstance(store, TrackedOrderStore)
    order = store.get("A10023")
    assert order.shipment.events[-1].substatus == "customs_hold"
    assert order.email == "ana.souza@example.com"  # everything else still from the store
    now = datetime(2026, 10, 21, tzinfo=timezone.utc)
    assert situations.classify(order, now, load_policy()).kind == situations.CUSTOMS_HOLD
    assert store.find_by_tracking_number("LP00123456789012").shipment.events[-1].substatus == "customs_hold"


def test_without_a_record_the_stores_events_stay(api, demo_store):
    api.route("/trackings", lambda r: (404, payload("not_found.json")))
    before = demo_store.get("A10023").shipment.events
    assert open_store().get("A10023").shipment.events == before


def test_a_delivered_tracking_marks_a_shipped_order_delivered(api, demo_store):
    delivered = payload("trackings_list_delivered.json")
    delivered["data"]["trackings"][0]["tracking_number"] = "LP00123456789012"
    api.route("/trackings", lambda r: (404, {}) if "/trackings/" in r.path else (200, delivered))
    order = open_store().get("A10023")
    assert order.status == "delivered" and order.shipment.last_event.status == "Delivered"


def test_when_aftership_is_down_the_store_says_so(api, demo_store):
    api.route("/trackings", lambda r: (503, {}))
    with pytest.raises(BackendUnavailable, match="AfterShip is unavailable"):
        open_store().get("A10023")
    assert open_store().get("A99999") is None  # no parcel to track: no call, no error


def test_a_missing_key_is_named(api, monkeypatch):
    monkeypatch.delenv("AFTERSHIP_API_KEY")
    with pytest.raises(BackendConfigError, match="AFTERSHIP_API_KEY is not set: PORTER_TRACKING_BACKEND=aftership"):
        open_tracking()


def test_the_version_is_a_setting(api, monkeypatch):
    monkeypatch.setenv("AFTERSHIP_API_VERSION", "2024-04")
    assert open_tracking().prefix == "/tracking/2024-04"
    assert isinstance(AfterShipTracking("k"), AfterShipTracking)


def test_a_tracking_with_unreadable_checkpoints_is_unusable(api, aftership):
    broken = payload("tracking_customs_hold.json")
    broken["data"]["tracking"]["checkpoints"][0]["tag"] = ["InfoReceived"]
    api.route("/trackings/china-post/", lambda r: (200, broken))
    with pytest.raises(BackendUnavailable, match="answered a tracking Porter cannot read"):
        aftership.track("China Post", "LP00123456789012")


def test_text_fields_that_are_not_text_are_left_out(api, aftership):
    odd = payload("tracking_customs_hold.json")
    odd["data"]["tracking"]["checkpoints"][2].update(location={"city": "Lisboa"}, message=None)
    api.route("/trackings/china-post/", lambda r: (200, odd))
    last = aftership.track("China Post", "LP00123456789012").events[-1]
    assert (last.location, last.description) == ("Lisboa, PRT", "Delayed (Customs clearance)")
