"""Collecting a new address in one message, reading it back, then changing the order or reshipping.

The address is kept as the shopper wrote it (one free-text line): read back verbatim, it is what the
shopper confirmed, and no parser guesses wrong on a foreign address format.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.backend_guard import guard_backend
from actions.form_validation import DomainFileFormValidation
from actions.order_lookup import OFF_TOPIC
from actions.authorization import grant_address_update
from actions.fixes import carry_out
from actions.handoff import hand_over
from bot.decisions import cases as case_types
from bot.decisions import remedies
from bot.handoff import reasons
from bot.shop.models import Address
from bot.decisions import situations as s

_HAN = re.compile(r"[\u4e00-\u9fff]")


def looks_like_address(text: str) -> bool:
    """Long enough to be a full address, with a house number or postal code in it."""
    text = text.strip()
    minimum = 8 if _HAN.search(text) else 15
    return len(text) >= minimum and bool(re.search(r"\d", text))


def tidy(text: str) -> str:
    return ", ".join(part.strip() for part in re.split(r"[\n]+", text.strip()) if part.strip())


class ValidateAddressForm(DomainFileFormValidation):
    def name(self) -> Text:
        return "validate_address_form"

    def validate_new_address(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if slot_value is None:
            return {}  # the form is just starting (slots cleared by action_resolve_order): nothing given yet
        text = str(slot_value)
        if not looks_like_address(text):
            # An address is checked by its shape first, so one the classifier could not read is still taken.
            off_topic = ((tracker.latest_message or {}).get("intent") or {}).get("name") in OFF_TOPIC
            dispatcher.utter_message(response="utter_only_orders" if off_topic else "utter_invalid_new_address")
            return {"new_address": None}
        return {"new_address": tidy(text)}

    def validate_address_confirmed(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if slot_value:
            return {"address_confirmed": True}
        return {"address_confirmed": None, "new_address": None}  # ask for the address again


class ActionAskAddressConfirmed(Action):
    def name(self) -> Text:
        return "action_ask_address_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_confirm_address", new_address=tracker.get_slot("new_address"))
        return []


class ActionApplyAddressChange(Action):
    """Before shipment: update the order. After shipment (low value) or a failed delivery: reship there."""

    def name(self) -> Text:
        return "action_apply_address_change"

    @guard_backend
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        new_address = tracker.get_slot("new_address")
        events = [SlotSet("address_confirmed", None)]
        if not tracker.get_slot("verified_order") or not new_address:
            dispatcher.utter_message(response="utter_default")
            return events
        if tracker.get_slot("situation") != s.NOT_SHIPPED:
            # Already shipped (low value) or sent back for a bad address: reship free to the confirmed address.
            return events + carry_out(remedies.RESHIP, dispatcher, tracker)
        order = grant_address_update(tracker)
        if order is None:  # not verified now, never offered, or shipped since: a person looks at it
            return events + hand_over(tracker, dispatcher, reason=reasons.FIX_REFUSED, response="utter_fix_refused")

        digest = hashlib.sha256(new_address.encode()).hexdigest()[:12]
        old = order.shipping_address
        case, _ = services.cases().open_case(
            type=case_types.ADDRESS_CHANGE,
            idempotency_key=f"{order.order_number}:change_address:{digest}",
            order_number=order.order_number,
            conversation_id=tracker.sender_id,
            status="done",
            details={"old_address": old.one_line(), "new_address": new_address},
        )
        services.store().update_shipping_address(
            order.order_number, Address(name=old.name, line1=new_address, country=old.country)
        )
        dispatcher.utter_message(
            response="utter_address_updated",
            order_number=order.order_number,
            new_address=new_address,
            case_reference=case.reference,
        )
        dispatcher.utter_message(response="utter_anything_else")
        return events + [SlotSet("case_reference", case.reference), SlotSet("new_address", None)]
