"""A new session keeps what the shopper should not have to repeat: their language and verified order."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

CARRIED_OVER = ("language", "order_number", "email", "verified_order")


class ActionSessionStart(Action):
    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
                  ) -> List[Dict[Text, Any]]:
        events: List[Dict[Text, Any]] = [SessionStarted()]
        events += [SlotSet(name, tracker.get_slot(name)) for name in CARRIED_OVER if tracker.get_slot(name)]
        hint = _language_hint(tracker)
        if hint and not tracker.get_slot("language"):
            events.append(SlotSet("language", hint))
        return events + [ActionExecuted("action_listen")]


def _language_hint(tracker: Tracker) -> str | None:
    """The channel's idea of the shopper's language (widget locale, Telegram language_code)."""
    supported = {"en", "zh", "es", "fr", "de", "ru", "pt"}
    sources = [tracker.get_slot("session_started_metadata") or {}]
    sources += [event.get("metadata") or {} for event in reversed(tracker.events)]
    for metadata in sources:
        for key in ("locale", "language", "language_code"):
            value = str(metadata.get(key) or "")[:2].lower()
            if value in supported:
                return value
    return None
