"""After verification: say what happened, with evidence, and offer what the policy allows.

The spoken part is chosen from the situation (bot.decisions.situations) and the offer from the policy
(bot.decisions.remedies); this module only connects them to replies and to the next step of the conversation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Dict, List, Optional, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import problem_replies, services
from bot import wording
from actions.authorization import record_offer, verified_order
from actions.backend_guard import guard_backend
from actions.form_control import stop
from actions.handoff import hand_over
from bot.decisions import cases, problems, remedies
from bot.decisions.policy import Policy
from bot.decisions import situations as s
from bot.handoff.contacts import ContactLog
from bot.handoff import reasons
from bot.shop.models import Order

logger = logging.getLogger(__name__)

OFFER_RESPONSES = {
    (remedies.REFUND, remedies.RESHIP): "utter_ask_fix_refund_reship",
    (remedies.REFUND,): "utter_ask_fix_refund",
    (remedies.NOTIFY, remedies.NONE): "utter_ask_fix_notify",
    (remedies.DISCOUNT, remedies.NONE): "utter_ask_fix_discount",
    (remedies.REPLACE, remedies.PARTIAL_REFUND, remedies.REFUND): "utter_ask_fix_item_problem",
    (remedies.CANCEL, remedies.NONE): "utter_ask_fix_cancel",
    (remedies.REFUSE, remedies.NONE): "utter_ask_fix_refuse",
    (remedies.PARTIAL_REFUND, remedies.RETURN, remedies.NONE): "utter_ask_fix_keep_or_return",
    (remedies.RETURN, remedies.NONE): "utter_ask_fix_return",
}
PERSON_OFFERS = {
    "customs": "utter_ask_fix_person_customs",
    "window_closed": "utter_ask_fix_person_exception",
    "condition": "utter_ask_fix_person_exception",
}

# An order gets money or goods once (bot/decisions/cases.py): when it already has a refund or reshipment, Porter says so
# and offers a person or nothing instead of a choice whose every button would answer "already done".
ALREADY_SETTLED = "already_settled"
ONCE_PER_ORDER_FIXES = remedies.MONEY_FIXES + (remedies.REFUSE, remedies.RETURN)  # refuse and return pay back too

CUSTOMS_RESPONSES = {
    "customs_duties_unpaid": "utter_situation_customs_duties",
    "customs_documents_required": "utter_situation_customs_documents",
}


def session_of(tracker: Tracker) -> str:
    """This conversation session, as the start time of its latest `session_started` event ("0" before any)."""
    started = next((e for e in reversed(tracker.events) if e.get("event") == "session_started"), None)
    return f"{started.get('timestamp') or 0:.3f}" if started else "0"


def raised_again(tracker: Tracker, order_number: str) -> bool:
    """Records this session as a contact about the order; True when it is the session's first look at the
    order and the order has now been raised on `repeat_contact_limit` different days (bot/handoff/contacts.py).
    Porter's own alert (an EXTERNAL_ intent, actions/outreach.py) is not the shopper raising the order."""
    if str((tracker.latest_message.get("intent") or {}).get("name") or "").startswith("EXTERNAL_"):
        return False
    policy = services.policy()
    now = services.now()
    day = now.astimezone(ZoneInfo(policy.agent_time_zone)).date()
    contact = ContactLog().record(order_number, tracker.sender_id, session_of(tracker), now, day)
    return contact.created and contact.days >= policy.repeat_contact_limit


def offer_response(remedy: remedies.Remedy, situation_kind: str) -> str:
    if remedy.fixes == (remedies.PERSON, remedies.NONE):
        if remedy.reason == ALREADY_SETTLED:
            return "utter_ask_fix_person_settled"
        if situation_kind == s.CUSTOMS_HOLD:
            return "utter_ask_fix_person_customs"
        return PERSON_OFFERS.get(remedy.reason, "utter_ask_fix_person_above_limit")
    return OFFER_RESPONSES[remedy.fixes]


def situation_reply(
    problem: str, order: Order, situation: s.Situation, remedy: remedies.Remedy, language: str
) -> tuple[str, Dict[str, Any]]:
    """(response name, placeholder values) that tell the shopper what happened."""
    policy = services.policy()
    shipment = order.shipment
    values: Dict[str, Any] = {"order_number": order.order_number, "placed_at": wording.day(order.placed_at, language)}
    if shipment:
        values.update(
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number or "",
            promised_by=wording.day(shipment.promised_by, language),
            shipped_at=wording.day(shipment.shipped_at, language),
            scans=wording.scans(shipment.events, language),
            country=order.shipping_address.country,
            days=situation.days_since_last_scan or 0,
        )
    story = _address_story if problems.handling(problem) == problems.ADDRESS_HANDLING else _tracking_story
    return story(situation, remedy, values, language, policy)


