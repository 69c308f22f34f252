"""The tracking watcher: one pass over the open shipments, and what Porter says first because of it.

A pass (``python -m bot watch --once``, or every PORTER_WATCH_INTERVAL seconds beside `make run`):
1. sends the alerts held for quiet hours whose time has come;
2. reads each watched order's tracking through the configured backend and classifies it
   (bot/decisions/situations.py); a situation that is new for the order and that the policy alerts on
   (`alert_situations`), with no alert in the last `alert_every_days`, becomes one alert;
3. asks whether refunds and reshipments worked (`follow_up_refund_days`, `follow_up_reship_days`);
4. asks for a 1-to-5 rating where Porter carried out a fix and the shopper has been quiet since
   (`rating_after_minutes`).
A tracking service's push (bot/web/tracking_webhooks.py) runs step 2 for its order at once.

Where an alert goes: the conversation that last verified the order (Telegram, WhatsApp, the widget), where
Rasa runs it as an external intent so the shopper's next tap continues the conversation; or, when the order
was never discussed in a chat (or WhatsApp's 24-hour window is closed and no template is configured), one
email. Nothing goes to a shopper who said stop, nor into a conversation an agent holds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol

from bot.authorization.verifications import VerificationLedger
from bot.channels.conversation_ids import channel_of, native_id
from bot.channels.whatsapp_window import ConversationWindow
from bot.decisions import cases
from bot.decisions import situations as s
from bot.decisions.policy import Policy
from bot.handoff.tickets import TicketStore
from bot.identifiers import mask_email
from bot.outreach import alert_book, letters, mailer
from bot.outreach.alert_book import Alert, AlertBook
from bot.outreach.quiet_hours import next_allowed, shopper_zone
from bot.outreach.settings import OutreachSettings
from bot.outreach.stops import StopList, email_contact
from bot.outreach.watch_state import ShipmentWatch
from bot.shop.models import Order
from bot.shop.store import OrderStore

logger = logging.getLogger(__name__)

EMAIL = "email"
TRIGGERS = {  # the external intent that carries out each kind of alert (domain/outreach.yml)
    alert_book.SITUATION: "EXTERNAL_tracking_alert",
    alert_book.FOLLOW_UP_REFUND: "EXTERNAL_follow_up",
    alert_book.FOLLOW_UP_RESHIP: "EXTERNAL_follow_up",
    alert_book.RATING_REQUEST: "EXTERNAL_ask_rating",
}
RATED_CASES = (cases.REFUND, cases.RESHIPMENT, cases.ADDRESS_CHANGE, cases.DISCOUNT, cases.CANCELLATION, cases.RETURN)
RATING_WINDOW = timedelta(days=2)  # a fix older than this is not rated any more: the shopper has moved on
FOLLOW_UP_WINDOW = timedelta(days=30)  # follow-ups are asked within this long after they fall due
RETRY = "retry"  # a channel that surely did not get the alert: held again, tried on the next passes
RETRY_AFTER = timedelta(minutes=5)
RETRY_FOR = timedelta(hours=1)  # then the alert is failed: news that old is better told when the shopper asks
WATCHED_DAYS = 90  # orders verified in a chat this recently are watched even when the store cannot list orders


class Conversations(Protocol):
    """What the watcher needs of Rasa's HTTP API (bot/web/desk_rasa.py RasaConversations)."""

    async def trigger(self, conversation_id: str, intent: str, entities: Dict[str, Any]) -> List[Dict[str, Any]]: ...

    async def events(self, conversation_id: str) -> List[Dict[str, Any]]: ...


@dataclass(frozen=True)
class Route:
    channel: str  # telegram, whatsapp, web, rest or email
    conversation_id: Optional[str]
    language: str


