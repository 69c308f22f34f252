"""The Telegram channel as Telegram sees it: updates posted to the running Porter's webhook, replies read from
what Porter sent to the Bot API (a local Recorder standing in for api.telegram.org).

Needs the trained model, like every test using the `porter` fixture (conftest.py).
"""

from __future__ import annotations

import itertools
import json
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from bot.photos import PhotoStore
from tests.support.images import png
from tests.support.porter_server import (
    TELEGRAM_BOT_TOKEN,
    TELEGRAM_WEBHOOK_SECRET,
    TOKEN,
    channel_env,
    saved_user_events,
    start_porter,
)

API = f"/telegram/bot{TELEGRAM_BOT_TOKEN}"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_URL = channel_env("http://unused")["TELEGRAM_WEBHOOK_URL"]
# sendMessage to this chat fails with an error that quotes the token and an email, as proxies sometimes do
FAILING_CHAT = 990001
FAILURE_BODY = f"gateway error on POST /bot{TELEGRAM_BOT_TOKEN}/sendMessage for james.miller@example.com".encode()

_update_ids = itertools.count(random.randint(10_000_000, 90_000_000))
_chat_ids = itertools.count(random.randint(100_000, 900_000))


def _send_message(request):
    body = request.json
    if str(body.get("chat_id")) == str(FAILING_CHAT):
        return 502, FAILURE_BODY
    chat = {"id": int(body["chat_id"]), "type": "private"}
    return 200, {
        "ok": True,
        "result": {
            "message_id": random.randint(1, 10**6),
            "date": int(time.time()),
            "chat": chat,
            "text": body.get("text", ""),
        },
    }


@pytest.fixture(scope="session", autouse=True)
def telegram_api(remote_api):
    """Bot API answers shaped like Telegram's; session-scoped autouse so they exist before Porter starts."""
    remote_api.route(f"{API}/sendMessage", _send_message)
    remote_api.route(
        f"{API}/setWebhook", lambda _: (200, {"ok": True, "result": True, "description": "Webhook was set"})
    )
    remote_api.route(f"{API}/answerCallbackQuery", lambda _: (200, {"ok": True, "result": True}))
    return remote_api


def new_chat() -> int:
    return next(_chat_ids)


def message_update(chat: int, language_code: str = "en", **message) -> dict:
    sender = {"id": chat, "is_bot": False, "first_name": "Sam", "language_code": language_code}
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": random.randint(1, 10**6),
            "date": int(time.time()),
            "from": sender,
            "chat": {"id": chat, "type": "private", "first_name": "Sam"},
            **message,
        },
    }


def text_update(chat: int, text: str, language_code: str = "en") -> dict:
    return message_update(chat, language_code, text=text)


def button_update(chat: int, data: str) -> dict:
    sender = {"id": chat, "is_bot": False, "first_name": "Sam", "language_code": "en"}
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": f"cq-{random.randint(1, 10**9)}",
            "from": sender,
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": 7,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "text": "Which would...",
            },
        },
    }


def post(porter, body, secret: str | None = TELEGRAM_WEBHOOK_SECRET) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(f"{porter.base}/webhooks/telegram/webhook", data=data, headers=headers, timeout=60)


def sent(remote_api, chat: int, since: float) -> list[dict]:
    """The sendMessage calls Porter made to this chat since `since`, as form fields."""
    return [r.json for r in remote_api.received(f"{API}/sendMessage", since) if r.json.get("chat_id") == str(chat)]


def say(porter, remote_api, update: dict) -> list[dict]:
    """Posts an update and returns the replies it produced (the webhook answers after the turn is done)."""
    chat = (update.get("message") or update.get("callback_query", {}).get("message"))["chat"]["id"]
    since = time.time()
    answer = post(porter, update)
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 10
    while not sent(remote_api, chat, since) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # a turn may send several messages
    return sent(remote_api, chat, since)


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def keyboard(reply: dict) -> list[dict]:
    return [button for row in json.loads(reply["reply_markup"])["inline_keyboard"] for button in row]


def tracker(porter, chat: int) -> dict:
    answer = requests.get(f"{porter.base}/conversations/telegram:{chat}/tracker", params={"token": TOKEN}, timeout=30)
    answer.raise_for_status()
    return answer.json()


def user_events(porter, chat: int, count: int) -> list[dict]:
    """The shopper's messages Rasa saved, once there are ``count`` (tests/support/porter_server.py)."""
    return saved_user_events(porter, f"telegram:{chat}", count)


