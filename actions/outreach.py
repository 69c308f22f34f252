"""Porter speaking first, inside the conversation: the tracking alert, the follow-up after a fix, the rating.

The watcher and the desk (bot/outreach/) write an alert row and ask Rasa to run an EXTERNAL_ intent with its
id. Nothing in that request is trusted: the action runs only an alert that is being sent right now
(status "sending"), to this very conversation, for an order this conversation verified before, and for a
shopper who has not said stop. A shopper who types the intent by hand finds nothing to run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.authorization import ledger, record_verification
from actions.handoff import hand_over
from bot import wording
from bot.channels.conversation_ids import channel_of, native_id
from bot.channels.whatsapp_window import ConversationWindow
from bot.decisions import cases, problems
from bot.handoff import reasons
from bot.handoff.tickets import TicketStore
from bot.outreach import alert_book
from bot.outreach.alert_book import Alert, AlertBook
from bot.outreach.ratings import RatingBook
from bot.outreach.settings import whatsapp_alert_template
from bot.outreach.stops import StopList, email_contact

logger = logging.getLogger(__name__)

RESOLVE, ASK_COMMENT, DONE = "resolve", "ask_comment", "done"  # domain/outreach.yml outreach_step
NO_COMMENT = "-"  # rating_comment when the shopper tapped "No, thanks"


def _alert_id(tracker: Tracker) -> Optional[int]:
    value = next(tracker.get_latest_entity_values("alert"), None)
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def alert_being_sent(tracker: Tracker, kinds: tuple) -> Optional[Alert]:
    """The alert this trigger carries out, or None (logged) when it is not one Porter is sending here now."""
    alert_id = _alert_id(tracker)
    alert = AlertBook().get(alert_id) if alert_id is not None else None
    if alert is None or alert.kind not in kinds:
        logger.warning("refused an outreach trigger: no %s alert %r", "/".join(kinds), alert_id)
        return None
    if alert.conversation_id != tracker.sender_id or alert.status != alert_book.SENDING:
        logger.warning("refused alert %s: it is not being sent to this conversation now", alert.id)
        return None
    return alert


def _leave_form(tracker: Tracker) -> List[Dict[Text, Any]]:
    """Porter's own message comes first: a form still waiting for an answer (within the same session) is left.
    Said every time, as the rules expect (data/rules/rules_outreach.yml)."""
    return [ActiveLoop(None), SlotSet("requested_slot", None)]


def _shopper_stopped(tracker: Tracker, order_number: Optional[str]) -> bool:
    order = services.store().get(order_number) if order_number else None
    return StopList().stopped(tracker.sender_id, email_contact(order.email if order else None))


def _verify_by_alert(tracker: Tracker, alert: Alert) -> Optional[List[Dict[Text, Any]]]:
    """The alert's order counts as verified here, as the lookup form would have it: this conversation proved it
    owns the order before. The events that say so, or None when it never did."""
    if ledger().latest(tracker.sender_id, alert.order_number) is None:
        logger.warning(
            "refused alert %s: order %s was never verified in this conversation", alert.id, alert.order_number
        )
        return None
    record_verification(tracker, alert.order_number, "alert")
    events = [SlotSet("order_number", alert.order_number), SlotSet("verified_order", alert.order_number)]
    if alert.language and alert.language != tracker.get_slot("language"):
        events.append(SlotSet("language", alert.language))
    return events


def _closed_whatsapp_template(tracker: Tracker, alert: Alert) -> Optional[Dict[str, Any]]:
    """The Cloud API template message for an alert to a WhatsApp shopper whose 24-hour window has closed
    (PORTER_WHATSAPP_ALERT_TEMPLATE: an approved template whose one body parameter is the order number);
    None when a free-form message may go, or no template is set (the watcher emails those instead)."""
    native = native_id("whatsapp", tracker.sender_id) if channel_of(tracker.sender_id) == "whatsapp" else None
    name = whatsapp_alert_template()
    if not native or not name or ConversationWindow().is_open(native):
        return None
    return {
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": alert.language or wording.language_of(tracker)},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": alert.order_number}]}],
        },
    }


class ActionTrackingAlert(Action):
    """Tells the shopper something changed on their parcel, then (action_resolve_order) what and what can be done."""

    def name(self) -> Text:
        return "action_tracking_alert"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        left = _leave_form(tracker)
        alert = alert_being_sent(tracker, (alert_book.SITUATION,))
        if alert is None or _shopper_stopped(tracker, alert.order_number):
            return left + [SlotSet("outreach_step", DONE)]
        verified = _verify_by_alert(tracker, alert)
        if verified is None:
            return left + [SlotSet("outreach_step", DONE)]
        template = _closed_whatsapp_template(tracker, alert)
        if template:  # outside WhatsApp's 24-hour window only an approved template goes out: the rest waits
            dispatcher.utter_message(json_message=template)
            return left + verified + [SlotSet("outreach_step", DONE)]
        dispatcher.utter_message(response="utter_alert_intro", order_number=alert.order_number)
        return (
            left
            + verified
            + [
                SlotSet("problem", problems.WHERE_IS_MY_ORDER),
                SlotSet("form_exit", None),
                SlotSet("outreach_step", RESOLVE),
            ]
        )


class ActionStopAlerts(Action):
    """ "Stop these messages": this conversation, and the email of the order it verified, hear no more from Porter
    first. Answering the shopper's own messages goes on."""

    def name(self) -> Text:
        return "action_stop_alerts"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        contacts = [tracker.sender_id]
        order_number = tracker.get_slot("verified_order")
        if order_number and ledger().latest(tracker.sender_id, order_number):
            order = services.store().get(order_number)
            contacts.append(email_contact(order.email if order else None))
        StopList().stop(contacts, "chat", services.now())
        logger.info("alerts stopped for conversation %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_alerts_stopped")
        return _leave_form(tracker) + [SlotSet("outreach_step", DONE)]


