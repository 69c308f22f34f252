"""17TRACK (Tracking API v2.2) against a local stand-in answering the documented shapes
(tests/data/payloads/17track): registration, the mapping onto Porter's vocabulary, failures, and an order from
the embedded store getting its events from 17TRACK."""

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
from bot.tracking import open_tracking
from bot.tracking.seventeen_track import STAGES, STATUSES, SUB_STATUSES, normalize
from tests.test_http_client import HeaderRecorder, sequence

PAYLOADS = PROJECT_ROOT / "tests" / "data" / "payloads" / "17track"
KEY = "17track-test-key-ABCDEF"
NUMBER = "RR123456789CN"

# Every sub-status 17TRACK documents (30), by main status.
DOCUMENTED = [
    "NotFound_Other",
    "NotFound_InvalidCode",
    "InfoReceived",
    "InTransit_PickedUp",
    "InTransit_Other",
    "InTransit_Departure",
    "InTransit_Arrival",
    "InTransit_CustomsProcessing",
    "InTransit_CustomsReleased",
    "InTransit_CustomsRequiringInformation",
    "Expired_Other",
    "AvailableForPickup_Other",
    "OutForDelivery_Other",
    "DeliveryFailure_Other",
    "DeliveryFailure_NoBody",
    "DeliveryFailure_Security",
    "DeliveryFailure_Rejected",
    "DeliveryFailure_InvalidAddress",
    "Delivered_Other",
    "Exception_Other",
    "Exception_Returning",
    "Exception_Returned",
    "Exception_NoBody",
    "Exception_Security",
    "Exception_Damage",
    "Exception_Rejected",
    "Exception_Delayed",
    "Exception_Lost",
    "Exception_Destroyed",
    "Exception_Cancel",
]


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def for_number(document: dict, number: str) -> dict:
    text = json.dumps(document).replace(NUMBER, number)
    return json.loads(text)


@pytest.fixture(scope="module")
def server():
    recorder = HeaderRecorder()
    yield recorder
    recorder.close()


@pytest.fixture
def api(server, monkeypatch):
    prefix = f"/17-{uuid.uuid4().hex[:8]}/track/v2.2"
    for name, value in {
        "PORTER_TRACKING_BACKEND": "17track",
        "TRACK17_API_KEY": KEY,
        "TRACK17_API_URL": server.url + prefix,
        "PORTER_BACKEND_ATTEMPTS": "3",
        "PORTER_BACKEND_BACKOFF": "0.001",
        "PORTER_BACKEND_READ_TIMEOUT": "0.3",
    }.items():
        monkeypatch.setenv(name, value)

    class Api:
        base = prefix

        def route(self, path, reply):
            server.route(self.base + path, reply)

        def received(self, part=""):
            return [r for r in server.received(self.base) if part in r.path[len(self.base) :]]

    return Api()


@pytest.fixture
def service(api):
    return open_tracking()


def test_a_registered_number(api, service):
    api.route("/gettrackinfo", lambda r: (200, payload("gettrackinfo_lost.json")))
    tracking = service.track("China Post", NUMBER)
    assert (tracking.status, tracking.substatus, tracking.carrier) == ("Exception", "lost", "China Post")
    assert [(e.at, e.location, e.status, e.substatus, e.description) for e in tracking.events] == [
        (
            datetime(2026, 10, 2, 8, 0, tzinfo=timezone.utc),
            "Shenzhen",
            "InfoReceived",
            None,
            "Electronic information received",
        ),
        (datetime(2026, 10, 3, 3, 0, tzinfo=timezone.utc), "Shenzhen", "InTransit", None, "Collected from sender"),
        (
            datetime(2026, 10, 19, 5, 0, tzinfo=timezone.utc),
            "Lisboa, PT",
            "InTransit",
            None,
            "Arrived in destination country",
        ),
        (datetime(2026, 10, 28, 8, 30, tzinfo=timezone.utc), "Lisboa", "Exception", "lost", "Item reported lost"),
    ]
    sent = api.received("/gettrackinfo")[-1]
    assert sent.method == "POST" and sent.headers["17token"] == KEY and sent.json == [{"number": NUMBER}]
    assert not api.received("/register")