class Watcher:
    def __init__(
        self,
        store: OrderStore,
        policy: Policy,
        settings: OutreachSettings,
        conversations: Conversations,
        smtp: Optional[mailer.SmtpSettings] = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        where=None,
    ) -> None:
        self.store, self.policy, self.settings = store, policy, settings
        self.conversations, self.smtp, self.clock = conversations, smtp, clock
        self.book, self.stops = AlertBook(where), StopList(where)
        self.watch, self.ledger = ShipmentWatch(where), VerificationLedger(where)
        self.tickets, self.cases = TicketStore(where), cases.CaseBook(where)
        self.window = ConversationWindow(where)

    # --- one pass -------------------------------------------------------------------------------------------

    async def run_once(self, orders: Optional[Iterable[str]] = None) -> List[str]:
        """One pass (over ``orders`` only, when given); returns a line for each thing it did."""
        now = self.clock()
        only = {o.strip().upper() for o in orders} if orders else None
        done = [await self.send(a) for a in self.book.due(now) if only is None or a.order_number in only]
        for order_number in sorted(only) if only else self._watched(now):
            line = await self.check(order_number)
            if line:
                done.append(line)
        done += await self._follow_ups(now, only)
        done += await self._rating_requests(now, only)
        return done

    def _watched(self, now: datetime) -> List[str]:
        """The orders to read: every order the store can list, and those verified in a chat lately."""
        listed: Iterable[Order] = getattr(self.store, "all", lambda: [])()
        numbers = {o.order_number for o in listed if o.shipment and o.status not in ("cancelled", "delivered")}
        numbers |= set(self.ledger.orders_since(now.timestamp() - WATCHED_DAYS * 86400))
        return sorted(numbers)

    # --- situations -----------------------------------------------------------------------------------------

    async def check(self, order_number: str) -> Optional[str]:
        """Reads one order's tracking; alerts the shopper when its situation is new and worth telling."""
        order = self.store.get(order_number)
        if order is None or order.shipment is None or order.status == "cancelled":
            return None
        now = self.clock()
        situation = s.classify(order, now, self.policy)
        last = situation.last_event
        if not self.watch.remember(order.order_number, situation.kind, last.at if last else None, now):
            return None
        if situation.kind not in self.policy.alert_situations:
            return None
        route = await self._route(order)
        if route is None:
            return f"{order.order_number}: {situation.kind}, not alerted (no chat and no SMTP server to reach them)"
        if self.stops.stopped(route.conversation_id, email_contact(order.email)):
            return f"{order.order_number}: {situation.kind}, not alerted (the shopper said stop)"
        latest = self.book.latest_situation_alert(order.order_number)
        if latest and datetime.fromisoformat(latest.created_at) > now - timedelta(days=self.policy.alert_every_days):
            return f"{order.order_number}: {situation.kind}, not alerted (alerted on {latest.created_at[:10]})"
        zone = shopper_zone(order.shipping_address.country)
        due = next_allowed(now, zone, self.policy.alert_quiet_from, self.policy.alert_quiet_until)
        alert = self.book.open(
            alert_book.SITUATION,
            order.order_number,
            route.channel,
            now,
            situation=situation.kind,
            conversation_id=route.conversation_id,
            language=route.language,
            due_at=due,
        )
        if due > now:
            return f"{order.order_number}: {situation.kind}, held for quiet hours until {due:%Y-%m-%d %H:%M} UTC"
        return await self.send(alert)

    async def _route(self, order: Order) -> Optional[Route]:
        verified = self.ledger.last_conversation(order.order_number)
        conversation = verified.conversation_id if verified else None
        channel = channel_of(conversation) if conversation else None
        if channel == "whatsapp" and not self.settings.whatsapp_alert_template:
            if not self.window.is_open(native_id("whatsapp", conversation) or ""):
                channel = conversation = None  # a free-form message would not be delivered: email instead
        if channel and self.tickets.open_for(conversation) is None:
            return Route(channel, conversation, await self._language(conversation, order))
        if self.smtp and order.email:
            return Route(EMAIL, None, order.language or "en")
        return None

    async def _language(self, conversation: str, order: Order) -> str:
        """The language the shopper last spoke in that conversation (its language slot), else the order's."""
        try:
            events = await self.conversations.events(conversation)
        except Exception as exc:  # noqa: BLE001 - Rasa down: the order's language will do
            logger.warning("watcher: could not read conversation %s (%s)", conversation, exc)
            events = []
        for event in reversed(events):
            if event.get("event") == "slot" and event.get("name") == "language" and event.get("value"):
                return str(event["value"])
        return order.language or "en"

    # --- sending --------------------------------------------------------------------------------------------

    async def send(self, alert: Alert) -> str:
        """Sends a held alert (once, whichever worker gets it) and records what came of it."""
        if not self.book.claim(alert.id):
            return f"{alert.order_number}: alert {alert.id} already taken by another worker"
        now = self.clock()
        if alert.conversation_id:
            status, detail = await say_in_chat(self.conversations, alert)
        else:
            status, detail = await self._email(alert)
        if status == RETRY:
            if now - datetime.fromisoformat(alert.created_at) < RETRY_FOR:
                self.book.retry_later(alert.id, now + RETRY_AFTER, detail)
                logger.warning("alert %s on order %s held again: %s", alert.id, alert.order_number, detail)
                return f"{alert.order_number}: {alert.kind} {alert.situation or ''} held again ({detail})"
            status, detail = alert_book.FAILED, f"{detail}; gave up after {RETRY_FOR}"
        self.book.finish(alert.id, status, now, detail)
        logger.info("alert %s (%s) on order %s: %s, %s", alert.id, alert.kind, alert.order_number, status, detail)
        return f"{alert.order_number}: {alert.kind} {alert.situation or ''} {status} by {alert.channel} ({detail})"

    async def _email(self, alert: Alert) -> tuple:
        order = self.store.get(alert.order_number)
        if order is None or not self.smtp:
            return alert_book.FAILED, "no email: the order is gone or no SMTP server is set (PORTER_SMTP_HOST)"
        if alert.kind != alert_book.SITUATION:
            return alert_book.FAILED, "only situation alerts go by email"
        situation = s.classify(order, self.clock(), self.policy)
        try:
            letter = letters.situation_letter(order, situation, self.policy, alert.language or "en", self.settings)
            message_id = await asyncio.to_thread(mailer.send, letter, self.smtp)
        except mailer.MailUnavailable as exc:
            return (RETRY if exc.step != "send" else alert_book.FAILED), str(exc)
        except ValueError as exc:
            return alert_book.FAILED, str(exc)
        return alert_book.SENT, f"to {mask_email(order.email)}, {message_id}"

    # --- follow-ups and ratings -----------------------------------------------------------------------------

    async def _follow_ups(self, now: datetime, only: Optional[set] = None) -> List[str]:
        done = []
        for kind, case_type, days in (
            (alert_book.FOLLOW_UP_REFUND, cases.REFUND, self.policy.follow_up_refund_days),
            (alert_book.FOLLOW_UP_RESHIP, cases.RESHIPMENT, self.policy.follow_up_reship_days),
        ):
            for case in self.cases.list(type=case_type):
                created = datetime.fromisoformat(case.created_at)
                due = created + timedelta(days=days)
                if not case.conversation_id or not due <= now < due + FOLLOW_UP_WINDOW:
                    continue
                if only is not None and case.order_number not in only:
                    continue
                if case_type == cases.REFUND and not cases.may_confirm(case):
                    continue  # the money has not gone out: nothing to ask about yet
                line = await self._ask(kind, case.order_number or "", case.conversation_id, case.reference, now)
                if line:
                    done.append(line)
        return done

    async def _rating_requests(self, now: datetime, only: Optional[set] = None) -> List[str]:
        done = []
        quiet_for = timedelta(minutes=self.policy.rating_after_minutes)
        for case in self.cases.list():
            created = datetime.fromisoformat(case.created_at)
            if case.type not in RATED_CASES or not case.conversation_id or not now - RATING_WINDOW < created:
                continue
            if only is not None and case.order_number not in only:
                continue
            if self.book.has_follow_up(case.reference, alert_book.RATING_REQUEST):
                continue
            if self.tickets.handed_over_before(case.conversation_id, case.order_number):
                continue  # a person had it: the rating comes when the agent resolves the ticket
            if not await self._quiet_since(case.conversation_id, now - quiet_for):
                continue
            line = await self._ask(
                alert_book.RATING_REQUEST, case.order_number or "", case.conversation_id, case.reference, now
            )
            if line:
                done.append(line)
        return done

    async def _quiet_since(self, conversation: str, moment: datetime) -> bool:
        """True when the shopper's last message in the conversation is older than ``moment``."""
        try:
            events = await self.conversations.events(conversation)
        except Exception:  # noqa: BLE001 - asked on a later pass
            return False
        said = [e.get("timestamp") or 0 for e in events if e.get("event") == "user"]
        return not said or max(said) < moment.timestamp()

    async def _ask(
        self, kind: str, order_number: str, conversation: str, reference: str, now: datetime
    ) -> Optional[str]:
        """A follow-up or rating request in the conversation of the case, once per case."""
        if self.tickets.open_for(conversation) is not None:
            return None  # an agent holds the conversation now; asked on a later pass
        order = self.store.get(order_number) if order_number else None
        if self.stops.stopped(conversation, email_contact(order.email if order else None)):
            return None
        alert = self.book.open(
            kind,
            order_number,
            channel_of(conversation) or "chat",
            now,
            case_reference=reference,
            conversation_id=conversation,
            language=await self._language(conversation, order) if order else None,
        )
        return await self.send(alert) if alert else None


