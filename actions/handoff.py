"""Handing a conversation to a person: a handoff case for the record, a ticket in the agents' queue with
everything they need to not ask again, and the conversation paused so Porter stays silent while a person
owns it (the agent desk resumes it with "hand back to Porter").

Every path to a person goes through ``hand_over``: it says why (the caller's reply, with the case reference),
then what happens next (bot/handoff/hours.py): the place in the queue and the expected wait, or, outside the
agents' hours or when they will not get to it before closing, when the team opens again. The conversation
stays queued either way.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import authorization, services
from bot import wording
from bot.decisions import cases as case_types
from bot.decisions.cases import Case
from bot.decisions import problems
from bot.handoff import hours, priority, reasons
from bot.handoff.tickets import Ticket, TicketStore
from bot.http_client import BackendUnavailable

TRANSCRIPT_LIMIT = 200  # messages kept on the ticket; the full history stays in the tracker store


def transcript(tracker: Tracker) -> List[Dict[str, Any]]:
    """What was said so far, shopper and Porter, for the agent to read instead of asking again."""
    lines = []
    for event in tracker.events:
        if event.get("event") in ("user", "bot") and (event.get("text") or "").strip():
            lines.append(
                {
                    "who": "shopper" if event["event"] == "user" else "bot",
                    "text": event["text"],
                    "at": event.get("timestamp"),
                }
            )
    return lines[-TRANSCRIPT_LIMIT:]


def anger_in(tracker: Tracker) -> Optional[str]:
    """The angry words of the latest message (the `anger` entity of bot/nlu/anger_gate.py), if any."""
    entities = (tracker.latest_message or {}).get("entities") or []
    return next((e.get("value") for e in entities if e.get("entity") == "anger"), None)


def _known(tracker: Tracker, slots: Optional[Dict[str, Any]], name: str) -> Any:
    """A slot as the calling action has just decided it (not yet on the tracker), else as the tracker has it."""
    if slots and name in slots:
        return slots[name]
    return tracker.get_slot(name)


def _verified_order(tracker: Tracker, slots: Optional[Dict[str, Any]]) -> Optional[str]:
    """The order this conversation proved it owns: as the calling action has just worked it out, else from
    the conversation's own events and the ledger (actions/authorization.py), never from the slot alone, so
    a made-up claim never puts a stranger's order number in front of an agent."""
    if slots and "verified_order" in slots:
        return slots["verified_order"]
    return authorization.verified_order(tracker)


