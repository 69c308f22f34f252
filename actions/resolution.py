"""Offering the fixes as buttons, understanding the shopper's pick, and carrying it out once.

Buttons carry ``/inform{"fix":"refund"}`` so they work on every channel; a shopper who types instead
("refund please", "yes", "no thanks") is understood too.
"""
from __future__ import annotations

import json
import logging
import secrets
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import services, wording
from actions.handoff import open_handoff
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
    if fix in offered or fix == remedies.NONE:  # "no" always declines, whatever was offered
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

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
                  ) -> List[Dict[Text, Any]]:
        return carry_out(tracker.get_slot("fix"), dispatcher, tracker)


def carry_out(fix: Optional[str], dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
    """Record the chosen fix as a case (once per order and problem) and confirm it to the shopper."""
    language = wording.language_of(tracker)
    order = services.store().get(tracker.get_slot("verified_order") or "")
    events: List[Dict[Text, Any]] = [SlotSet("fix", None), SlotSet("offered_fixes", None), SlotSet("offer", None)]
    if fix == remedies.NONE or order is None:
        dispatcher.utter_message(response="utter_no_fix_chosen")
        dispatcher.utter_message(response="utter_anything_else")
        return events
    if fix == remedies.PERSON:
        case = open_handoff(tracker, reason=f"{tracker.get_slot('situation')}")
        dispatcher.utter_message(response="utter_handoff_requested", case_reference=case.reference)
        return events + [SlotSet("case_reference", case.reference)]

    problem = tracker.get_slot("problem") or "where_is_my_order"
    situation = tracker.get_slot("situation") or ""
    common = dict(order_number=order.order_number, conversation_id=tracker.sender_id)
    key = f"{order.order_number}:{problem}:{fix}"
    book = services.cases()
    shipment = order.shipment
    if fix == remedies.REFUND:
        case, created = book.open_case(type="refund", idempotency_key=key, amount=order.total,
                                       currency=order.currency,
                                       details={"method": "original_payment", "situation": situation}, **common)
        if created:
            dispatcher.utter_message(response="utter_refund_done", case_reference=case.reference,
                                     amount=wording.money(order.total, order.currency, language))
    elif fix == remedies.RESHIP:
        address = tracker.get_slot("new_address") or order.shipping_address.one_line()
        case, created = book.open_case(type="reshipment", idempotency_key=key, amount=order.total,
                                       currency=order.currency,
                                       details={"address": address, "situation": situation}, **common)
        if created:
            dispatcher.utter_message(response="utter_reship_done", case_reference=case.reference, address=address)
    elif fix == remedies.NOTIFY:
        case, created = book.open_case(type="scan_alert", idempotency_key=key,
                                       details={"tracking_number": shipment.tracking_number if shipment else None},
                                       **common)
        if created:
            dispatcher.utter_message(response="utter_notify_done", case_reference=case.reference,
                                     carrier=shipment.carrier if shipment else "")
    elif fix == remedies.DISCOUNT:
        percent = services.policy().discount_percent
        code = "SORRY-" + secrets.token_hex(3).upper()
        case, created = book.open_case(type="discount", idempotency_key=key,
                                       details={"percent": percent, "code": code}, **common)
        if created:
            dispatcher.utter_message(response="utter_discount_done", case_reference=case.reference,
                                     discount=f"{percent:g}", discount_code=case.details["code"])
    else:
        logger.warning("unknown fix %r", fix)
        dispatcher.utter_message(response="utter_default")
        return events
    if not created:
        dispatcher.utter_message(response="utter_already_done", order_number=order.order_number,
                                 case_reference=case.reference)
    elif shipment and remedies.needs_carrier_claim(situation, fix):
        claim, _ = book.open_case(type="carrier_claim", idempotency_key=f"{order.order_number}:carrier_claim",
                                  amount=order.total, currency=order.currency,
                                  details={"carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
                                           "situation": situation, "remedy_case": case.reference,
                                           "evidence": ["order", "payment", "proof_of_shipment",
                                                        "tracking_history", "conversation"]},
                                  **common)
        dispatcher.utter_message(response="utter_claim_opened", carrier=shipment.carrier,
                                 claim_reference=claim.reference)
    dispatcher.utter_message(response="utter_anything_else")
    logger.info("fix %s for order %s: case %s (%s)", fix, order.order_number, case.reference,
                "new" if created else "existing")
    return events + [SlotSet("case_reference", case.reference)]