def test_a_text_message_is_answered_in_the_same_chat(porter, remote_api):
    chat = new_chat()
    replies = say(porter, remote_api, text_update(chat, "hi"))
    assert replies, "Porter sent nothing back"
    assert all(r["chat_id"] == str(chat) for r in replies)
    assert "I'm Porter" in texts(replies)
    [event] = user_events(porter, chat, 1)  # filed under the chat's Telegram conversation
    assert (event["text"], event["input_channel"]) == ("hi", "telegram")


def test_no_other_channel_can_write_into_a_telegram_chat(porter, remote_api):
    chat = new_chat()
    say(porter, remote_api, text_update(chat, "hi"))
    rest = requests.post(
        f"{porter.base}/webhooks/rest/webhook", json={"sender": str(chat), "message": "hello"}, timeout=60
    )
    assert "I'm Porter" in rest.json()[0]["text"]
    assert [e["text"] for e in user_events(porter, chat, 1)] == ["hi"]
    since = time.time()
    pushed = requests.post(
        f"{porter.base}/conversations/rest:{chat}/execute",
        params={"token": TOKEN, "output_channel": "telegram"},
        json={"name": "utter_anything_else"},
        timeout=60,
    )
    assert pushed.status_code == 200, pushed.text
    assert sent(remote_api, chat, since) == []  # /execute answers once the action's messages went out
    assert "refused a Telegram message addressed to a rest conversation" in porter.log.read_text(errors="replace")


def test_a_message_over_the_limit_gets_a_notice_in_its_language_and_never_reaches_rasa(porter, remote_api):
    chat = new_chat()
    notice = texts(say(porter, remote_api, text_update(chat, "mon colis n'est jamais arrivé " * 200, "fr")))
    assert "Désolé, votre message est trop long" in notice and "4 000" in notice
    assert user_events(porter, chat, 0) == []
    assert "Bonjour" in texts(say(porter, remote_api, text_update(chat, "bon\u0000jour\u0007", "fr")))
    assert [e["text"] for e in user_events(porter, chat, 1)] == ["bonjour"]


def test_choices_arrive_as_an_inline_keyboard(porter, remote_api):
    chat = new_chat()
    assert "order number" in texts(say(porter, remote_api, text_update(chat, "my parcel never arrived")))
    assert "email" in texts(say(porter, remote_api, text_update(chat, "A10024")))
    replies = say(porter, remote_api, text_update(chat, "james.miller@example.com"))
    assert "12 days" in texts(replies)
    [with_buttons] = [r for r in replies if "reply_markup" in r]
    assert [(b["text"], b["callback_data"]) for b in keyboard(with_buttons)] == [
        ("Full refund", '/inform{"fix":"refund"}'),
        ("Send a new one free", '/inform{"fix":"reship"}'),
    ]


def test_pressing_a_button_carries_out_the_choice(porter, remote_api, undo_cases):
    chat = new_chat()
    undo_cases.append(f"telegram:{chat}")
    say(porter, remote_api, text_update(chat, "my parcel never arrived"))
    say(porter, remote_api, text_update(chat, "123456790"))
    replies = say(porter, remote_api, text_update(chat, "li.wei@example.com"))
    [with_buttons] = [r for r in replies if "reply_markup" in r]
    refund = next(b for b in keyboard(with_buttons) if b["text"] == "Full refund")

    since = time.time()
    press = button_update(chat, refund["callback_data"])
    done = texts(say(porter, remote_api, press))
    assert "refunded $32.00" in done and "PC-" in done
    # the button's spinner is stopped
    [ack] = [
        r.json
        for r in remote_api.received(f"{API}/answerCallbackQuery", since)
        if r.json.get("callback_query_id") == press["callback_query"]["id"]
    ]
    assert ack


def test_updates_without_the_right_secret_are_refused_and_not_processed(porter, remote_api):
    chat = new_chat()
    update = text_update(chat, "hi")
    since = time.time()
    missing = post(porter, update, secret=None)
    wrong = post(porter, update, secret=TELEGRAM_WEBHOOK_SECRET + "x")
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert SECRET_HEADER in wrong.json()["error"]
    time.sleep(1)
    assert sent(remote_api, chat, since) == []
    # the refused attempts used up nothing: Telegram's own delivery of the same update is answered
    assert "I'm Porter" in texts(say(porter, remote_api, update))


