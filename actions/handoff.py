"""Handing a conversation to a person: a handoff case for the record, a ticket in the agents' queue with
everything they need to not ask again, and the conversation paused so Porter stays silent while a person
owns it (the agent desk resumes it with "hand back to Porter")."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.cases import Case
from bot.handoff.tickets import Ticket, TicketStore

TRANSCRIPT_LIMIT = 200  # messages kept on the ticket; the full history stays in the tracker store


def transcript(tracker: Tracker) -> List[Dict[str, Any]]:
    """What was said so far, shopper and Porter, for the agent to read instead of asking again."""
    lines = []
    for event in tracker.events:
        if event.get("event") in ("user", "bot") and (event.get("text") or "").strip():
            lines.append({"who": "shopper" if event["event"] == "user" else "bot", "text": event["text"],
                          "at": event.get("timestamp")})
    return lines[-TRANSCRIPT_LIMIT:]


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


def open_ticket(tracker: Tracker, reason: str, case: Case) -> Ticket:
    ticket, _ = TicketStore().open_ticket(
        conversation_id=tracker.sender_id, reason=reason, channel=tracker.get_latest_input_channel(),
        language=tracker.get_slot("language") or "en", order_number=tracker.get_slot("verified_order"),
        problem=tracker.get_slot("problem"), situation=tracker.get_slot("situation"),
        offered=list(tracker.get_slot("offered_fixes") or []), case_reference=case.reference,
        transcript=transcript(tracker))
    return ticket


def hand_over(tracker: Tracker, dispatcher: CollectingDispatcher, reason: str,
              response: str = "utter_handoff_requested", **values: Any) -> List[Dict[Text, Any]]:
    """Records the handoff, tells the shopper, queues the conversation and pauses Porter."""
    case = open_handoff(tracker, reason)
    open_ticket(tracker, reason, case)
    dispatcher.utter_message(response=response, case_reference=case.reference, **values)
    return [SlotSet("case_reference", case.reference), ConversationPaused()]


class ActionRequestHandoff(Action):
    def name(self) -> Text:
        return "action_request_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
                  ) -> List[Dict[Text, Any]]:
        return [ActiveLoop(None), SlotSet("requested_slot", None)] + hand_over(tracker, dispatcher, "shopper_asked")