def _follow_up_values(alert: Alert, case: cases.Case, language: str) -> Dict[str, Any]:
    order = services.store().get(alert.order_number)
    values: Dict[str, Any] = {"order_number": alert.order_number, "case_reference": case.reference}
    if alert.kind == alert_book.FOLLOW_UP_REFUND:
        currency = case.currency or (order.currency if order else "")
        values["amount"] = wording.money(case.amount or 0, currency, language)
        values["refunded_on"] = wording.day(datetime.fromisoformat(case.created_at), language)
    return values


class ActionFollowUp(Action):
    """Some days after a refund, or once the new parcel is delivered: did it work?"""

    def name(self) -> Text:
        return "action_follow_up"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        left = _leave_form(tracker)
        alert = alert_being_sent(tracker, alert_book.FOLLOW_UPS)
        case = services.cases().get(alert.case_reference) if alert and alert.case_reference else None
        if alert is None or case is None or _shopper_stopped(tracker, alert.order_number):
            return left
        verified = _verify_by_alert(tracker, alert)
        if verified is None:
            return left
        language = alert.language or wording.language_of(tracker)
        response = "utter_follow_up_refund" if alert.kind == alert_book.FOLLOW_UP_REFUND else "utter_follow_up_reship"
        dispatcher.utter_message(response=response, **_follow_up_values(alert, case, language))
        return left + verified + [SlotSet("case_reference", case.reference)]


class ActionFollowUpAnswer(Action):
    """Yes: glad to hear it. No: the case is reopened and a person takes over with the history."""

    def name(self) -> Text:
        return "action_follow_up_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        alert = AlertBook().latest_for_conversation(tracker.sender_id, alert_book.FOLLOW_UPS)
        case = services.cases().get(alert.case_reference) if alert and alert.case_reference else None
        if case is None:
            dispatcher.utter_message(response="utter_anything_else")
            return []
        worked = (tracker.latest_message.get("intent") or {}).get("name") != "deny"
        services.cases().update(case.reference, details={"follow_up": "worked" if worked else "did_not_work"})
        logger.info("follow-up of case %s: %s", case.reference, "worked" if worked else "did not work")
        if worked:
            dispatcher.utter_message(response="utter_follow_up_glad")
            return []
        return hand_over(
            tracker,
            dispatcher,
            reasons.FIX_DID_NOT_WORK,
            response="utter_follow_up_reopened",
            slots={"verified_order": alert.order_number},
        )


class ActionAskRating(Action):
    """ "How did we do?", once the case Porter solved or the ticket an agent resolved is over."""

    def name(self) -> Text:
        return "action_ask_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        events = _leave_form(tracker)
        alert = alert_being_sent(tracker, (alert_book.RATING_REQUEST,))
        if alert is None:
            return events
        if alert.language and alert.language != tracker.get_slot("language"):
            events.append(SlotSet("language", alert.language))
        dispatcher.utter_message(response="utter_ask_rating")
        return events


def _ticket_of(alert: Alert):
    """The desk ticket a rating request follows (its case reference is "ticket:<id>"), or None."""
    reference = alert.case_reference or ""
    if not reference.startswith("ticket:"):
        return None
    try:
        return TicketStore().get(int(reference.split(":", 1)[1]))
    except ValueError:
        return None


class ActionRate(Action):
    """Keeps the shopper's 1 to 5 with what it rates; a rating nobody asked for, or a second one, is not kept."""

    def name(self) -> Text:
        return "action_rate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        value = next(tracker.get_latest_entity_values("rating"), None)
        try:
            score = int(value) if value is not None and not isinstance(value, bool) else None
        except (TypeError, ValueError):
            score = None
        asked = AlertBook().latest_for_conversation(tracker.sender_id, (alert_book.RATING_REQUEST,))
        book = RatingBook()
        earlier = book.latest(tracker.sender_id)
        if score not in range(1, 6) or asked is None or (earlier and earlier.created_at >= (asked.sent_at or "")):
            logger.info("a rating not kept in %s: %s", tracker.sender_id, "not asked" if score else "no score")
            dispatcher.utter_message(response="utter_anything_else")
            return [SlotSet("outreach_step", DONE)]
        ticket = _ticket_of(asked)
        book.record(
            tracker.sender_id,
            score,
            services.now(),
            channel=channel_of(tracker.sender_id),
            language=wording.language_of(tracker),
            order_number=asked.order_number or None,
            case_reference=None if ticket else asked.case_reference,
            problem=(ticket.problem if ticket else None) or tracker.get_slot("problem"),
            agent=ticket.agent if ticket else None,
            ticket_id=ticket.id if ticket else None,
        )
        logger.info("rating %d kept for conversation %s", score, tracker.sender_id)
        return [SlotSet("rating_comment", None), SlotSet("outreach_step", ASK_COMMENT)]


class ActionRatingComment(Action):
    def name(self) -> Text:
        return "action_rating_comment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        comment = tracker.get_slot("rating_comment")
        rating = RatingBook().latest(tracker.sender_id)
        if rating and isinstance(comment, str) and comment != NO_COMMENT:
            RatingBook().comment(rating.id, comment)
        dispatcher.utter_message(response="utter_rating_thanks")
        return [SlotSet("rating_comment", None), SlotSet("outreach_step", DONE)]
