"""The WhatsApp Cloud API channel as Meta sees it: signed notifications posted to the running Porter's webhook,
replies read from what Porter sent to the Graph API (a local Recorder standing in for graph.facebook.com).

The live tests need the trained model, like every test using the `porter` fixture (conftest.py). The 24-hour
window and the undelivered list are tested on their own with a real SQLite file and a set clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from bot.channels import identity
from bot.channels.whatsapp import WhatsAppInput, WhatsAppSettings
from bot.channels.whatsapp_sender import GraphApi, WhatsAppOutput
from bot.channels.whatsapp_window import ConversationWindow, UndeliveredMessages
from bot.paths import PROJECT_ROOT
from bot.photos import PhotoStore
from tests.support.images import png
from tests.support.porter_server import (
    IDENTITY_SECRET,
    TOKEN,
    WHATSAPP_ACCESS_TOKEN,
    WHATSAPP_APP_SECRET,
    WHATSAPP_PHONE_NUMBER_ID,
    WHATSAPP_VERIFY_TOKEN,
    free_port,
    saved_user_events,
    start_porter,
)

WEBHOOK = "/webhooks/whatsapp/webhook"
SENDS = f"/graph/{WHATSAPP_PHONE_NUMBER_ID}/messages"
REFUND, RESHIP = '/inform{"fix":"refund"}', '/inform{"fix":"reship"}'

_wamids = itertools.count(random.randint(10_000_000, 90_000_000))
_out_ids = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def graph_api(remote_api):
    """The Graph API accepts every message, as it does for a number inside the 24-hour window."""
    remote_api.route(
        "/graph",
        lambda request: (
            200,
            {"messaging_product": "whatsapp", "contacts": [], "messages": [{"id": f"wamid.OUT{next(_out_ids)}"}]},
        ),
    )
    return remote_api


# --- what Meta posts -------------------------------------------------------------------------------------


def message(wa_id: str, kind: str = "text", wamid: str | None = None, **content) -> dict:
    found = {"from": wa_id, "id": wamid or f"wamid.IN{next(_wamids)}", "timestamp": str(int(time.time())), "type": kind}
    if kind == "text":
        found["text"] = {"body": content["body"]}
    else:
        found[kind] = content
    return found


def notification(*messages: dict, statuses=None, phone_number_id: str = WHATSAPP_PHONE_NUMBER_ID) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Shopper"}, "wa_id": messages[0].get("from")}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": value}]}],
    }


def signature(body: bytes, secret: str = WHATSAPP_APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(porter, payload, sign: str | None = "valid") -> requests.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if sign == "valid":
        headers["X-Hub-Signature-256"] = signature(body)
    elif sign is not None:
        headers["X-Hub-Signature-256"] = sign
    return requests.post(porter.base + WEBHOOK, data=body, headers=headers, timeout=30)


def say(porter, wa_id: str, text: str) -> None:
    answer = post(porter, notification(message(wa_id, body=text)))
    assert answer.status_code == 200, answer.text


# --- what Porter sent to the Graph API -------------------------------------------------------------------


def sent_to(remote_api, wa_id: str, since: float = 0.0) -> list[dict]:
    return [r.json for r in remote_api.received(SENDS, since) if r.json.get("to") == wa_id]


def words(sent: dict) -> str:
    """What the shopper reads in one message."""
    if sent["type"] == "text":
        return sent["text"]["body"]
    return sent.get("interactive", {}).get("body", {}).get("text", "")


def wait_for(remote_api, wa_id: str, since: float, done, timeout: float = 60.0) -> list[dict]:
    """Messages sent to wa_id since `since`, once `done(them)` holds; the channel answers in the background."""
    deadline = time.monotonic() + timeout
    while True:
        found = sent_to(remote_api, wa_id, since)
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"Porter did not send the expected reply to {wa_id}; it sent: {found}")
        time.sleep(0.1)


def saying(fragment: str):
    return lambda found: any(fragment in words(m) for m in found)


def with_buttons(found) -> bool:
    return any(m["type"] == "interactive" for m in found)


def conversation(wa_id: str) -> str:
    return f"whatsapp:{wa_id}"


def user_events(porter, wa_id: str, count: int) -> list[dict]:
    """The shopper's messages Rasa saved, once there are ``count`` (tests/support/porter_server.py)."""
    return saved_user_events(porter, conversation(wa_id), count)