async def ask_rating_for_ticket(ticket, conversations: Conversations, now: datetime, where=None) -> Optional[str]:
    """After an agent resolves a ticket: the shopper rates it, once per ticket (bot/web/desk.py)."""
    book = AlertBook(where)
    if StopList(where).stopped(ticket.conversation_id):
        return None
    alert = book.open(
        alert_book.RATING_REQUEST,
        ticket.verified_order or ticket.order_number or "",
        channel_of(ticket.conversation_id) or "chat",
        now,
        case_reference=f"ticket:{ticket.id}",
        conversation_id=ticket.conversation_id,
        language=ticket.language,
    )
    if alert is None or not book.claim(alert.id):
        return None
    status, detail = await say_in_chat(conversations, alert)
    if status == RETRY:  # the ticket stays resolved; the rating is only lost
        status = alert_book.FAILED
    book.finish(alert.id, status, now, detail)
    return status


async def say_in_chat(conversations: Conversations, alert: Alert) -> tuple:
    """Has Rasa run the alert in its conversation: (status, what came of it)."""
    try:
        said = await conversations.trigger(alert.conversation_id, TRIGGERS[alert.kind], {"alert": alert.id})
    except Exception as exc:  # noqa: BLE001 - Rasa unreachable: recorded, and the pass goes on
        # Tried again only when Rasa surely did not get it: a timeout may have run the alert already.
        return (RETRY if getattr(exc, "not_reached", False) else alert_book.FAILED), f"Rasa: {exc}"
    if not said:
        return alert_book.FAILED, "Porter said nothing: the conversation no longer may see the order"
    return alert_book.SENT, f"{len(said)} messages in {alert.conversation_id}"
