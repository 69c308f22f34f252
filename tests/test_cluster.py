"""Porter on the real engines, as `make run-cluster` runs it: PostgreSQL, Redis, HAProxy, 2 Rasa replicas and 2
action servers, started once for this module (about a minute and a half). Select these with ``-m cluster``.

What several replicas must not break: one conversation's turns on alternate replicas (its tracker in
PostgreSQL), a burst of one conversation's messages on both at once (Rasa's lock store in Redis), an agent's
reply pushed through the replica that does not hold the shopper's socket (the widget rooms in Redis), a
socket's requests through the balancer (sticky), and a replica killed in the middle of a run of conversations.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

import pytest
import requests

from bot.paths import PROJECT_ROOT
from tests.support.widget_client import WidgetClient, texts

pytestmark = pytest.mark.cluster

STALLED = [
    ("hi", "Porter"),
    ("my parcel never arrived", "order number"),
    ("A10024", "email address"),
    ("james.miller@example.com", "no new scan"),
    ('/inform{"fix":"refund"}', "PC-"),
]


def _user_texts(tracker: dict) -> List[str]:
    return [event.get("text") for event in tracker["events"] if event["event"] == "user"]


def _turns_whole(tracker: dict) -> bool:
    """Every user message was answered and listened after before the next one came in: no two turns mixed."""
    listening = True
    for event in tracker["events"]:
        if event["event"] == "user":
            if not listening:
                return False
            listening = False
        elif event["event"] == "action" and event.get("name") == "action_listen":
            listening = True
    return listening


def _said(answer: requests.Response) -> str:
    answer.raise_for_status()
    return "\n".join(message.get("text") or "" for message in answer.json())


def test_turns_sent_alternately_to_the_two_replicas_keep_their_order(porter_cluster):
    conversation = "alternating"
    for turn, (message, expected) in enumerate(STALLED):
        replica = porter_cluster.replicas[turn % 2]
        assert expected in _said(porter_cluster.say(conversation, message, base=replica)), (turn, message)
    tracker = porter_cluster.tracker(f"rest:{conversation}")
    assert _user_texts(tracker) == [message for message, _ in STALLED]
    assert _turns_whole(tracker)
    assert tracker["slots"]["verified_order"] == "A10024"
    cases = subprocess.run(
        [sys.executable, "-m", "bot", "cases", "list", "--format", "json", "--order", "A10024"],
        cwd=PROJECT_ROOT,
        env=dict(porter_cluster.env, PORTER_DATABASE_URL=porter_cluster.database_url),
        capture_output=True,
        text=True,
        check=True,
    )
    refunds = [case for case in json.loads(cases.stdout) if case["type"] == "refund"]
    assert [case["conversation_id"] for case in refunds] == [f"rest:{conversation}"]


def test_a_burst_of_one_conversations_messages_on_both_replicas_loses_none(porter_cluster):
    conversation = "burst"
    _said(porter_cluster.say(conversation, "hi"))
    burst = ["thanks", "are you a bot?", "hello", "ok thank you", "who are you?", "thank you so much"]
    with ThreadPoolExecutor(len(burst)) as pool:
        answers = list(
            pool.map(
                lambda n: porter_cluster.say(conversation, burst[n], porter_cluster.replicas[n % 2]), range(len(burst))
            )
        )
    assert all(_said(answer) for answer in answers)
    tracker = porter_cluster.tracker(f"rest:{conversation}")
    said = _user_texts(tracker)
    assert said[0] == "hi" and sorted(said[1:]) == sorted(burst)
    assert _turns_whole(tracker)


def test_an_agents_reply_through_one_replica_reaches_a_widget_on_the_other(porter_cluster):
    from bot.channels.widget_sessions import conversation_of

    async def run() -> List[str]:
        widget = WidgetClient(porter_cluster.replicas[1])
        handle = await widget.open()
        assert "Porter" in texts(await widget.say("hi"))
        conversation = conversation_of(handle, porter_cluster.env["PORTER_IDENTITY_SECRET"])
        before = len(widget.received)
        pushed = await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: requests.post(
                f"{porter_cluster.replicas[0]}/conversations/{conversation}/tracker/events",
                params={"output_channel": "latest", "execute_side_effects": "true", "token": porter_cluster.token},
                json=[{"event": "bot", "text": "Hello, this is Maria from the shop."}],
                timeout=60,
            ),
        )
        pushed.raise_for_status()
        deadline = asyncio.get_running_loop().time() + 30
        while len(widget.received) == before and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        await widget.close()
        return [message.get("text") for message in widget.received[before:]]

    assert asyncio.run(run()) == ["Hello, this is Maria from the shop."]


def test_a_widgets_requests_through_the_balancer_stay_on_its_replica(porter_cluster):
    handshake = requests.get(
        f"{porter_cluster.balancer}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=30
    )
    handshake.raise_for_status()
    sid, replica = handshake.cookies["io"], handshake.headers["X-Porter-Replica"]
    assert porter_cluster.stuck_to(sid) == replica
    answers = [
        requests.post(
            f"{porter_cluster.balancer}/socket.io/",
            data="40",
            params={"EIO": "4", "transport": "polling", "sid": sid},
            timeout=30,
        )
    ]
    # the socket's CONNECT answer; later polls would wait for the server's ping, and then want a pong
    answers.append(
        requests.get(
            f"{porter_cluster.balancer}/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid}, timeout=60
        )
    )
    assert [(a.status_code, a.headers["X-Porter-Replica"]) for a in answers] == [(200, replica)] * len(answers)

    async def converse() -> str:
        widget = WidgetClient(porter_cluster.balancer)
        await widget.open()
        said = [texts(await widget.say(message)) for message in ("hi", "my parcel never arrived", "A10023")]
        await widget.close()
        return "\n".join(said)

    said = asyncio.run(converse())
    assert "Porter" in said and "order number" in said and "email address" in said


def test_a_replica_killed_in_the_middle_of_a_run_loses_no_conversation(porter_cluster):
    conversations = [f"run-{n}" for n in range(8)]
    answered_by: Dict[str, int] = {}
    lock = threading.Lock()
    a_third = threading.Event()

    def turn(conversation: str, message: str, done: int) -> None:
        """Sends one message; when the answer is lost with its replica, reads the conversation to tell a turn
        Rasa handled from one it never saw, and sends only the latter again (as the desk does)."""
        while True:
            try:
                answer = porter_cluster.say(conversation, message)
                if answer.status_code == 200:
                    with lock:
                        replica = answer.headers["X-Porter-Replica"]
                        answered_by[replica] = answered_by.get(replica, 0) + 1
                        if sum(answered_by.values()) >= len(conversations) * 4 // 3:
                            a_third.set()
                    return
                assert answer.status_code in (502, 503), answer.text
            except requests.ConnectionError:
                pass
            if len(_user_texts(porter_cluster.tracker(f"rest:{conversation}"))) == done + 1:
                return

    def talk(conversation: str) -> None:
        for done, (message, _) in enumerate(STALLED[:4]):
            turn(conversation, message, done)

    with ThreadPoolExecutor(len(conversations)) as pool:
        running = [pool.submit(talk, conversation) for conversation in conversations]
        assert a_third.wait(timeout=600)
        porter_cluster.signal("rasa-1", signal.SIGKILL)
        with lock:
            before_kill = dict(answered_by)
        for future in running:
            future.result()
    for conversation in conversations:
        tracker = porter_cluster.tracker(f"rest:{conversation}")
        assert _user_texts(tracker) == [message for message, _ in STALLED[:4]], conversation
        assert _turns_whole(tracker), conversation
        assert tracker["slots"]["verified_order"] == "A10024", conversation
    assert answered_by.get("rasa-2", 0) > before_kill.get("rasa-2", 0)  # the run went on through the other
    assert "[cluster] rasa-1 stopped (exit code -9)" in porter_cluster.log.read_text()
    assert "[cluster] rasa/rasa-1 taken out of the load balancer" in porter_cluster.log.read_text()
    porter_cluster.wait_for_server("rasa/rasa-1", "UP", timeout=300)  # started again, and back in rotation
    assert "[cluster] rasa/rasa-1 answers again; back in the load balancer" in porter_cluster.log.read_text()


LOST = [("my parcel never arrived", "order number"), ("A10029", "email address")]


def test_sixty_four_clicks_on_refund_over_both_action_servers_make_one_refund(porter_cluster):
    """16 conversations verified for one lost order, each clicking "refund" 4 times, all at once: the clicks
    reach both Rasa replicas and both action servers, and the order is refunded exactly once."""
    conversations = [f"clicks-{n}" for n in range(16)]

    def offered(conversation: str) -> None:
        for message, expected in LOST:
            assert expected in _said(porter_cluster.say(conversation, message))
        answer = porter_cluster.say(conversation, "diego.hernandez@example.mx")
        answer.raise_for_status()
        payloads = [button["payload"] for message in answer.json() for button in message.get("buttons") or []]
        assert any('"refund"' in payload for payload in payloads), payloads

    with ThreadPoolExecutor(len(conversations)) as pool:
        list(pool.map(offered, conversations))
    log_before = len(porter_cluster.log.read_text())
    clicks = [(conversations[n % 16], porter_cluster.replicas[n % 2]) for n in range(64)]
    with ThreadPoolExecutor(len(clicks)) as pool:
        answers = list(
            pool.map(lambda click: porter_cluster.say(click[0], '/inform{"fix":"refund"}', click[1]), clicks)
        )
    assert all(_said(answer) for answer in answers)  # every click answered
    cases = subprocess.run(
        [sys.executable, "-m", "bot", "cases", "list", "--format", "json", "--order", "A10029"],
        cwd=PROJECT_ROOT,
        env=dict(porter_cluster.env, PORTER_DATABASE_URL=porter_cluster.database_url),
        capture_output=True,
        text=True,
        check=True,
    )
    assert [case["type"] for case in json.loads(cases.stdout)].count("refund") == 1
    served = porter_cluster.log.read_text()[log_before:]
    assert "actions/actions-1 200 POST /webhook" in served and "actions/actions-2 200 POST /webhook" in served


def test_postgresql_restarted_in_the_middle_of_a_conversation(porter_cluster):
    """PostgreSQL stops (fast shutdown) between two turns and the cluster starts it again: the shopper waits a
    little or is asked to send the message again, never left without an answer, and then goes on where they
    were."""
    conversation = "restart"
    assert "order number" in _said(porter_cluster.say(conversation, "my parcel never arrived"))
    porter_cluster.signal("postgres", signal.SIGINT)
    said = _said(porter_cluster.say(conversation, "A10023"))
    assert "email address" in said or "send it again" in said, said
    if "send it again" in said:
        porter_cluster.wait_until_restarted("postgres")
        assert "email address" in _said(porter_cluster.say(conversation, "A10023"))
    assert "on its way" in _said(porter_cluster.say(conversation, "ana.souza@example.com"))
    tracker = porter_cluster.tracker(f"rest:{conversation}")
    assert _user_texts(tracker)[-2:] == ["A10023", "ana.souza@example.com"]
    assert _turns_whole(tracker) and tracker["slots"]["verified_order"] == "A10023"
