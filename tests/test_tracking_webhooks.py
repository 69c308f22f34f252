"""Tracking-service pushes (bot/tracking/webhooks.py, bot/web/tracking_webhooks.py): a push is taken only when
it is signed exactly as its service signs it, and is read into Porter's tracking vocabulary.

The bodies are tests/data/webhooks (the services' documented webhook shapes); each test signs them here the way
AfterShip (base64 HMAC-SHA256 of the body) and 17TRACK (hex SHA-256 of ``body/key``) do. The HTTP tests run
the blueprint in a real Sanic app on a free localhost port, as tests/test_desk_abuse.py runs the desk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets

import pytest
import requests
from sanic import Sanic

from bot.paths import PROJECT_ROOT
from bot.tracking.webhooks import (
    MAX_BODY_BYTES,
    BadPush,
    parse_17track,
    parse_aftership,
    secrets_from_env,
    verify_17track,
    verify_aftership,
)
from bot.web.tracking_webhooks import blueprint
from tests.support.sanic_thread import ServedApp

pytestmark = pytest.mark.timeout(120)

WEBHOOKS = PROJECT_ROOT / "tests" / "data" / "webhooks"
AFTERSHIP_SECRET = "as-webhook-secret-7f3c9a1e"
TRACK17_KEY = "17track-security-key-0A1B2C3D"


def raw(name: str) -> bytes:
    """A recorded push, byte for byte: the signature covers these exact bytes."""
    return (WEBHOOKS / name).read_bytes()


AFTERSHIP_PUSH = raw("aftership_tracking_update.json")
UPDATED_PUSH = raw("17track_tracking_updated.json")
STOPPED_PUSH = raw("17track_tracking_stopped.json")


def aftership_signature(body: bytes, secret: str = AFTERSHIP_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def track17_signature(body: bytes, key: str = TRACK17_KEY) -> str:
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


def signed(service: str, body: bytes, secret: str | None = None) -> dict:
    if service == "aftership":
        return {"aftership-hmac-sha256": aftership_signature(body, secret or AFTERSHIP_SECRET)}
    return {"sign": track17_signature(body, secret or TRACK17_KEY)}


def tampered(body: bytes) -> bytes:
    """The body with one byte changed, as a proxy or an attacker would after signing."""
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]


VERIFY = {"aftership": (verify_aftership, AFTERSHIP_SECRET), "17track": (verify_17track, TRACK17_KEY)}
BODY = {"aftership": AFTERSHIP_PUSH, "17track": UPDATED_PUSH}
SERVICES = sorted(VERIFY)


# --- reading a push ------------------------------------------------------------------------------------------


def test_a_signed_aftership_push_reads_as_the_parcels_tracking():
    assert verify_aftership(AFTERSHIP_PUSH, signed("aftership", AFTERSHIP_PUSH), AFTERSHIP_SECRET)
    push = parse_aftership(AFTERSHIP_PUSH)
    assert (push.service, push.tracking_number, push.carrier) == ("aftership", "YT2430921234567890", "yunexpress")
    assert push.delivery_id == "5f0c7a8e-3b1d-4c52-9e6a-2d8b41f07c19"  # AfterShip's event_id
    assert push.event == "tracking_update"
    assert (push.tracking.status, push.tracking.substatus) == ("AttemptFail", "recipient_absent")
    assert [e.status for e in push.tracking.events] == ["InfoReceived", "OutForDelivery", "AttemptFail"]
    assert push.tracking.events[-1].description == "Delivery attempted: addressee absent, notice left"


def test_a_signed_17track_push_reads_as_the_parcels_tracking():
    assert verify_17track(UPDATED_PUSH, signed("17track", UPDATED_PUSH), TRACK17_KEY)
    push = parse_17track(UPDATED_PUSH)
    assert (push.service, push.tracking_number, push.carrier) == ("17track", "RR123456789CN", "3011")
    assert push.delivery_id == "sha256:" + hashlib.sha256(UPDATED_PUSH).hexdigest()
    assert push.event == "TRACKING_UPDATED"
    assert (push.tracking.status, push.tracking.substatus) == ("InTransit", "customs_hold")
    assert push.tracking.carrier == "China Post"
    events = push.tracking.events  # 17TRACK lists them newest first; Porter keeps them oldest first
    assert [e.description for e in events][-1] == "Held by customs: awaiting clearance"
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_a_17track_stop_carries_no_tracking():
    assert verify_17track(STOPPED_PUSH, signed("17track", STOPPED_PUSH), TRACK17_KEY)
    push = parse_17track(STOPPED_PUSH)
    assert (push.tracking_number, push.event, push.tracking) == ("RR123456789CN", "TRACKING_STOPPED", None)


def test_an_aftership_push_without_event_id_is_known_by_its_body():
    document = json.loads(AFTERSHIP_PUSH)
    del document["event_id"]
    body = json.dumps(document).encode()
    assert parse_aftership(body).delivery_id == "sha256:" + hashlib.sha256(body).hexdigest()


def test_the_same_17track_bytes_are_the_same_delivery_and_other_bytes_another():
    assert parse_17track(UPDATED_PUSH).delivery_id == parse_17track(bytes(UPDATED_PUSH)).delivery_id
    assert parse_17track(UPDATED_PUSH).delivery_id != parse_17track(STOPPED_PUSH).delivery_id


# --- refusing a push -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_a_push_signed_with_another_secret_is_refused(service):
    verify, secret = VERIFY[service]
    body = BODY[service]
    assert not verify(body, signed(service, body, secret="someone-elses-secret"), secret)


@pytest.mark.parametrize("service", SERVICES)
def test_a_body_changed_after_signing_is_refused(service):
    verify, secret = VERIFY[service]
    body = BODY[service]
    assert not verify(tampered(body), signed(service, body), secret)


@pytest.mark.parametrize("service", SERVICES)
def test_a_push_without_its_signature_header_is_refused(service):
    verify, secret = VERIFY[service]
    assert not verify(BODY[service], {}, secret)
    assert not verify(BODY[service], {"content-type": "application/json"}, secret)


@pytest.mark.parametrize("service", SERVICES)
def test_nothing_verifies_with_an_empty_secret(service):
    verify, _ = VERIFY[service]
    body = BODY[service]
    assert not verify(body, signed(service, body, secret=""), "")  # even signed with the empty secret


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("garbled", ["", "   ", "not a signature", "é" * 64, "zz" * 32, "=" * 44])
def test_a_garbled_signature_is_refused(service, garbled):
    verify, secret = VERIFY[service]
    header = "aftership-hmac-sha256" if service == "aftership" else "sign"
    assert not verify(BODY[service], {header: garbled}, secret)


def test_the_header_name_is_case_insensitive():
    as_sent = {"Aftership-Hmac-Sha256": aftership_signature(AFTERSHIP_PUSH)}
    assert verify_aftership(AFTERSHIP_PUSH, as_sent, AFTERSHIP_SECRET)
    assert verify_17track(UPDATED_PUSH, {"Sign": track17_signature(UPDATED_PUSH)}, TRACK17_KEY)


def test_only_each_services_own_scheme_passes():
    # AfterShip's digest in hex, or 17TRACK's hash in base64: the right bytes in the wrong form.
    hex_hmac = hmac.new(AFTERSHIP_SECRET.encode(), AFTERSHIP_PUSH, hashlib.sha256).hexdigest()
    assert not verify_aftership(AFTERSHIP_PUSH, {"aftership-hmac-sha256": hex_hmac}, AFTERSHIP_SECRET)
    # An HMAC keyed with the 17TRACK key, or the hash without the "/": not what 17TRACK sends.
    for wrong in (
        hmac.new(TRACK17_KEY.encode(), UPDATED_PUSH, hashlib.sha256).hexdigest(),
        hashlib.sha256(UPDATED_PUSH + TRACK17_KEY.encode()).hexdigest(),
    ):
        assert not verify_17track(UPDATED_PUSH, {"sign": wrong}, TRACK17_KEY)
    # Returns' header is not the Tracking product's.
    assert not verify_aftership(
        AFTERSHIP_PUSH, {"as-signature-hmac-sha256": aftership_signature(AFTERSHIP_PUSH)}, AFTERSHIP_SECRET
    )


def test_an_uppercase_17track_signature_is_the_same_signature():
    assert verify_17track(UPDATED_PUSH, {"sign": track17_signature(UPDATED_PUSH).upper()}, TRACK17_KEY)


@pytest.mark.parametrize(
    "parse, body, problem",
    [
        (parse_aftership, b"<html>", "not JSON"),
        (parse_aftership, b"\xff\xfe\x00", "not JSON"),
        (parse_aftership, b"[]", "not a JSON object"),
        (parse_aftership, b'{"msg": {"tracking_number": "X1"}}', "no 'event'"),
        (parse_aftership, b'{"event": "tracking_update", "msg": "X1"}', "'msg' is not a tracking object"),
        (parse_aftership, b'{"event": "tracking_update", "msg": {"tag": "Delivered"}}', "no tracking number"),
        (
            parse_aftership,
            b'{"event": "tracking_update", "msg": {"tracking_number": "X1", "tag": "Delivered", "checkpoints": 5}}',
            "cannot read (TypeError)",
        ),
        (parse_17track, b"", "not JSON"),
        (parse_17track, b'"TRACKING_UPDATED"', "not a JSON object"),
        (parse_17track, b'{"event": "TRACKING_UPDATED", "data": []}', "'data' is not an object"),
        (parse_17track, b'{"event": "TRACKING_UPDATED", "data": {"number": "  "}}', "no tracking number"),
        (parse_17track, b'{"event": "TRACKING_UPDATED", "data": {"number": "X1"}}', "without a 'data.track_info'"),
        (
            parse_17track,
            b'{"event": "TRACKING_UPDATED", "data": {"number": "X1", "track_info": {"latest_status": [1]}}}',
            "cannot read (AttributeError)",
        ),
        (parse_17track, b'{"data": {"number": "X1"}}', "no 'event'"),
    ],
)
def test_a_push_porter_cannot_read_says_what_is_wrong(parse, body, problem):
    with pytest.raises(BadPush) as refused:
        parse(body)
    assert problem in str(refused.value)


def test_the_secrets_come_from_the_environment(monkeypatch):
    env = {"PORTER_AFTERSHIP_WEBHOOK_SECRET": " s3cret \n", "PORTER_17TRACK_WEBHOOK_KEY": "   "}
    assert secrets_from_env(env) == {"aftership": "s3cret", "17track": None}
    assert secrets_from_env({}) == {"aftership": None, "17track": None}
    monkeypatch.setenv("PORTER_17TRACK_WEBHOOK_KEY", "k")
    monkeypatch.delenv("PORTER_AFTERSHIP_WEBHOOK_SECRET", raising=False)
    assert secrets_from_env() == {"aftership": None, "17track": "k"}


# --- over HTTP -----------------------------------------------------------------------------------------------


class Handler:
    """What Porter's side would do with a push: take it once, call a repeat a duplicate; or fail."""

    def __init__(self) -> None:
        self.pushes = []
        self.failing = False

    async def __call__(self, push) -> str:
        if self.failing:
            raise RuntimeError("the store is down")
        seen = any(p.delivery_id == push.delivery_id for p in self.pushes)
        self.pushes.append(push)
        return "duplicate" if seen else "accepted"


