"""Handing a conversation to a person. For now a handoff request is recorded as a case; the agent desk
(which pauses the bot and lets an agent reply on the shopper's channel) builds on these cases."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.cases import Case


def open_handoff(tracker: Tracker, reason: str) -> Case:
    """One open handoff request per conversation and reason; asking twice does not queue twice."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    case, _ = services.cases().open_case(
        type="handoff_request",
        idempotency_key=f"handoff:{tracker.sender_id}:{reason}",
        order_number=tracker.get_slot("verified_order"),
        conversation_id=tracker.sender_id,
        details={"reason": reason, "language": tracker.get_slot("language") or "en",
                 "problem": tracker.get_slot("problem"), "situation": tracker.get_slot("situation"),
                 "last_intent": intent},
    )
    return case


class ActionRequestHandoff(Action):
    def name(self) -> Text:
        return "action_request_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
                  ) -> List[Dict[Text, Any]]:
        case = open_handoff(tracker, reason="shopper_asked")
        dispatcher.utter_message(response="utter_handoff_requested", case_reference=case.reference)
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("case_reference", case.reference)]
