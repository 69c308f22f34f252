"""Offering the fixes as buttons and understanding the shopper's pick (actions/fixes.py carries it out).

Buttons carry ``/inform{"fix":"refund"}`` so they work on every channel; a shopper who types instead
("refund please", "yes", "no thanks") is understood too.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.backend_guard import guard_backend
from actions.fixes import carry_out
from bot import remedies

logger = logging.getLogger(__name__)

_INTENT_FIXES = {"request_refund": remedies.REFUND, "human_handoff": remedies.PERSON, "deny": remedies.NONE}


def chosen_fix(tracker: Tracker, offered: List[str]) -> Optional[str]:
    """The offered fix the latest message picks, or None when it picks none of them."""
    message = tracker.latest_message or {}
    for entity in message.get("entities") or []:
        if entity.get("entity") == "fix" and entity.get("value") in offered:
            return entity["value"]
    text = (message.get("text") or "").strip()
    if text.startswith("/") and "{" in text:  # a button payload typed or relayed verbatim
        try:
            value = json.loads(text[text.index("{"):]).get("fix")
        except (ValueError, AttributeError):
            value = None
        if value in offered:
            return value
    if text.isdigit() and 1 <= int(text) <= len(offered):  # "2" for the second button on text-only channels
        return offered[int(text) - 1]
    intent = (message.get("intent") or {}).get("name")
    fix = _INTENT_FIXES.get(intent)
    # "no" always declines and "a person, please" always hands over, whatever was offered
    if fix in offered or fix in (remedies.NONE, remedies.PERSON):
        return fix
    if intent == "affirm":
        real = [f for f in offered if f != remedies.NONE]
        if len(real) == 1:
            return real[0]
    return None


class ValidateResolutionForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_resolution_form"

    def validate_fix(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: DomainDict) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != "fix":
            return {"fix": None}  # the form is just starting: the offer has not been shown yet
        offered = tracker.get_slot("offered_fixes") or []
        fix = chosen_fix(tracker, offered)
        if fix is None:
            dispatcher.utter_message(response="utter_invalid_fix")
        return {"fix": fix}


class ActionAskFix(Action):
    def name(self) -> Text:
        return "action_ask_fix"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
                  ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response=tracker.get_slot("offer") or "utter_ask_fix_refund_reship")
        return []


class ActionCarryOutFix(Action):
    """Does what the shopper chose and confirms it with a case reference."""

    def name(self) -> Text:
        return "action_carry_out_fix"

    @guard_backend
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
                  ) -> List[Dict[Text, Any]]:
        return carry_out(tracker.get_slot("fix"), dispatcher, tracker)