class Server(ServedApp):
    """A Sanic app with the webhook routes on a free localhost port, served from a thread of this process:
    signed with the secrets at the root, and again under /unset with no secret configured."""

    def __init__(self, handler: Handler) -> None:
        app = Sanic(f"webhooks_{secrets.token_hex(4)}", configure_logging=False)
        configured = {"PORTER_AFTERSHIP_WEBHOOK_SECRET": AFTERSHIP_SECRET, "PORTER_17TRACK_WEBHOOK_KEY": TRACK17_KEY}
        app.blueprint(blueprint(handler, configured))
        app.blueprint(blueprint(handler, {}, name="tracking_webhooks_unset"), url_prefix="/unset")
        super().__init__(app)

    def post(self, path: str, body: bytes, headers: dict) -> requests.Response:
        headers = {"Content-Type": "application/json", **headers}
        return requests.post(self.url + path, data=body, headers=headers, timeout=30)


@pytest.fixture
def handler():
    return Handler()


@pytest.fixture
def server(handler, monkeypatch):
    monkeypatch.setattr(Sanic, "test_mode", True)  # else Sanic's start-up rewrite of its classes runs twice
    running = Server(handler)
    yield running
    running.stop()


@pytest.mark.parametrize(
    "service, body, number, status",
    [
        ("aftership", AFTERSHIP_PUSH, "YT2430921234567890", "AttemptFail"),
        ("17track", UPDATED_PUSH, "RR123456789CN", "InTransit"),
    ],
)
def test_a_signed_push_is_handed_over_and_answered_with_the_handlers_status(
    server, handler, service, body, number, status
):
    first = server.post(f"/webhooks/{service}", body, signed(service, body))
    assert (first.status_code, first.json()) == (200, {"status": "accepted"})
    again = server.post(f"/webhooks/{service}", body, signed(service, body))  # the service retrying
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert [(p.service, p.tracking_number, p.tracking.status) for p in handler.pushes] == [
        (service, number, status)
    ] * 2


