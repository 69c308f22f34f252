"""The order lookup form: order number, then the email on the order (unless the channel vouches for the
shopper: a WhatsApp number or a signed-in storefront customer that matches the order).

Nothing about an order is said before the email matches, not even whether the order number exists, so
the form cannot be used to probe for orders. After too many wrong emails the form ends and a person
takes over (action_resolve_order sees the unverified state).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.authorization import record_verification
from actions.backend_guard import guard_backend
from actions.channel_identity import trusted_identity
from actions.form_validation import DomainFileFormValidation
from bot import identifiers
from bot.shop.store import verify

logger = logging.getLogger(__name__)


def _order_number_in(value: Any) -> Optional[str]:
    text = str(value or "").strip()
    return identifiers.first(text, "order_number") or identifiers.first(text.replace(" ", ""), "order_number")


def _email_in(value: Any) -> Optional[str]:
    match = identifiers.EMAIL_RE.search(str(value or ""))
    return match.group(0) if match else None


def _find_order(number: str):
    """The order by its number, or by the tracking number of its parcel."""
    store = services.store()
    return store.get(number) or store.find_by_tracking_number(number)


OFF_TOPIC = ("out_of_scope", "nlu_fallback")
_WHY = re.compile(
    r"\bwhy\b|\bwhat for\b|\bhow come\b|\bpor qu[ée]\b|\bporqué\b|\bpara qu[ée]\b|\bpourquoi\b|"
    r"[àa] quoi bon|\bwarum\b|\bwozu\b|\bwieso\b|\bweshalb\b|зачем|почему|для чего|\bpra qu[eê]\b|"
    r"为什么|为啥|干嘛|干什么|做什么用",
    re.IGNORECASE,
)


def _asks_why(tracker: Tracker) -> bool:
    """The shopper answered Porter's question with a question about it ("why do you need my email?", or a "no"
    to it), as opposed to something off-topic ("what's the weather tomorrow?"), which gets a short answer."""
    message = tracker.latest_message or {}
    text = (message.get("text") or "").strip()
    intent = (message.get("intent") or {}).get("name")
    if intent == "deny" or _WHY.search(text):
        return True
    return (text.endswith(("?", "？", "¿")) or text.startswith("¿")) and intent not in OFF_TOPIC


def not_an_answer(tracker: Tracker, why: str, invalid: str) -> str:
    """The reply to a message that answers none of the form's question: why it is asked, that Porter only
    helps with orders (off-topic or not understood), or what a valid answer looks like. The form asks again."""
    if _asks_why(tracker):
        return why
    if ((tracker.latest_message or {}).get("intent") or {}).get("name") in OFF_TOPIC:
        return "utter_only_orders"
    return invalid


def _asks_to_stop(tracker: Tracker) -> bool:
    """ "stop" / "cancel that" in the middle of the lookup, as opposed to "cancel my order A10030"."""
    message = tracker.latest_message or {}
    text = message.get("text") or ""
    return (message.get("intent") or {}).get("name") == "cancel_order" and not any(
        identifiers.first(text, kind) for kind in ("order_number", "email", "tracking_number")
    )


STOPPED = {"order_number": None, "email": None, "requested_slot": None, "form_exit": "stopped"}


class ValidateOrderLookupForm(DomainFileFormValidation):
    def name(self) -> Text:
        return "validate_order_lookup_form"

    @guard_backend
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict]:
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        if tracker.get_slot("form_exit"):
            return []  # stopped, or the backend is down: the form ends here
        if (tracker.get_slot("verification_failures") or 0) >= services.policy().verification_attempts:
            return []  # give up: the form ends and action_resolve_order hands over to a person
        verified = tracker.get_slot("verified_order")
        if verified and verified == tracker.get_slot("order_number"):
            return [slot for slot in domain_slots if slot != "email"]  # the channel vouched for the shopper
        return domain_slots

    def _check(
        self, order_number: str, email: str, tracker: Tracker, dispatcher: CollectingDispatcher
    ) -> Dict[Text, Any]:
        order = _find_order(order_number)
        if verify(order, email=email):
            logger.info("verified order %s for %s", order.order_number, identifiers.mask_email(email))
            record_verification(tracker, order.order_number, "email")
            return {
                "order_number": order.order_number,
                "email": email,
                "verified_order": order.order_number,
                "verification_failures": 0,
            }
        failures = (tracker.get_slot("verification_failures") or 0) + 1
        logger.info(
            "verification failed (%d) for order %s with %s", failures, order_number, identifiers.mask_email(email)
        )
        if failures < services.policy().verification_attempts:
            dispatcher.utter_message(response="utter_verification_failed", order_number=order_number)
        return {"order_number": order_number, "email": None, "verified_order": None, "verification_failures": failures}

    def validate_order_number(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if _asks_to_stop(tracker):
            return STOPPED
        order_number = _order_number_in(slot_value)
        if not order_number:
            # Shoppers often have the tracking number at hand instead. It stays as typed until the email
            # matches, so a tracking number never reveals which order it belongs to.
            order_number = identifiers.first(str(slot_value or ""), "tracking_number")
        if not order_number:
            dispatcher.utter_message(
                response=not_an_answer(tracker, "utter_why_order_number", "utter_invalid_order_number")
            )
            return {"order_number": None}
        if identifiers.normalize_order_number(order_number) == identifiers.normalize_order_number(
            tracker.get_slot("verified_order") or ""
        ):
            return {"order_number": tracker.get_slot("verified_order")}
        vouched = trusted_identity(tracker)
        if vouched:
            order = _find_order(order_number)
            if verify(order, email=vouched.get("email"), phone=vouched.get("phone")):
                logger.info("verified order %s by the channel's signed %s", order.order_number, "/".join(vouched))
                record_verification(tracker, order.order_number, "phone" if "phone" in vouched else "customer")
                return {
                    "order_number": order.order_number,
                    "verified_order": order.order_number,
                    "verification_failures": 0,
                }
        email = tracker.get_slot("email")
        if email:
            # An email given earlier must be checked against this order, never carried over unchecked.
            return self._check(order_number, email, tracker, dispatcher)
        return {"order_number": order_number, "verified_order": None}

    def validate_email(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if _asks_to_stop(tracker):
            return STOPPED
        email = _email_in(slot_value)
        if not email:
            dispatcher.utter_message(response=not_an_answer(tracker, "utter_why_email", "utter_invalid_email"))
            return {"email": None}
        order_number = tracker.get_slot("order_number")
        if not order_number or tracker.get_slot("verified_order"):
            return {"email": email}
        return self._check(order_number, email, tracker, dispatcher)


class ActionAskEmail(Action):
    """Asks for the email; after a mismatch, a shorter question (the apology has just been said)."""

    def name(self) -> Text:
        return "action_ask_email"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict]:
        again = (tracker.get_slot("verification_failures") or 0) > 0
        dispatcher.utter_message(response="utter_ask_email_again" if again else "utter_ask_email")
        return []