def _address_story(
    situation: s.Situation, remedy: remedies.Remedy, values: Dict[str, Any], language: str, policy: Policy
) -> tuple[str, Dict[str, Any]]:
    """Whether the address can still change, and how."""
    if situation.kind == s.CANCELLED:
        return "utter_situation_cancelled", values
    if remedy.reason in (s.DELIVERED,):
        return "utter_address_change_delivered", values
    if remedy.reason == "update":
        return "utter_address_change_before_shipping", values
    if remedy.reason == "too_late":
        return "utter_address_change_too_late", dict(values, discount=f"{policy.discount_percent:g}")
    if situation.kind == s.ADDRESS_PROBLEM:
        return "utter_situation_address_problem", values
    return "utter_address_change_reship", values


def _tracking_story(
    situation: s.Situation, remedy: remedies.Remedy, values: Dict[str, Any], language: str, policy: Policy
) -> tuple[str, Dict[str, Any]]:
    """What the tracking says happened to the parcel."""
    last = situation.last_event
    kind = situation.kind
    if kind == s.DELIVERED:
        values["delivered_at"] = wording.day(last.at, language) if last else ""
        if remedy.reason == "wait":
            values["wait_until"] = wording.day(last.at + timedelta(hours=policy.delivered_wait_hours), language)
            return "utter_situation_delivered_wait", values
        return "utter_situation_delivered_claim", values
    if kind == s.AT_PICKUP_POINT:
        values["pickup_deadline"] = wording.day(last.at + timedelta(days=policy.pickup_hold_days), language)
        return "utter_situation_pickup", values
    if kind == s.CUSTOMS_HOLD:
        return CUSTOMS_RESPONSES.get(last.substatus, "utter_situation_customs_hold"), values
    return f"utter_situation_{kind}", values


def settled_case(order: Order, remedy: remedies.Remedy) -> Optional[cases.Case]:
    """The order's refund or reshipment when the remedy would offer money or goods again (or ask for the
    detail it needs to offer them); None when the order has none or the remedy moves nothing."""
    if remedy.next_step != remedies.COLLECT_DETAILS and not set(remedy.fixes) & set(ONCE_PER_ORDER_FIXES):
        return None
    done = [c for c in services.cases().list(order_number=order.order_number) if c.type in cases.ONE_PER_ORDER]
    return done[0] if done else None  # the first one, the one CaseBook answers every later request with


def settled_replies(case: cases.Case, order: Order, language: str) -> List[problem_replies.Reply]:
    """What already went out for the order, with its reference: the new parcel, or where the money stands."""
    if case.type == cases.RESHIPMENT:
        return [
            (
                "utter_already_reshipped",
                {
                    "order_number": order.order_number,
                    "case_reference": case.reference,
                    "address": case.details.get("address") or order.shipping_address.one_line(),
                },
            )
        ]
    return [problem_replies.refund_reply(case, order, language)]


def answers_of(tracker: Tracker) -> Dict[str, Any]:
    """What the details form collected, for remedies.decide."""
    return {
        remedies.PHOTO: tracker.get_slot("photo"),
        remedies.CANCEL_REASON: tracker.get_slot("cancel_reason"),
        remedies.ITEM_UNUSED: tracker.get_slot("item_unused"),
    }


@dataclass(frozen=True)
class Facts:
    """What Porter knows about the verified order now: enough to answer a question in the middle of a choice."""

    order: Order
    situation: s.Situation
    problem: str
    remedy: remedies.Remedy
    language: str

    def parcel(self) -> List[problem_replies.Reply]:
        """Where the parcel is, with the last scans, as a tracking question is answered."""
        remedy = remedies.decide("where_is_my_order", self.order, self.situation, services.policy())
        return [situation_reply("where_is_my_order", self.order, self.situation, remedy, self.language)]

    def refund(self) -> List[problem_replies.Reply]:
        return problem_replies.explain("refund_status", self.order, self.situation, self.remedy, self.language)

    def options(self) -> List[problem_replies.Reply]:
        """The explanation that came with the offer: what each option means, with the amounts."""
        settled = settled_case(self.order, self.remedy)
        if settled:
            return settled_replies(settled, self.order, self.language)
        return problem_replies.explain(self.problem, self.order, self.situation, self.remedy, self.language) or [
            situation_reply(self.problem, self.order, self.situation, self.remedy, self.language)
        ]


def facts_of(tracker: Tracker) -> Optional[Facts]:
    """The facts of this conversation's verified order; None when it has none (nothing is told then)."""
    order_number = verified_order(tracker)
    order = services.store().get(order_number) if order_number else None
    if order is None:
        return None
    policy = services.policy()
    situation = s.classify(order, services.now(), policy)
    problem = problems.effective(tracker.get_slot("problem") or problems.WHERE_IS_MY_ORDER, situation)
    remedy = remedies.decide(problem, order, situation, policy, answers_of(tracker))
    return Facts(order, situation, problem, remedy, wording.language_of(tracker))