def test_a_17track_stop_is_handed_over_without_tracking(server, handler):
    answer = server.post("/webhooks/17track", STOPPED_PUSH, signed("17track", STOPPED_PUSH))
    assert answer.status_code == 200
    assert [(p.tracking_number, p.tracking) for p in handler.pushes] == [("RR123456789CN", None)]


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("forgery", ["wrong secret", "tampered body", "no header"])
def test_a_badly_signed_push_is_401_and_never_reaches_the_handler(server, handler, service, forgery):
    body = BODY[service]
    headers = {
        "wrong secret": signed(service, body, secret="guessed"),
        "tampered body": signed(service, tampered(body)),
        "no header": {},
    }[forgery]
    answer = server.post(f"/webhooks/{service}", body, headers)
    assert answer.status_code == 401
    assert "signature" in answer.json()["error"]
    assert handler.pushes == []


@pytest.mark.parametrize(
    "service, variable", [("aftership", "PORTER_AFTERSHIP_WEBHOOK_SECRET"), ("17track", "PORTER_17TRACK_WEBHOOK_KEY")]
)
def test_a_service_without_its_secret_is_503_naming_the_setting(server, handler, service, variable):
    body = BODY[service]
    answer = server.post(f"/unset/webhooks/{service}", body, signed(service, body))
    assert answer.status_code == 503
    assert variable in answer.json()["error"]
    assert handler.pushes == []