# --- the live channel ------------------------------------------------------------------------------------


def test_meta_verification_handshake_answers_the_challenge_only_with_our_token(porter):
    def handshake(**params):
        return requests.get(porter.base + WEBHOOK, params=params, timeout=30)

    ok = handshake(
        **{"hub.mode": "subscribe", "hub.verify_token": WHATSAPP_VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert ok.headers["content-type"].startswith("text/plain")
    for refused in (
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "42"},
        {"hub.mode": "subscribe", "hub.challenge": "42"},
        {"hub.mode": "unsubscribe", "hub.verify_token": WHATSAPP_VERIFY_TOKEN, "hub.challenge": "42"},
    ):
        answer = handshake(**refused)
        assert answer.status_code == 403 and "42" not in answer.text


def test_a_signed_text_message_is_answered_on_whatsapp(porter, remote_api):
    wa_id, since = "447700900001", time.time()
    answer = post(porter, notification(message(wa_id, body="hi")))
    assert answer.status_code == 200 and answer.json()["accepted"] == 1

    [greeting] = wait_for(remote_api, wa_id, since, saying("Porter"))
    assert greeting["type"] == "text" and greeting["text"]["body"].startswith("Hi, I'm Porter")
    [request] = [r for r in remote_api.received(SENDS, since) if r.json.get("to") == wa_id]
    assert request.method == "POST" and request.headers["authorization"] == f"Bearer {WHATSAPP_ACCESS_TOKEN}"
    # the bot saw the message in the number's WhatsApp conversation, the number vouched for by our signature
    # for that conversation only
    [event] = user_events(porter, wa_id, 1)
    assert event["text"] == "hi" and event["input_channel"] == "whatsapp"
    assert identity.trusted(event["metadata"], conversation(wa_id), secret=IDENTITY_SECRET) == {"phone": "+" + wa_id}
    assert identity.trusted(event["metadata"], wa_id, secret=IDENTITY_SECRET) == {}
    assert identity.trusted(event["metadata"], f"rest:{wa_id}", secret=IDENTITY_SECRET) == {}


def test_unsigned_or_wrongly_signed_notifications_are_refused_and_not_read(porter, remote_api):
    wa_id, since = "447700900002", time.time()
    payload = notification(message(wa_id, body="my parcel never arrived"))
    body = json.dumps(payload).encode()
    for sign in (
        None,
        signature(body, "not-the-app-secret"),
        signature(body + b" "),
        "sha256=",
        signature(body)[len("sha256=") :],
        "sha256=zz" + signature(body)[9:],
    ):
        answer = post(porter, body, sign=sign)
        assert answer.status_code == 403, sign
        assert "X-Hub-Signature-256" in answer.json()["error"]

    say(porter, wa_id, "hi")  # the only message Porter may answer
    found = wait_for(remote_api, wa_id, since, saying("Porter"))
    assert len(found) == 1 and not any("order number" in words(m) for m in found)
    assert [e["text"] for e in user_events(porter, wa_id, 1)] == ["hi"]


def test_a_resent_message_is_answered_once(porter, remote_api):
    wa_id, since = "447700900003", time.time()
    resent = notification(message(wa_id, body="hi"))
    assert post(porter, resent).json()["accepted"] == 1
    assert post(porter, resent).json()["accepted"] == 0  # Meta retried: same wamid

    say(porter, wa_id, "thanks")
    found = wait_for(remote_api, wa_id, since, saying("welcome"))
    assert len([m for m in found if "Porter" in words(m)]) == 1
    assert [e["text"] for e in user_events(porter, wa_id, 2)] == ["hi", "thanks"]


def test_delivery_receipts_and_messages_for_another_number_get_no_reply(porter, remote_api):
    wa_id, since = "447700900004", time.time()
    receipts = [
        {"id": f"wamid.OUT{n}", "status": status, "timestamp": str(int(time.time())), "recipient_id": wa_id}
        for n, status in ((1, "sent"), (1, "delivered"), (1, "read"))
    ]
    answer = post(porter, notification(statuses=receipts))
    assert answer.status_code == 200 and answer.json()["accepted"] == 0
    other_number = post(
        porter, notification(message(wa_id, body="my parcel never arrived"), phone_number_id="999888777")
    )
    assert other_number.status_code == 200 and other_number.json()["accepted"] == 0

    say(porter, wa_id, "hi")
    found = wait_for(remote_api, wa_id, since, saying("Porter"))
    assert len(found) == 1
    assert [e["text"] for e in user_events(porter, wa_id, 1)] == ["hi"]


def test_malformed_notifications_get_400_and_the_server_keeps_answering(porter, remote_api):
    wa_id, since = "447700900005", time.time()
    valid = message(wa_id, body="my parcel never arrived")
    wrong_body = dict(message(wa_id, body="x"), text={"body": 42})
    no_sender = {k: v for k, v in message(wa_id, body="where is my order").items() if k != "from"}
    malformed = {
        "not JSON": b"{'entry': oops",
        "not JSON ": b"\xff\xfe\x00garbage",
        "JSON object": b"[1, 2]",
        "entry": {"object": "whatsapp_business_account"},
        "entry must be a list": {"object": "whatsapp_business_account", "entry": {"changes": []}},
        "entry[0] must be a JSON object": {"entry": ["hello"]},
        "changes[0].value must be a JSON object": {"entry": [{"changes": [{"field": "messages", "value": []}]}]},
        "text.body must be a non-empty string": notification(valid, wrong_body),
        ".from must be a non-empty string": notification(no_sender),
    }
    for expected, payload in malformed.items():
        answer = post(porter, payload)
        assert answer.status_code == 400, (expected, answer.status_code, answer.text)
        assert expected.strip() in answer.json()["error"], answer.json()

    say(porter, wa_id, "hi")
    found = wait_for(remote_api, wa_id, since, saying("Porter"))
    assert len(found) == 1  # the valid message inside a refused notification was not read either
    assert [e["text"] for e in user_events(porter, wa_id, 1)] == ["hi"]
    assert (
        requests.get(
            porter.base + WEBHOOK,
            timeout=30,
            params={"hub.mode": "subscribe", "hub.verify_token": WHATSAPP_VERIFY_TOKEN, "hub.challenge": "7"},
        ).text
        == "7"
    )


def test_the_demo_refund_offer_arrives_as_reply_buttons_whose_ids_are_the_payloads(porter, remote_api):
    wa_id = "447700900006"  # not the phone on order A10024: the email is asked for
    since = time.time()
    say(porter, wa_id, "my parcel never arrived")
    answered = time.time()
    asked = wait_for(remote_api, wa_id, since, saying("order number"))
    # Meta got its 200 before the bot had worked out a reply: the message is handled in the background
    assert all(r.at > answered for r in remote_api.received(SENDS, since) if r.json.get("to") == wa_id), asked
    since = time.time()
    say(porter, wa_id, "A10024")
    wait_for(remote_api, wa_id, since, saying("email"))
    since = time.time()
    say(porter, wa_id, "james.miller@example.com")
    found = wait_for(remote_api, wa_id, since, with_buttons)

    assert any("12 days" in words(m) and "Los Angeles, US: in transit" in words(m) for m in found)
    [offer] = [m for m in found if m["type"] == "interactive"]
    assert offer["interactive"]["type"] == "button"
    assert offer["interactive"]["body"]["text"] == "Which would you prefer?"
    replies = [b["reply"] for b in offer["interactive"]["action"]["buttons"]]
    assert [r["id"] for r in replies] == [REFUND, RESHIP]
    assert [r["title"] for r in replies] == ["Full refund", "Send a new one free"]


def test_a_tapped_reply_button_is_carried_out(porter, remote_api):
    # Zhang Min's number in the demo shop: the signed wa_id verifies order 123456791 without asking the email
    wa_id, since = "61412345678", time.time()
    say(porter, wa_id, "where is my order")
    wait_for(remote_api, wa_id, since, saying("order number"))
    since = time.time()
    say(porter, wa_id, "123456791")
    found = wait_for(remote_api, wa_id, since, with_buttons)
    assert not any("email" in words(m) for m in found)
    assert any("on its way with Australia Post" in words(m) for m in found)
    [offer] = [m for m in found if m["type"] == "interactive"]
    ids = {b["reply"]["title"]: b["reply"]["id"] for b in offer["interactive"]["action"]["buttons"]}

    since = time.time()
    tap = message(
        wa_id,
        "interactive",
        type="button_reply",
        button_reply={"id": ids["Yes, let me know"], "title": "Yes, let me know"},
    )
    assert post(porter, notification(tap)).status_code == 200
    done = wait_for(remote_api, wa_id, since, saying("when Australia Post scans the parcel again"))
    reference = next(words(m) for m in done if "scans the parcel again" in words(m)).split()[-1].rstrip(".")
    cases = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bot", "cases", "list", "--format", "json"],
            cwd=PROJECT_ROOT,
            env=porter.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    [alert] = [c for c in cases if c["reference"] == reference]
    assert (alert["type"], alert["order_number"], alert["conversation_id"]) == (
        "scan_alert",
        "123456791",
        conversation(wa_id),
    )


def test_a_photo_reaches_the_bot_as_its_caption_with_the_media_id(porter, remote_api):
    wa_id, since = "447700900007", time.time()
    photo = message(
        wa_id, "image", id="MEDIA-778899", mime_type="image/jpeg", sha256="abc", caption="my parcel arrived damaged"
    )
    assert post(porter, notification(photo)).status_code == 200
    wait_for(remote_api, wa_id, since, saying("order number"))  # a damaged item: Porter looks up the order
    [event] = user_events(porter, wa_id, 1)
    assert event["text"] == "my parcel arrived damaged"
    assert event["metadata"]["attachments"] == [
        {"type": "image", "channel": "whatsapp", "id": "MEDIA-778899", "mime_type": "image/jpeg"}
    ]

    # a list row tapped later comes back as its id, like a button
    since = time.time()
    row = message(wa_id, "interactive", type="list_reply", list_reply={"id": "/human_handoff", "title": "Yes"})
    assert post(porter, notification(row)).status_code == 200
    wait_for(remote_api, wa_id, since, saying("reference"))
    assert user_events(porter, wa_id, 2)[-1]["text"] == "/human_handoff"

    # a photo without a caption, in a conversation of its own (the one above is now with a person, paused)
    other, since = "447700900017", time.time()
    assert post(porter, notification(message(other, "image", id="MEDIA-2", mime_type="image/png"))).status_code == 200
    wait_for(remote_api, other, since, lambda found: len(found) >= 1)
    assert user_events(porter, other, 1)[-1]["text"] == "[image]"


def test_a_photo_of_a_damaged_item_is_kept_on_the_replacement_case(porter, remote_api):
    # Olivia Brown's number verifies A10025 (her mug set); the photo she sends is the evidence on the case
    wa_id, since = "447700900123", time.time()
    say(porter, wa_id, "hi, my mug set arrived broken")
    wait_for(remote_api, wa_id, since, saying("order number"))
    since = time.time()
    say(porter, wa_id, "A10025")
    wait_for(remote_api, wa_id, since, saying("photo"))
    since = time.time()
    # the Graph API gives the media's short-lived URL, fetched with the same token: Porter keeps it for the agents
    media_url = f"{remote_api.url}/graph-media/MUGS-1"
    remote_api.route("/graph/MEDIA-MUGS-1", lambda r: (200, {"url": media_url, "mime_type": "image/jpeg"}))
    remote_api.route("/graph-media/MUGS-1", lambda r: (200, png(64, 48)))
    photo = message(wa_id, "image", id="MEDIA-MUGS-1", mime_type="image/jpeg", caption="the box was crushed")
    assert post(porter, notification(photo)).status_code == 200
    [offer] = [m for m in wait_for(remote_api, wa_id, since, with_buttons) if m["type"] == "interactive"]
    ids = {b["reply"]["title"]: b["reply"]["id"] for b in offer["interactive"]["action"]["buttons"]}
    assert list(ids) == ["Send a new one", "Partial refund", "Full refund"]

    since = time.time()
    tap = message(
        wa_id, "interactive", type="button_reply", button_reply={"id": ids["Send a new one"], "title": "Send a new one"}
    )
    assert post(porter, notification(tap)).status_code == 200
    wait_for(remote_api, wa_id, since, saying("a new one is on its way"))
    cases = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bot", "cases", "list", "--format", "json", "--order", "A10025"],
            cwd=PROJECT_ROOT,
            env=porter.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    [replacement] = [c for c in cases if c["type"] == "reshipment"]
    assert replacement["details"]["photo"] == "whatsapp:MEDIA-MUGS-1"
    assert replacement["details"]["photo_caption"] == "the box was crushed"
    assert replacement["conversation_id"] == conversation(wa_id)
    [kept] = PhotoStore(Path(porter.env["PORTER_SHOP_DB"])).in_conversation(conversation(wa_id))
    assert (kept.source, kept.content_type, kept.size) == ("whatsapp", "image/png", len(png(64, 48)))
    [download] = remote_api.received("/graph-media/MUGS-1")
    assert download.headers["authorization"] == "Bearer " + WHATSAPP_ACCESS_TOKEN


def test_a_voice_note_gets_a_short_notice_in_the_shoppers_language(porter, remote_api):
    wa_id, since = "447700900008", time.time()
    voice = message(wa_id, "audio", id="MEDIA-VOICE", mime_type="audio/ogg; codecs=opus", voice=True)
    assert post(porter, notification(voice)).status_code == 200
    [notice] = wait_for(remote_api, wa_id, since, saying("only read text messages and photos"))
    assert notice["type"] == "text"
    assert user_events(porter, wa_id, 0) == []  # the bot never saw it

    chinese, since = "8613800000009", time.time()
    say(porter, chinese, "你好")
    wait_for(remote_api, chinese, since, saying("Porter"))
    since = time.time()
    sticker = message(chinese, "sticker", id="MEDIA-S", mime_type="image/webp", animated=False)
    assert post(porter, notification(sticker)).status_code == 200
    wait_for(remote_api, chinese, since, saying("只能读取文字消息和图片"))


def test_porter_can_write_to_a_whatsapp_shopper_outside_a_user_turn(porter, remote_api):
    wa_id, since = "447700900010", time.time()
    say(porter, wa_id, "hi")
    wait_for(remote_api, wa_id, since, saying("Porter"))
    since = time.time()
    pushed = requests.post(
        f"{porter.base}/conversations/{conversation(wa_id)}/execute",
        params={"token": TOKEN, "output_channel": "latest"},
        json={"name": "utter_anything_else"},
        timeout=60,
    )
    assert pushed.status_code == 200, pushed.text
    wait_for(remote_api, wa_id, since, saying("anything else"))


def test_no_other_channel_can_write_into_a_whatsapp_conversation_or_to_the_number(porter, remote_api):
    wa_id, since = "447700900019", time.time()
    say(porter, wa_id, "hi")
    wait_for(remote_api, wa_id, since, saying("Porter"))
    # a REST caller naming the shopper's digits as its sender gets a conversation of its own...
    rest = requests.post(f"{porter.base}/webhooks/rest/webhook", json={"sender": wa_id, "message": "hi"}, timeout=60)
    assert "Porter" in rest.json()[0]["text"]
    assert [e["text"] for e in user_events(porter, wa_id, 1)] == ["hi"]
    # ...and even a reply pushed from it through the WhatsApp output never reaches the number
    since = time.time()
    pushed = requests.post(
        f"{porter.base}/conversations/rest:{wa_id}/execute",
        params={"token": TOKEN, "output_channel": "whatsapp"},
        json={"name": "utter_anything_else"},
        timeout=60,
    )
    assert pushed.status_code == 200, pushed.text
    kept = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bot", "channels", "undelivered", "--format", "json"],
            cwd=PROJECT_ROOT,
            env=porter.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert [(k["recipient"], k["reason"]) for k in kept if k["recipient"] == f"rest:{wa_id}"] == [
        (f"rest:{wa_id}", "not a WhatsApp conversation: refused")
    ]
    assert sent_to(remote_api, wa_id, since) == []


def test_a_message_over_the_limit_gets_a_notice_in_its_language_and_never_reaches_rasa(porter, remote_api):
    wa_id, since = "447700900020", time.time()
    say(porter, wa_id, "посылка " * 700)  # 6,300 characters of Russian
    [notice] = wait_for(remote_api, wa_id, since, saying("слишком длинное"))
    assert notice["type"] == "text" and "4 000" in notice["text"]["body"]
    assert user_events(porter, wa_id, 0) == []
    # control characters are cleaned from what Rasa reads
    since = time.time()
    say(porter, wa_id, "h\u0000i\u0007")
    wait_for(remote_api, wa_id, since, saying("Porter"))
    assert [e["text"] for e in user_events(porter, wa_id, 1)] == ["hi"]


@pytest.mark.live
def test_without_settings_rasa_starts_and_the_webhook_answers_503(tmp_path):
    unset = {
        name: ""
        for name in (
            "WHATSAPP_VERIFY_TOKEN",
            "WHATSAPP_APP_SECRET",
            "WHATSAPP_ACCESS_TOKEN",
            "WHATSAPP_PHONE_NUMBER_ID",
        )
    }
    own = start_porter(tmp_path, extra_env=unset)
    try:
        base = own.base
        for answer in (
            requests.get(base + WEBHOOK, timeout=30, params={"hub.mode": "subscribe"}),
            requests.post(base + WEBHOOK, data=b"{}", timeout=30),
        ):
            assert answer.status_code == 503
            assert "not configured" in answer.json()["error"]
            assert "WHATSAPP_APP_SECRET" in answer.json()["missing"]
        greeting = requests.post(
            f"{base}/webhooks/rest/webhook", json={"sender": "rest-1", "message": "hi"}, timeout=60
        ).json()
        assert "Porter" in greeting[0]["text"]
        log = own.log.read_text(errors="replace")
        assert log.count("WhatsApp channel is not configured") == 1
    finally:
        own.stop()


def test_the_signed_number_is_attached_only_when_porter_has_an_identity_secret(monkeypatch):
    from bot.channels.whatsapp import message_metadata
    from bot.channels.whatsapp_payload import parse_notification

    photo = message("447700900016", "image", id="MEDIA-9", mime_type="image/jpeg")
    [inbound] = parse_notification(json.dumps(notification(photo)).encode(), WHATSAPP_PHONE_NUMBER_ID)
    monkeypatch.delenv("PORTER_IDENTITY_SECRET", raising=False)
    assert message_metadata(inbound, "whatsapp:447700900016") == {
        "attachments": [{"type": "image", "channel": "whatsapp", "id": "MEDIA-9", "mime_type": "image/jpeg"}]
    }
    monkeypatch.setenv("PORTER_IDENTITY_SECRET", IDENTITY_SECRET)
    signed = message_metadata(inbound, "whatsapp:447700900016")
    assert identity.trusted(signed, "whatsapp:447700900016") == {"phone": "+447700900016"}
    assert identity.trusted(signed, "whatsapp:447700900099") == {}  # not another conversation's


# --- the 24-hour window and the undelivered list, on a real SQLite file ------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


HOUR = 3600.0
T0 = 1_800_000_000.0


def test_the_window_closes_24_hours_after_the_shoppers_last_message(tmp_path):
    clock = Clock(T0)
    window = ConversationWindow(tmp_path / "channels.db", clock=clock)
    assert "never written" in window.closed_because("447700900011")

    window.record_inbound("447700900011", at=T0)
    clock.now = T0 + 24 * HOUR - 1
    assert window.is_open("447700900011")
    clock.now = T0 + 24 * HOUR
    assert not window.is_open("447700900011") and "24 hours" in window.closed_because("447700900011")

    window.record_inbound("447700900011", at=T0 + 23 * HOUR)  # a late resend of an older message
    assert window.is_open("447700900011")
    window.record_inbound("447700900011", at=T0 + 2 * HOUR)  # never moves the last message back
    assert window.last_inbound("447700900011") == T0 + 23 * HOUR
    window.record_inbound("447700900012", at=T0 + 1000 * HOUR)  # a clock ahead of ours counts as now
    assert window.last_inbound("447700900012") == clock.now
    # another process reading the same file sees the same window
    assert ConversationWindow(tmp_path / "channels.db", clock=clock).is_open("447700900011")


def _output(tmp_path, clock, api_base: str) -> WhatsAppOutput:
    db = tmp_path / "channels.db"
    return WhatsAppOutput(
        GraphApi(api_base, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_ACCESS_TOKEN),
        ConversationWindow(db, clock=clock),
        UndeliveredMessages(db, clock=clock),
    )


def _undelivered_cli(tmp_path, *args) -> str:
    env = dict(os.environ, PORTER_SHOP_DB=str(tmp_path / "channels.db"), PORTER_VAR_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "bot", "channels", "undelivered", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_a_reply_after_the_window_closed_is_kept_for_an_operator_not_sent(tmp_path, remote_api, caplog):
    wa_id, since = "447700900013", time.time()
    clock = Clock(T0)
    output = _output(tmp_path, clock, f"{remote_api.url}/graph")
    output.window.record_inbound(wa_id, at=T0)
    clock.now = T0 + 25 * HOUR

    with caplog.at_level(logging.INFO):
        asyncio.run(
            output.send_text_with_buttons(
                conversation(wa_id),
                "Which would you prefer?",
                [{"title": "Full refund", "payload": REFUND}, {"title": "Send a new one free", "payload": RESHIP}],
            )
        )
    assert sent_to(remote_api, wa_id, since) == []
    [kept] = UndeliveredMessages(tmp_path / "channels.db").list()
    assert (kept.channel, kept.recipient) == ("whatsapp", wa_id)
    assert kept.text == "Which would you prefer? [Full refund] [Send a new one free]"
    assert "24-hour window" in kept.reason and kept.created_at.startswith("2027-01-16T")
    assert "***13" in caplog.text and wa_id not in caplog.text

    table = _undelivered_cli(tmp_path)
    assert "***13" in table and wa_id not in table and "Which would you prefer?" in table and "24-hour" in table
    [listed] = json.loads(_undelivered_cli(tmp_path, "--format", "json"))
    assert (listed["recipient"], listed["text"]) == (wa_id, kept.text)

    # an approved template is what Meta accepts after the window: it goes out
    template = {"type": "template", "template": {"name": "order_update", "language": {"code": "en"}}}
    asyncio.run(output.send_custom_json(conversation(wa_id), template))
    [sent] = sent_to(remote_api, wa_id, since)
    assert sent["type"] == "template" and sent["template"]["name"] == "order_update"
    assert len(UndeliveredMessages(tmp_path / "channels.db").list()) == 1


def test_a_reply_inside_the_window_is_sent_even_outside_a_user_turn(tmp_path, remote_api, monkeypatch):
    wa_id, since = "447700900014", time.time()
    monkeypatch.setenv("PORTER_SHOP_DB", str(tmp_path / "channels.db"))
    settings = WhatsAppSettings.from_env(
        {
            "WHATSAPP_VERIFY_TOKEN": "v",
            "WHATSAPP_APP_SECRET": "s",
            "WHATSAPP_ACCESS_TOKEN": WHATSAPP_ACCESS_TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": WHATSAPP_PHONE_NUMBER_ID,
            "WHATSAPP_API_BASE": f"{remote_api.url}/graph",
        }
    )
    output = WhatsAppInput(settings).get_output_channel()  # what an agent desk would use
    output.window.record_inbound(wa_id, at=time.time() - 23 * HOUR)

    asyncio.run(output.send_text_message(conversation(wa_id), "Hello, this is Sam from the shop."))
    asyncio.run(output.send_image_url(conversation(wa_id), "https://shop.example/label.png"))
    four = [{"title": f"Pick-up point number {n} in town", "payload": f'/choose{{"point":{n}}}'} for n in range(4)]
    asyncio.run(output.send_text_with_buttons(conversation(wa_id), "Where should we send it?", four))

    text, image, choice = sent_to(remote_api, wa_id, since)
    assert text["text"]["body"] == "Hello, this is Sam from the shop."
    assert image["image"] == {"link": "https://shop.example/label.png"}
    assert choice["interactive"]["type"] == "list"  # more than 3 choices
    rows = choice["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [b["payload"] for b in four]
    assert all(len(r["title"]) <= 24 for r in rows) and rows[0]["description"] == four[0]["title"]
    assert UndeliveredMessages(tmp_path / "channels.db").list() == []


def test_the_output_refuses_conversations_of_other_channels_and_keeps_them_for_an_operator(
    tmp_path, remote_api, caplog
):
    wa_id, since = "447700900021", time.time()
    output = _output(tmp_path, Clock(time.time()), f"{remote_api.url}/graph")
    output.window.record_inbound(wa_id)
    with caplog.at_level(logging.INFO):
        for recipient in (f"telegram:{wa_id}", f"rest:{wa_id}", wa_id, "whatsapp:", "whatsapp:../v1/other"):
            asyncio.run(output.send_text_message(recipient, "Your refund is done."))
        template = {"type": "template", "template": {"name": "order_update", "language": {"code": "en"}}}
        asyncio.run(output.send_custom_json(f"web:{wa_id}", template))
    assert remote_api.received(SENDS, since) == []
    kept = UndeliveredMessages(tmp_path / "channels.db").list()
    assert [k.recipient for k in kept] == [
        f"telegram:{wa_id}",
        f"rest:{wa_id}",
        wa_id,
        "whatsapp:",
        "whatsapp:../v1/other",
        f"web:{wa_id}",
    ]
    assert {k.reason for k in kept} == {"not a WhatsApp conversation: refused"}
    assert "refused a text message addressed to a telegram conversation" in caplog.text and wa_id not in caplog.text


def test_a_refused_or_failed_send_is_recorded_without_secrets_in_the_logs(tmp_path, remote_api, caplog):
    wa_id, clock = "447700900015", Clock(time.time())
    remote_api.route(
        "/meta-down",
        lambda request: (
            401,
            {"error": {"code": 190, "message": f"Invalid OAuth access token {WHATSAPP_ACCESS_TOKEN} for +{wa_id}"}},
        ),
    )
    refused = _output(tmp_path, clock, f"{remote_api.url}/meta-down")
    refused.window.record_inbound(wa_id)
    unreachable = _output(tmp_path, clock, f"http://127.0.0.1:{free_port()}")

    with caplog.at_level(logging.INFO):
        asyncio.run(refused.send_text_message(conversation(wa_id), "Your refund is done."))
        asyncio.run(unreachable.send_text_message(conversation(wa_id), "Anything else?"))
    first, second = UndeliveredMessages(tmp_path / "channels.db").list()
    assert first.text == "Your refund is done." and "401" in first.reason and "190" in first.reason
    assert second.text == "Anything else?" and "could not be reached" in second.reason
    for written in (caplog.text, first.reason):
        assert WHATSAPP_ACCESS_TOKEN not in written and wa_id not in written
