"""Rasa's check of what the action server answers, compiled once by `python -m bot rasa` (bot/rasa_server.py):
a valid answer still passes and an invalid one is still refused with Rasa's own message, as before the change."""
from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.rasa_server import validate_action_responses_once_compiled

VALID = {"events": [{"event": "slot", "name": "verified_order", "value": "A10024"}],
         "responses": [{"response": "utter_ask_email"}]}
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
