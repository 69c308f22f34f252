"""Messages Porter did not understand: ask to rephrase once; the second time in a row, hand over to a person.

Consecutive misunderstandings are counted from the conversation itself (the run of low-confidence
messages at its end), so no counter can go stale between topics. A language request ("in English please") or
a message in a language Porter does not speak is answered, not misunderstood: it ends the run. So does a
handoff (pause) or a hand-back (resume): what the shopper wrote to the agent never counts against Porter.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import hand_over
from bot.handoff import reasons
from bot.languages import native_list, supported_languages

FALLBACK_INTENT = "nlu_fallback"
MISSES_BEFORE_A_PERSON = 2  # the playbook: "the assistant failed to understand twice"
RUN_BREAKERS = ("pause", "resume", "restart", "session_started")


def _language_entity(parse_data: Dict[str, Any]) -> Dict[str, Any]:
    return next((e for e in parse_data.get("entities") or [] if e.get("entity") == "language"), {})


def _answered_otherwise(parse_data: Dict[str, Any]) -> Optional[str]:
    """How a not-understood message is answered when it is not a misunderstanding: the language it asks
    for ("requested"), or a language Porter does not speak ("unsupported")."""
    language = _language_entity(parse_data)
    if language.get("role") == "requested":
        return "requested"
    if language.get("value") and language["value"] not in supported_languages():
        return "unsupported"
    return None


def misunderstood_in_a_row(tracker: Tracker) -> int:
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") in RUN_BREAKERS:
            break
        if event.get("event") != "user":
            continue
        parse_data = event.get("parse_data") or {}
        if (parse_data.get("intent") or {}).get("name") != FALLBACK_INTENT or _answered_otherwise(parse_data):
            break
        count += 1
    return count


class ActionHandleFallback(Action):
    def name(self) -> Text:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        latest = tracker.latest_message or {}
        answer = _answered_otherwise(latest)
        if answer == "requested":
            dispatcher.utter_message(response="utter_language_switched")
            return []
        if answer == "unsupported":
            dispatcher.utter_message(response="utter_unsupported_language", languages=native_list())
            return []
        if misunderstood_in_a_row(tracker) >= MISSES_BEFORE_A_PERSON:
            return [ActiveLoop(None), SlotSet("requested_slot", None)] + hand_over(
                tracker, dispatcher, reasons.NOT_UNDERSTOOD, response="utter_misunderstood_handoff"
            )
        dispatcher.utter_message(response="utter_rephrase")
        return []
