"""Rasa's check of what the action server answers, compiled once by `python -m bot rasa` (bot/rasa_server.py):
a valid answer still passes and an invalid one is still refused with Rasa's own message, as before the change."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.rasa_server import validate_action_responses_once_compiled

VALID = {
    "events": [{"event": "slot", "name": "verified_order", "value": "A10024"}],
    "responses": [{"response": "utter_ask_email"}],
}
INVALID = {"events": [{"event": "slot", "name": 5}], "responses": []}


def _refusal(result) -> str:
    with pytest.raises(ValidationError) as refused:
        RemoteAction("action_lookup_order", None)._validate_action_result(result)
    return refused.value.message


def test_the_compiled_check_accepts_and_refuses_what_rasas_own_did(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    rasas_refusal = _refusal(INVALID)
    validate_action_responses_once_compiled()
    assert RemoteAction("action_lookup_order", None)._validate_action_result(VALID) is True
    assert _refusal(INVALID) == rasas_refusal
    assert "Failed to validate Action server response" in rasas_refusal


def test_events_read_back_as_the_same_kinds_as_rasas_own_lookup(monkeypatch):
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event, UserUttered

    from bot.rasa_server import find_event_types_by_name

    monkeypatch.setattr(Event, "resolve_by_type", Event.resolve_by_type)
    names = {cls.type_name for cls in rasa.shared.utils.common.all_subclasses(Event)}
    rasas = {name: Event.resolve_by_type(name) for name in names}
    find_event_types_by_name()
    assert {name: Event.resolve_by_type(name) for name in names} == rasas
    assert Event.resolve_by_type("no_such_event", UserUttered) is UserUttered
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")


def test_the_action_server_receives_the_conversation_rasa_sent(monkeypatch):
    """The body, the token and the headers reach a real HTTP server on localhost as Rasa's own session sent
    them; only the encoder differs."""
    import asyncio
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_server import encode_endpoint_requests_with_ujson

    received = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(
                (
                    self.path,
                    self.headers.get("Content-Type"),
                    json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                )
            )
            answer = json.dumps(VALID).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    body = {
        "next_action": "action_resolve_order",
        "sender_id": "rest:ana",
        "tracker": {
            "events": [
                {
                    "event": "user",
                    "text": "où est mon colis 包裹 A10023",
                    "timestamp": 1.2345678901,
                    "parse_data": {"intent": {"name": "where_is_my_order", "confidence": 0.93}},
                }
            ],
            "slots": {"email": None, "verified": False},
        },
    }
    monkeypatch.setattr(EndpointConfig, "session", EndpointConfig.session)
    try:
        encode_endpoint_requests_with_ujson()
        endpoint = EndpointConfig(f"http://127.0.0.1:{server.server_port}/webhook", token="s3cret")
        answer = asyncio.run(endpoint.request(json=body, method="post"))
    finally:
        server.shutdown()
    assert answer == VALID
    assert received == [("/webhook?token=s3cret", "application/json", body)]


def test_reading_a_conversation_waits_for_the_turn_in_progress(monkeypatch):
    """The tracker API (the desk, the widget's history) reads a conversation only once the turn holding its
    lock has finished: it then sees that turn's replies, and never starts a session beside it."""
    import asyncio
    from types import SimpleNamespace

    from rasa.core.lock_store import InMemoryLockStore
    from rasa.core.processor import MessageProcessor

    from bot.rasa_server import read_trackers_under_the_conversation_lock

    seen = []

    async def read(self, conversation_id, output_channel=None, metadata=None):
        seen.append(("read", conversation_id))
        return conversation_id

    monkeypatch.setattr(MessageProcessor, "fetch_full_tracker_with_initial_session", read)
    read_trackers_under_the_conversation_lock()
    processor = SimpleNamespace(lock_store=InMemoryLockStore())

    async def turn():
        async with processor.lock_store.lock("web:abc"):
            await asyncio.sleep(0.2)
            seen.append(("turn done", "web:abc"))

    async def both():
        running = asyncio.ensure_future(turn())
        await asyncio.sleep(0.05)  # the turn holds the lock
        got = await MessageProcessor.fetch_full_tracker_with_initial_session(processor, "web:abc")
        await running
        return got

    assert asyncio.run(both()) == "web:abc"
    assert seen == [("turn done", "web:abc"), ("read", "web:abc")]