class ActionResolveOrder(Action):
    def name(self) -> Text:
        return "action_resolve_order"

    @guard_backend
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if tracker.get_slot("form_exit") == "stopped":
            return stop(dispatcher, tracker) + [SlotSet("next_step", remedies.DONE)]
        language = wording.language_of(tracker)
        order_number = verified_order(tracker)
        if not order_number:
            return [
                SlotSet("next_step", "handoff"),
                SlotSet("email", None),
                SlotSet("verification_failures", 0),
            ] + hand_over(tracker, dispatcher, reasons.VERIFICATION_FAILED, response="utter_verification_handoff")

        order = services.store().get(order_number)
        policy = services.policy()
        situation = s.classify(order, services.now(), policy)
        problem = problems.effective(tracker.get_slot("problem") or problems.WHERE_IS_MY_ORDER, situation)
        remedy = remedies.decide(problem, order, situation, policy, answers_of(tracker))
        settled = settled_case(order, remedy)
        if settled:  # said before anything is offered; the same money or goods are never offered twice
            remedy = remedies.Remedy(remedies.CHOOSE_FIX, (remedies.PERSON, remedies.NONE), ALREADY_SETTLED)
        repeated = raised_again(tracker, order.order_number)
        logger.info(
            "order %s: problem %s, situation %s, remedy %s %s%s%s",
            order.order_number,
            problem,
            situation.kind,
            remedy.next_step,
            remedy.fixes,
            f", already has {settled.type} {settled.reference}" if settled else "",
            ", raised again: a person takes over" if repeated else "",
        )

        if settled:  # where the parcel is still answers a parcel question; then what already went out
            replies = settled_replies(settled, order, language)
            if problems.handling(problem) == problems.PARCEL_HANDLING:
                replies = [situation_reply(problem, order, situation, remedy, language)] + replies
        else:
            replies = problem_replies.explain(problem, order, situation, remedy, language)
            if replies is None:
                replies = [situation_reply(problem, order, situation, remedy, language)]
            # On a repeat contact Porter still says where the parcel (or the refund) is; choices and photos
            # are now a person's to ask for.
            if repeated and problems.handling(problem) in problems.CHOOSING_HANDLINGS:
                replies = []  # their replies set out options or ask for a photo: the person takes it from here
        for response, values in replies:
            dispatcher.utter_message(response=response, **values)
        decided = {"problem": problem, "situation": situation.kind, "offered_fixes": list(remedy.fixes)}
        if repeated:
            # The shopper keeps coming back about this order: a person takes it from here.
            return (
                [SlotSet(name, value) for name, value in decided.items()]
                + [SlotSet("next_step", "handoff")]
                + hand_over(
                    tracker,
                    dispatcher,
                    reasons.REPEAT_CONTACT,
                    response="utter_repeat_contact_handoff",
                    slots=decided,
                    order_number=order.order_number,
                )
            )
        events = [
            SlotSet("problem", problem),
            SlotSet("situation", situation.kind),
            SlotSet("offered_fixes", list(remedy.fixes)),
            SlotSet("fix", None),
            SlotSet("new_address", None),
            SlotSet("address_confirmed", None),
            SlotSet("next_step", remedy.next_step),
            SlotSet("detail_needed", remedy.ask),
        ]
        if problems.handling(problem) == problems.CUSTOMS_HANDLING and situation.kind == s.CUSTOMS_HOLD:
            events += self._customs_follow_up(dispatcher, tracker, order, situation, remedy)
        if remedy.next_step in (remedies.CHOOSE_FIX, remedies.COLLECT_ADDRESS):
            record_offer(tracker, order, problem, situation.kind, remedy)
        if remedy.next_step == remedies.CHOOSE_FIX:
            events.append(SlotSet("offer", offer_response(remedy, situation.kind)))
        elif remedy.next_step == remedies.DONE:
            dispatcher.utter_message(response="utter_anything_else")
        return events

    @staticmethod
    def _customs_follow_up(
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        order: Order,
        situation: s.Situation,
        remedy: remedies.Remedy,
    ) -> List[Dict[Text, Any]]:
        """A customs question is recorded for the logistics team, and handed to them when it is stuck."""
        last = situation.last_event
        case, _ = services.cases().open_case(
            type=cases.CUSTOMS_ASSIST,
            idempotency_key=f"{order.order_number}:customs_assist",
            order_number=order.order_number,
            conversation_id=tracker.sender_id,
            details={
                "substatus": last.substatus if last else None,
                "days_held": situation.days_since_last_scan,
                "carrier": order.shipment.carrier if order.shipment else None,
            },
        )
        if remedy.next_step == remedies.HANDOFF:
            return hand_over(
                tracker,
                dispatcher,
                reasons.CUSTOMS_STUCK,
                response="utter_customs_handoff",
                slots={"problem": "customs_issue", "situation": situation.kind, "offered_fixes": []},
                days=situation.days_since_last_scan or 0,
            )
        dispatcher.utter_message(response="utter_customs_case_opened", case_reference=case.reference)
        return [SlotSet("case_reference", case.reference)]
