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


# Every kind of event the action server sends, filled the way it fills them; the agreement test below breaks each
# of their values in turn.
ANSWER = {
    "events": [
        {"event": "slot", "name": "verified_order", "value": "A10024", "timestamp": None},
        {"event": "slot", "name": "fixes", "value": [{"fix": "refund", "amount": 19.5}], "metadata": {}},
        {"event": "active_loop", "name": "fix_form"},
        {"event": "action", "name": "action_listen", "policy": None, "confidence": 1, "hide_rule_turn": False},
        {
            "event": "user",
            "text": "where is my parcel",
            "input_channel": "rest",
            "message_id": "m1",
            "parse_data": {
                "text": "where is my parcel",
                "intent": {"name": "where_is_my_order", "confidence": 0.93},
                "intent_ranking": [{"name": "where_is_my_order", "confidence": 0.93}],
                "entities": [
                    {"start": 0, "end": 6, "entity": "order", "value": "A1", "confidence": 1.0, "extractor": None}
                ],
                "response_selector": {"all_retrieval_intents": []},
            },
        },
        {"event": "entities", "entities": [{"entity": "email", "value": "a@b.c", "role": None, "group": None}]},
        {"event": "followup", "name": "action_ask_rating"},
        {"event": "reminder", "name": "rating", "intent": "EXTERNAL_ask_rating", "date_time": "2026-12-04"},
        {"event": "bot", "text": "Hello", "data": {"buttons": []}},
        {"event": "reset_slots"},
        {"event": "restart"},
    ],
    "responses": [{"response": "utter_ask_email", "language": "en"}, {"text": "Hi", "buttons": []}],
}
BROKEN_VALUES = (None, 0, 1.0, 2.5, -1, 2**70, float("nan"), "", "x", True, False, [], [1], {}, {"event": "x"})


def _broken(value):
    """``value`` with each of its parts, at any depth, replaced by every broken value or left out."""
    if isinstance(value, dict):
        for key in value:
            rest = {k: v for k, v in value.items() if k != key}
            yield rest
            for replacement in (*BROKEN_VALUES, *_broken(value[key])):
                yield {**value, key: replacement}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value[:index] + value[index + 1 :]
            for replacement in (*BROKEN_VALUES, *_broken(item)):
                yield value[:index] + [replacement] + value[index + 1 :]


def test_the_fast_check_and_jsonschema_agree_on_every_answer(monkeypatch):
    """The compiled jsonschema-rs check accepts exactly what jsonschema accepts: a valid answer, and none of the
    broken ones jsonschema refuses (each refused with jsonschema's own message)."""
    import json

    from jsonschema import validators
    from jsonschema.exceptions import best_match

    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    validate_action_responses_once_compiled()
    schema = RemoteAction.action_response_format_spec()
    jsonschemas = validators.validator_for(schema)(schema)  # what jsonschema.validate uses for this schema
    answers = [ANSWER, *_broken(ANSWER)]
    assert len(answers) > 1000
    accepted = refused = 0
    for answer in answers:
        error = best_match(jsonschemas.iter_errors(answer))
        if error is None:
            accepted += 1
            assert RemoteAction("action_lookup_order", None)._validate_action_result(answer) is True
        else:
            refused += 1
            assert error.message in _refusal(answer), json.dumps(answer, default=str)
    assert accepted > 100 and refused > 100


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


def test_the_action_server_receives_the_conversation_rasa_sent_on_one_connection(monkeypatch):
    """The body, the token and the headers reach a real HTTP server on localhost as Rasa's own session sent
    them; only the encoder differs, and the calls of one event loop share a connection instead of opening one
    each."""
    import asyncio
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_server import close_endpoint_connections, reuse_endpoint_connections_and_encode_with_ujson

    received, connections = [], []

    class Recorder(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps a connection open for the next request, as Sanic does

        def do_POST(self):
            connections.append(self.client_address)
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
    import rasa.core.run

    monkeypatch.setattr(EndpointConfig, "session", EndpointConfig.session)
    monkeypatch.setattr(rasa.core.run, "close_resources", rasa.core.run.close_resources)
    try:
        reuse_endpoint_connections_and_encode_with_ujson()
        endpoint = EndpointConfig(f"http://127.0.0.1:{server.server_port}/webhook", token="s3cret")

        async def three_calls():
            answers = [await endpoint.request(json=body, method="post") for _ in range(3)]
            await close_endpoint_connections()
            return answers

        answers = asyncio.run(three_calls())
    finally:
        server.shutdown()
        server.server_close()
    assert answers == [VALID] * 3
    assert received == [("/webhook?token=s3cret", "application/json", body)] * 3
    assert len(connections) == 3 and len(set(connections)) == 1


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
