"""Leaving a form on the shopper's word ("stop", "cancel that"), cleanly: nothing half-asked stays behind."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

# Answers in progress; a verified order and the language stay, so the shopper need not repeat them.
IN_PROGRESS = (
    "requested_slot",
    "problem",
    "form_exit",
    "detail_needed",
    "photo",
    "photo_caption",
    "cancel_reason",
    "item_unused",
    "fix",
    "offered_fixes",
    "offer",
    "new_address",
    "address_confirmed",
    "next_step",
)


def stop(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
    dispatcher.utter_message(response="utter_form_stopped")
    events: List[Dict[Text, Any]] = [ActiveLoop(None)]
    events += [SlotSet(slot, None) for slot in IN_PROGRESS]
    if not tracker.get_slot("verified_order"):
        events += [SlotSet("order_number", None), SlotSet("email", None)]
    return events


class ActionStopForm(Action):
    """For forms whose answers are not free text (the details form): rules run this on "cancel that"."""

    def name(self) -> Text:
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return stop(dispatcher, tracker)
