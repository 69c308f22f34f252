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
