"""A new session keeps only what is not a secret: the shopper's language.

Who the shopper is must be proved again in every session (the order lookup asks, or a channel's signed
identity vouches afresh): a verified order, an order number or an email never carry over.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.languages import supported_languages

CARRIED_OVER = ("language",)


class ActionSessionStart(Action):
    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        events: List[Dict[Text, Any]] = [SessionStarted()]
        events += [SlotSet(name, tracker.get_slot(name)) for name in CARRIED_OVER if tracker.get_slot(name)]
        hint = _language_hint(tracker)
        if hint and not tracker.get_slot("language"):
            events.append(SlotSet("language", hint))
        return events + [ActionExecuted("action_listen")]


def _language_hint(tracker: Tracker) -> Optional[str]:
    """The channel's idea of the shopper's language (widget locale, Telegram language_code). Metadata is
    whatever the client sent: anything that is not an object is ignored."""
    supported = set(supported_languages())
    sources = [tracker.get_slot("session_started_metadata")]
    sources += [event.get("metadata") for event in reversed(tracker.events)]
    for metadata in sources:
        if not isinstance(metadata, dict):
            continue
        for key in ("locale", "language", "language_code"):
            value = metadata.get(key)
            code = value[:2].lower() if isinstance(value, str) else ""
            if code in supported:
                return code
    return None
