"""Messages Porter did not understand: ask to rephrase once, then offer a person.

Consecutive misunderstandings are counted from the conversation itself (the run of low-confidence
messages at its end), so no counter can go stale between topics.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.languages import native_list, supported_languages

FALLBACK_INTENT = "nlu_fallback"


def misunderstood_in_a_row(tracker: Tracker) -> int:
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data", {}).get("intent") or {}).get("name") != FALLBACK_INTENT:
            break
        count += 1
    return count


class ActionHandleFallback(Action):
    def name(self) -> Text:
        return "action_handle_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
                  ) -> List[Dict[Text, Any]]:
        language = next((e for e in (tracker.latest_message or {}).get("entities") or []
                         if e.get("entity") == "language"), {})
        if language.get("role") == "requested":
            dispatcher.utter_message(response="utter_language_switched")
            return [SlotSet("person_offered", False)]
        written_in = language.get("value")
        if written_in and written_in not in supported_languages():
            dispatcher.utter_message(response="utter_unsupported_language", languages=native_list())
            return [SlotSet("person_offered", False)]
        if misunderstood_in_a_row(tracker) >= 2:
            dispatcher.utter_message(response="utter_offer_person")
            return [SlotSet("person_offered", True)]
        dispatcher.utter_message(response="utter_rephrase")
        return [SlotSet("person_offered", False)]