def open_handoff(tracker: Tracker, reason: str, slots: Optional[Dict[str, Any]] = None) -> Case:
    """One open handoff request per conversation and reason; asking twice does not queue twice."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    details = {
        "reason": reason,
        "language": tracker.get_slot("language") or "en",
        "problem": _known(tracker, slots, "problem"),
        "situation": _known(tracker, slots, "situation"),
        "last_intent": intent,
    }
    anger = anger_in(tracker)
    if anger:
        details["anger"] = anger
    case, _ = services.cases().open_case(
        type=case_types.HANDOFF_REQUEST,
        idempotency_key=f"handoff:{tracker.sender_id}:{reason}",
        order_number=_verified_order(tracker, slots),
        conversation_id=tracker.sender_id,
        details=details,
    )
    return case


def open_ticket(tracker: Tracker, reason: str, case: Case, slots: Optional[Dict[str, Any]] = None) -> Ticket:
    """The conversation's ticket. Only an order this conversation verified (from its own events and the
    ledger, not the slot) is named on it and joins it to that order's open ticket: a claim must not put a
    stranger's conversation next to the shopper's, where an agent would take it for the shopper."""
    order = _verified_order(tracker, slots)
    store = TicketStore()
    urgent, shopper_name = _priority(tracker, reason, order, store)
    ticket, _ = store.open_ticket(
        conversation_id=tracker.sender_id,
        reason=reason,
        channel=tracker.get_latest_input_channel(),
        language=tracker.get_slot("language") or "en",
        order_number=order,
        problem=_known(tracker, slots, "problem"),
        situation=_known(tracker, slots, "situation"),
        offered=list(_known(tracker, slots, "offered_fixes") or []),
        case_reference=case.reference,
        transcript=transcript(tracker),
        verified_order=order,
        priority=urgent,
        shopper_name=shopper_name,
    )
    return ticket


def _priority(
    tracker: Tracker, reason: str, order_number: Optional[str], store: TicketStore
) -> Tuple[List[str], Optional[str]]:
    """(why this shopper goes first in the queue, their name from the verified order)."""
    urgent = []
    if reason == reasons.UPSET or anger_in(tracker):
        urgent.append(priority.ANGRY)
    order = None
    if order_number and reason != reasons.BACKEND_DOWN:  # not a second wait for a backend that just failed
        try:
            order = services.store().get(order_number)
        except BackendUnavailable:  # the handoff goes on; the agent reads the order in the desk
            order = None
    if order is not None and services.policy().needs_person(order.total, order.currency):
        urgent.append(priority.HIGH_VALUE)
    if reason == reasons.REPEAT_CONTACT or store.handed_over_before(tracker.sender_id, order_number):
        urgent.append(priority.REPEAT_CONTACT)
    return urgent, order.customer_name if order else None


def say_what_happens_next(dispatcher: CollectingDispatcher, tracker: Tracker, ticket: Ticket) -> None:
    """The place in the queue and the expected wait, or when the team opens again."""
    position = TicketStore().position(ticket.id)
    if position is None:
        return  # an agent already has the conversation
    language = wording.language_of(tracker)
    now = services.now()
    told = hours.availability(services.policy(), position, now)
    if told.kind == hours.QUEUE:
        dispatcher.utter_message(
            response="utter_handoff_queue", position=position, wait=wording.duration(told.wait, language)
        )
    elif told.kind == hours.CLOSING:
        dispatcher.utter_message(
            response="utter_handoff_queue_closing", position=position, opening=wording.moment(told.opening, language)
        )
    else:
        dispatcher.utter_message(response="utter_handoff_after_hours", opening=wording.moment(told.opening, language))


def hand_over(
    tracker: Tracker,
    dispatcher: CollectingDispatcher,
    reason: str,
    response: str = "utter_handoff_requested",
    slots: Optional[Dict[str, Any]] = None,
    **values: Any,
) -> List[Dict[Text, Any]]:
    """Records the handoff, tells the shopper why and what happens next, queues the conversation and pauses
    Porter. ``slots`` are values the calling action has just decided (problem, situation, offered_fixes,
    verified_order) and returns as events: the ticket gets them rather than the tracker's older ones."""
    case = open_handoff(tracker, reason, slots)
    ticket = open_ticket(tracker, reason, case, slots)
    dispatcher.utter_message(response=response, case_reference=case.reference, **values)
    say_what_happens_next(dispatcher, tracker, ticket)
    return [SlotSet("case_reference", case.reference), ConversationPaused()]


def _problem_from_ranking(tracker: Tracker) -> Optional[str]:
    """For an angry first message ("where is my f*** parcel"), what it was about: the best problem intent
    under the handoff the anger gate put on top, when the classifier was fairly sure of it."""
    for ranked in (tracker.latest_message or {}).get("intent_ranking") or []:
        if ranked.get("name") in problems.ALL and (ranked.get("confidence") or 0) >= 0.5:
            return ranked["name"]
    return None


class ActionRequestHandoff(Action):
    """The shopper asked for a person, or wrote with strong anger (the NLU's anger gate)."""

    def name(self) -> Text:
        return "action_request_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        leave_forms = [ActiveLoop(None), SlotSet("requested_slot", None)]
        if anger_in(tracker):
            slots = None
            if not tracker.get_slot("problem"):
                problem = _problem_from_ranking(tracker)
                slots = {"problem": problem} if problem else None
            return leave_forms + hand_over(
                tracker, dispatcher, reasons.UPSET, response="utter_upset_handoff", slots=slots
            )
        return leave_forms + hand_over(tracker, dispatcher, reasons.SHOPPER_ASKED)