def test_a_repeated_update_is_answered_once(porter, remote_api):
    chat = new_chat()
    update = text_update(chat, "hi")
    since = time.time()
    first, again = post(porter, update), post(porter, update)
    assert (first.status_code, again.status_code) == (200, 200)  # 200 so Telegram stops resending
    assert (first.json(), again.json()) == ({"status": "ok"}, {"status": "duplicate"})
    time.sleep(1)
    assert len(sent(remote_api, chat, since)) == 1
    assert [e["text"] for e in user_events(porter, chat, 1)] == ["hi"]


@pytest.mark.parametrize(
    "body",
    [
        b"this is not json",
        b"\xff\xfe not utf-8",
        b"",
        b"[1, 2, 3]",
        b'"a string"',
        b'{"message": {"chat": {"id": 1}, "text": "hi"}}',  # no update_id
        b'{"update_id": "seven", "message": {"chat": {"id": 1}, "text": "hi"}}',
        b'{"update_id": 1, "message": "hi"}',
        b'{"update_id": 1, "message": {"text": "hi"}}',  # no chat
        b'{"update_id": 1, "message": {"chat": {"id": "x"}, "text": "hi"}}',
        b'{"update_id": 1, "message": {"chat": {"id": 1}, "text": 42}}',
        b'{"update_id": 1, "callback_query": {"data": "/greet"}}',  # no id
        b'{"update_id": 1, "message": {"chat": {"id": 1}, "photo": "big"}}',
    ],
)
def test_malformed_updates_are_rejected_with_a_reason(porter, body):
    answer = post(porter, body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("not a Telegram update: ")


def test_porter_keeps_working_after_malformed_updates_and_ignores_stickers(porter, remote_api):
    for body in (b"{", b"null", b'{"update_id": 1, "message": {}}'):
        assert post(porter, body).status_code == 400
    chat = new_chat()
    since = time.time()
    sticker = message_update(chat, sticker={"file_id": "CAACAgIAAx", "emoji": "👍", "width": 512, "height": 512})
    assert post(porter, sticker).status_code == 200
    assert post(porter, {"update_id": next(_update_ids), "my_chat_member": {"chat": {"id": chat}}}).status_code == 200
    time.sleep(1)
    assert sent(remote_api, chat, since) == []
    assert "I'm Porter" in texts(say(porter, remote_api, text_update(chat, "hello")))


def test_a_one_word_greeting_is_answered_in_its_language_and_the_telegram_language_decides_the_rest(porter, remote_api):
    spanish, english_app, unclear = new_chat(), new_chat(), new_chat()
    assert "Hola, soy Porter" in texts(say(porter, remote_api, text_update(spanish, "hola", language_code="es")))
    assert tracker(porter, spanish)["slots"]["language"] == "es"
    # "hola" is clearly Spanish, whatever language the phone is set to
    assert "Hola, soy Porter" in texts(say(porter, remote_api, text_update(english_app, "hola", language_code="en")))
    # "hi" says nothing about the shopper's language: the app's language decides
    assert "Hola, soy Porter" in texts(say(porter, remote_api, text_update(unclear, "hi", language_code="es")))
    assert tracker(porter, unclear)["slots"]["language"] == "es"


def test_start_greets_the_shopper_in_their_language(porter, remote_api):
    chat = new_chat()
    assert "Bonjour, je suis Porter" in texts(say(porter, remote_api, text_update(chat, "/start", "fr")))


def test_a_photo_arrives_as_its_caption_with_the_largest_image_attached(porter, remote_api):
    photo = [
        {"file_id": "small-id", "file_unique_id": "s", "width": 90, "height": 67, "file_size": 1200},
        {"file_id": "large-id", "file_unique_id": "l", "width": 1280, "height": 960, "file_size": 98000},
        {"file_id": "medium-id", "file_unique_id": "m", "width": 320, "height": 240, "file_size": 14000},
    ]
    # the Bot API gives the largest photo's path (getFile), then its bytes: Porter keeps it for the agents
    remote_api.route(f"{API}/getFile", lambda r: (200, {"ok": True, "result": {"file_path": "photos/large.png"}}))
    remote_api.route(f"/telegram/file/bot{TELEGRAM_BOT_TOKEN}/photos/large.png", lambda r: (200, png(30, 20)))
    chat = new_chat()
    replies = say(porter, remote_api, message_update(chat, photo=photo, caption="my parcel never arrived"))
    assert "order number" in texts(replies)
    [event] = user_events(porter, chat, 1)
    assert event["text"] == "my parcel never arrived"
    [attachment] = event["metadata"]["attachments"]
    assert {key: attachment[key] for key in ("type", "channel", "id")} == {
        "type": "image",
        "channel": "telegram",
        "id": "large-id",
    }
    [kept] = PhotoStore(Path(porter.env["PORTER_SHOP_DB"])).in_conversation(f"telegram:{chat}")
    assert (kept.token, kept.source, kept.content_type) == (attachment["photo"], "telegram", "image/png")
    assert remote_api.received(f"{API}/getFile")[-1].query["file_id"] == ["large-id"]

    without_caption = new_chat()
    post(porter, message_update(without_caption, photo=photo))
    [event] = user_events(porter, without_caption, 1)
    assert event["text"] == "[image]" and event["metadata"]["attachments"][0]["id"] == "large-id"


def test_the_webhook_is_registered_with_the_secret(porter, remote_api):
    [at_startup, *_] = remote_api.wait_for(f"{API}/setWebhook", timeout=30)
    assert (at_startup.json["url"], at_startup.json["secret_token"]) == (WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET)
    assert "callback_query" in json.loads(at_startup.json["allowed_updates"])

    since = time.time()
    answer = requests.post(f"{porter.base}/webhooks/telegram/set_webhook", timeout=30)
    assert answer.status_code == 200 and answer.json()["ok"] is True
    [again] = remote_api.received(f"{API}/setWebhook", since)
    assert again.json["secret_token"] == TELEGRAM_WEBHOOK_SECRET


def test_a_refused_reply_is_logged_without_the_token_or_the_email(porter, remote_api):
    assert post(porter, text_update(FAILING_CHAT, "hi")).status_code == 200
    deadline = time.monotonic() + 10
    while "could not send a reply to Telegram chat" not in porter.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the failed reply was not logged"
        time.sleep(0.2)
    log = porter.log.read_text(errors="replace")
    assert TELEGRAM_BOT_TOKEN not in log
    assert "james.miller@example.com" not in log
    # the conversation goes on once Telegram accepts messages again
    chat = new_chat()
    assert "I'm Porter" in texts(say(porter, remote_api, text_update(chat, "hi")))


@pytest.fixture(scope="module")
def more_porters(tmp_path_factory):
    """Two more Porters, started side by side: one without a Telegram token, one whose Bot API address accepts
    connections but never answers (Telegram unreachable)."""
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(16)
    settings = {
        "no_token": {"TELEGRAM_BOT_TOKEN": "", "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_WEBHOOK_SECRET},
        "unreachable": {
            key: value
            for key, value in channel_env(f"http://127.0.0.1:{black_hole.getsockname()[1]}").items()
            if key.startswith("TELEGRAM_")
        },  # only Telegram may knock on the black hole
    }
    with ThreadPoolExecutor(2) as pool:
        futures = {
            name: pool.submit(start_porter, tmp_path_factory.mktemp(f"porter-{name}"), extra_env=env)
            for name, env in settings.items()
        }
        started, failures = {}, []
        for name, future in futures.items():
            try:
                started[name] = future.result()
            except RuntimeError as exc:
                failures.append(f"{name}: {exc}")
    try:
        if failures:
            pytest.fail("\n".join(failures))
        started["black_hole"] = black_hole
        yield started
    finally:
        for running in started.values():
            if not isinstance(running, socket.socket):
                running.stop()
        black_hole.close()


@pytest.mark.live
def test_without_a_token_porter_starts_and_the_telegram_webhook_says_why_it_is_off(more_porters):
    porter = more_porters["no_token"]
    answer = post(porter, text_update(new_chat(), "hi"))
    assert answer.status_code == 503
    assert "TELEGRAM_BOT_TOKEN is not set" in answer.json()["error"]
    rest = requests.post(f"{porter.base}/webhooks/rest/webhook", json={"sender": "no-tg", "message": "hi"}, timeout=60)
    assert "I'm Porter" in rest.json()[0]["text"]
    assert porter.log.read_text(errors="replace").count("Telegram channel disabled: TELEGRAM_BOT_TOKEN") == 1


@pytest.mark.live
def test_an_unreachable_telegram_does_not_hold_up_startup(more_porters):
    porter, black_hole = more_porters["unreachable"], more_porters["black_hole"]
    # Porter did try to register its webhook, and Telegram never answered...
    black_hole.settimeout(20)
    connection, _ = black_hole.accept()
    connection.close()
    # ...yet it serves shoppers, and its Telegram webhook is up and checking the secret
    rest = requests.post(
        f"{porter.base}/webhooks/rest/webhook", json={"sender": "tg-down", "message": "hi"}, timeout=60
    )
    assert "I'm Porter" in rest.json()[0]["text"]
    assert post(porter, text_update(new_chat(), "hi"), secret="wrong").status_code == 403