@pytest.mark.parametrize("service", SERVICES)
def test_an_oversized_body_is_413_even_when_signed(server, handler, service):
    body = b'{"event": "' + b"x" * MAX_BODY_BYTES + b'"}'
    answer = server.post(f"/webhooks/{service}", body, signed(service, body))
    assert answer.status_code == 413
    assert str(MAX_BODY_BYTES) in answer.json()["error"]
    assert handler.pushes == []


@pytest.mark.parametrize("service", SERVICES)
def test_signed_garbage_is_400_saying_what_is_wrong(server, handler, service):
    for body, problem in [(b"this is not json", "not JSON"), (b'{"event": "x", "data": {}, "msg": {}}', "tracking")]:
        answer = server.post(f"/webhooks/{service}", body, signed(service, body))
        assert answer.status_code == 400
        assert problem in answer.json()["error"]
    assert handler.pushes == []


def test_a_failing_handler_is_503_so_the_service_retries_and_nothing_secret_is_logged(server, handler, caplog):
    handler.failing = True
    with caplog.at_level(logging.INFO, logger="bot.web.tracking_webhooks"):
        answer = server.post("/webhooks/aftership", AFTERSHIP_PUSH, signed("aftership", AFTERSHIP_PUSH))
        refused = server.post("/webhooks/17track", UPDATED_PUSH, {"sign": "0" * 64})
    assert answer.status_code == 503
    assert refused.status_code == 401
    assert "RuntimeError" in caplog.text
    for private in (AFTERSHIP_SECRET, TRACK17_KEY, "the store is down", "Delivery attempted", "Held by customs"):
        assert private not in caplog.text