def test_an_unregistered_number_is_registered_then_read(api, service):
    api.route(
        "/gettrackinfo",
        sequence((200, payload("gettrackinfo_not_registered.json")), (200, payload("gettrackinfo_lost.json"))),
    )
    api.route("/register", lambda r: (200, payload("register_accepted.json")))
    assert service.track("China Post", NUMBER).substatus == "lost"
    assert [r.path[len(api.base) :] for r in api.received()] == ["/gettrackinfo", "/register", "/gettrackinfo"]
    assert api.received("/register")[0].json == [{"number": NUMBER}]


def test_a_number_registered_meanwhile_is_fine(api, service):
    api.route(
        "/gettrackinfo",
        sequence((200, payload("gettrackinfo_not_registered.json")), (200, payload("gettrackinfo_pending.json"))),
    )
    api.route("/register", lambda r: (200, payload("register_already.json")))
    tracking = service.track("China Post", NUMBER)
    assert (tracking.status, tracking.events) == ("Pending", [])  # 17TRACK has not asked the carrier yet


def test_a_number_17track_will_not_follow_is_none(api, service):
    rejected = payload("gettrackinfo_not_registered.json")
    rejected["data"]["rejected"][0]["error"]["code"] = -18019903  # carrier cannot be detected
    api.route("/gettrackinfo", lambda r: (200, rejected))
    assert service.track("", NUMBER) is None and not api.received("/register")


# --- the mapping tables ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_every_main_status(status):
    assert normalize(status, None) == (STATUSES[status], None)
    assert STATUSES[status] in TRACKING_TAGS


@pytest.mark.parametrize("sub_status", sorted(SUB_STATUSES))
def test_every_mapped_sub_status(sub_status):
    main = sub_status.split("_")[0]
    assert normalize(main, sub_status) == (STATUSES[main], SUB_STATUSES[sub_status])
    assert normalize(None, sub_status) == (STATUSES[main], SUB_STATUSES[sub_status])
    assert SUB_STATUSES[sub_status] in SUBSTATUSES


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage(stage):
    status, substatus = STAGES[stage]
    assert status in TRACKING_TAGS and (substatus is None or substatus in SUBSTATUSES)


@pytest.mark.parametrize("sub_status", DOCUMENTED)
def test_every_documented_sub_status_lands_in_the_vocabulary(sub_status):
    status, substatus = normalize(None, sub_status)
    assert status in TRACKING_TAGS and (substatus is None or substatus in SUBSTATUSES)
    assert sub_status.split("_")[0] in STATUSES


@pytest.mark.parametrize(
    "sub_status, expected",
    [
        ("NotFound_Other", ("Pending", None)),
        ("DeliveryFailure_Other", ("AttemptFail", None)),
        ("Exception_Lost", ("Exception", "lost")),
        ("Exception_Destroyed", ("Exception", "lost")),
        ("InTransit_CustomsProcessing", ("InTransit", "customs_hold")),
        ("DeliveryFailure_InvalidAddress", ("AttemptFail", "address_incorrect")),
        ("Exception_Returning", ("Exception", "returning_to_sender")),
        ("Exception_Returned", ("Exception", "returned_to_sender")),
        ("DeliveryFailure_NoBody", ("AttemptFail", "recipient_absent")),
    ],
)
def test_the_playbooks_equivalences(sub_status, expected):
    assert normalize(None, sub_status) == expected


def test_an_unknown_status_is_neutral():
    assert normalize("Teleported", "Teleported_Other") == ("InTransit", None)


# --- failures ----------------------------------------------------------------------------------------------


def test_500_then_200_is_retried(api, service):
    api.route("/gettrackinfo", sequence((500, {}), (200, payload("gettrackinfo_lost.json"))))
    assert service.track("", NUMBER).substatus == "lost"
    assert len(api.received("/gettrackinfo")) == 2


def test_429_is_retried(api, service):
    api.route("/gettrackinfo", sequence((429, {}), (200, payload("gettrackinfo_lost.json"))))
    assert service.track("", NUMBER).substatus == "lost"


def test_a_persistent_503_is_backend_unavailable(api, service):
    api.route("/gettrackinfo", lambda r: (503, {}))
    with pytest.raises(BackendUnavailable, match="^17TRACK is unavailable: HTTP 503 after 3 attempts$"):
        service.track("", NUMBER)


