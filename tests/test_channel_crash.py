"""No message is lost, and none answered twice, when Porter dies between receiving a message and replying.

The running Porter gets a WhatsApp message and a Telegram update while its action server is frozen (SIGSTOP), so
Rasa is in the middle of both turns: Meta already has its 200, Telegram is still waiting for an answer. Then
every Porter process is killed (SIGKILL: no handler runs) and Porter is started again on the same var folder
and ports. Telegram resends the update it never got an answer for. Each shopper must get Porter's greeting
exactly once, and each conversation must hold the message exactly once.

Meta and Telegram are stood in for by the local Recorder. Needs the trained model.
"""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.porter_server import TOKEN, connections_to, kill_hard, server_pid, start_porter
from tests.test_channel_telegram import API as TELEGRAM_API
from tests.test_channel_telegram import _send_message as telegram_send_message
from tests.test_channel_telegram import new_chat, text_update
from tests.test_channel_telegram import post as telegram_post
from tests.test_channel_telegram import sent as telegram_sent
from tests.test_channel_whatsapp import message as whatsapp_message
from tests.test_channel_whatsapp import notification, sent_to, words
from tests.test_channel_whatsapp import post as whatsapp_post

pytestmark = pytest.mark.live  # starts its own Porter

# A short lease, so the restarted Porter takes over the dead one's claims without waiting the default minute.
LEASE = {"PORTER_INBOX_LEASE_SECONDS": "3"}
HANG_GUARD = 120.0


@pytest.fixture(scope="module")
def remote(remote_api):
    remote_api.route(
        "/graph",
        lambda request: (
            200,
            {"messaging_product": "whatsapp", "contacts": [], "messages": [{"id": f"wamid.OUT{time.time_ns()}"}]},
        ),
    )
    remote_api.route(f"{TELEGRAM_API}/sendMessage", telegram_send_message)
    remote_api.route(f"{TELEGRAM_API}/setWebhook", lambda _: (200, {"ok": True, "result": True}))
    return remote_api


def all_handled(var) -> bool:
    """Every update in the inbox is handled: whatever Porter says about them is said."""
    with sqlite3.connect(var / "shop.db") as db:
        return db.execute("SELECT count(*) FROM inbox WHERE handled_at IS NULL").fetchone()[0] == 0


def until(condition, what: str):
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.2)


def user_texts(porter, conversation: str) -> list[str]:
    answer = requests.get(f"{porter.base}/conversations/{conversation}/tracker", params={"token": TOKEN}, timeout=30)
    answer.raise_for_status()
    return [e["text"] for e in answer.json()["events"] if e["event"] == "user"]


def test_a_porter_killed_mid_turn_answers_each_message_once_after_a_restart(tmp_path, remote):
    wa_id, chat = "4477009" + str(secrets.randbelow(90000) + 10000), new_chat()
    update = text_update(chat, "hi")
    since = time.time()
    first = start_porter(tmp_path, remote.url, LEASE)
    ports = {name: first.env[name] for name in ("RASA_PORT", "ACTION_PORT", "PORTER_WEB_PORT")}
    telegram = ThreadPoolExecutor(1)
    try:
        os.kill(server_pid(first, "bot actions"), signal.SIGSTOP)
        answer = whatsapp_post(first, notification(whatsapp_message(wa_id, body="hi")))
        assert answer.status_code == 200 and answer.json()["accepted"] == 1  # Meta is done with it
        unanswered = telegram.submit(telegram_post, first, update)  # Telegram waits for the turn
        # both turns are under way: Rasa is waiting on the frozen action server for each of them
        until(lambda: connections_to(int(ports["ACTION_PORT"])) >= 2, "Rasa to call the action server twice")
    finally:
        kill_hard(first)
    with pytest.raises(requests.ConnectionError):
        unanswered.result(timeout=60)  # no answer: Telegram will send the update again
    assert sent_to(remote, wa_id, since) == [] and telegram_sent(remote, chat, since) == []

    again = start_porter(tmp_path, remote.url, {**LEASE, **ports})
    try:
        resent = telegram_post(again, update)
        assert resent.status_code == 200, resent.text
        until(lambda: all_handled(tmp_path), "both messages to be handled")
        until(lambda: any("I'm Porter" in words(m) for m in sent_to(remote, wa_id, since)), "the WhatsApp reply")
        until(lambda: telegram_sent(remote, chat, since), "the Telegram reply")

        assert len(sent_to(remote, wa_id, since)) == 1 and len(telegram_sent(remote, chat, since)) == 1
        assert "I'm Porter" in telegram_sent(remote, chat, since)[0]["text"]
        assert user_texts(again, f"whatsapp:{wa_id}") == ["hi"]
        assert user_texts(again, f"telegram:{chat}") == ["hi"]
        # and Telegram's next resend of it, now handled, is a duplicate
        assert telegram_post(again, update).json() == {"status": "duplicate"}
        assert len(telegram_sent(remote, chat, since)) == 1
    finally:
        telegram.shutdown(wait=False)
        again.stop()