@pytest.mark.parametrize("reply", [(401, {}), (200, payload("invalid_key.json"))])
def test_a_refused_key_names_the_setting(api, service, reply):
    api.route("/gettrackinfo", lambda r: reply)
    with pytest.raises(BackendCredentialsError, match="check TRACK17_API_KEY") as caught:
        service.track("", NUMBER)
    assert KEY not in str(caught.value)


def test_another_error_code_is_unavailable(api, service):
    api.route("/gettrackinfo", lambda r: (200, {"code": -18010003, "data": {"errors": []}}))
    with pytest.raises(BackendUnavailable, match="answered error -18010003 to /gettrackinfo"):
        service.track("", NUMBER)


def test_a_wrong_url_is_named(api, service):
    api.route("/gettrackinfo", lambda r: (404, {}))
    with pytest.raises(BackendUnavailable, match="check TRACK17_API_URL"):
        service.track("", NUMBER)


def test_a_slow_service_times_out(api, service):
    def slow(request):
        time.sleep(0.8)
        return 200, payload("gettrackinfo_lost.json")

    api.route("/gettrackinfo", slow)
    with pytest.raises(BackendUnavailable, match="no answer within 0.3 s after 3 attempts"):
        service.track("", NUMBER)


def test_malformed_or_unexpected_answers_are_unusable(api, service):
    api.route("/gettrackinfo", lambda r: (200, b'{"code": 0, "data": {"accepted": ['))
    with pytest.raises(BackendUnavailable, match="malformed JSON"):
        service.track("", NUMBER)
    api.route("/gettrackinfo", lambda r: (200, {"data": {}}))
    with pytest.raises(BackendUnavailable, match="without the expected 'code'"):
        service.track("", NUMBER)


# --- an order from any store gets its events from 17TRACK ---------------------------------------------------


def test_the_demo_shop_reads_its_parcels_from_17track(api, demo_store):
    number = demo_store.get("A10023").shipment.tracking_number
    api.route("/gettrackinfo", lambda r: (200, for_number(payload("gettrackinfo_lost.json"), number)))
    order = open_store().get("A10023")
    assert order.shipment.last_event.substatus == "lost"
    now = datetime(2026, 10, 29, tzinfo=timezone.utc)
    assert situations.classify(order, now, load_policy()).kind == situations.LOST


def test_a_parcel_17track_has_no_events_for_keeps_the_stores(api, demo_store):
    number = demo_store.get("A10023").shipment.tracking_number
    api.route(
        "/gettrackinfo",
        sequence(
            (200, for_number(payload("gettrackinfo_not_registered.json"), number)),
            (200, for_number(payload("gettrackinfo_pending.json"), number)),
        ),
    )
    api.route("/register", lambda r: (200, for_number(payload("register_accepted.json"), number)))
    assert open_store().get("A10023").shipment.events == demo_store.get("A10023").shipment.events


def test_a_missing_key_is_named(api, monkeypatch):
    monkeypatch.delenv("TRACK17_API_KEY")
    with pytest.raises(BackendConfigError, match="TRACK17_API_KEY is not set: PORTER_TRACKING_BACKEND=17track"):
        open_tracking()


def test_an_unknown_tracking_backend_is_named(monkeypatch):
    monkeypatch.setenv("PORTER_TRACKING_BACKEND", "parcelmonkey")
    with pytest.raises(
        ValueError,
        match="PORTER_TRACKING_BACKEND='parcelmonkey' is not a known tracking backend "
        "\\(known: none, aftership, 17track\\)",
    ):
        open_tracking()


def test_tracking_with_unreadable_events_is_unusable(api, service):
    broken = payload("gettrackinfo_lost.json")
    broken["data"]["accepted"][0]["track_info"]["tracking"]["providers"][0]["events"][0]["address"] = "Lisboa"
    broken["data"]["accepted"][0]["track_info"]["tracking"]["providers"][0]["events"][0]["location"] = None
    api.route("/gettrackinfo", lambda r: (200, broken))
    with pytest.raises(BackendUnavailable, match="answered tracking Porter cannot read"):
        service.track("", NUMBER)
