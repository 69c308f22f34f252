"""What a tracking service gives Porter, and how an order from any store gets its events from one.

Services (AfterShip, 17TRACK) name parcel states in their own codes; adapters map them, with tables kept as
data next to each adapter, onto the one vocabulary of ``bot.shop.models`` (``TRACKING_TAGS`` for the status,
``SUBSTATUSES`` for the reason). Decisions downstream read only that vocabulary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, List, Optional, Protocol

from bot.shop.models import SUBSTATUSES, TRACKING_TAGS, Address, Order, TrackingEvent

logger = logging.getLogger(__name__)


@dataclass
class Tracking:
    """A parcel as a tracking service sees it: its current normalized status and its events, oldest first."""

    status: str
    substatus: Optional[str]
    events: List[TrackingEvent] = field(default_factory=list)
    carrier: Optional[str] = None

    def __post_init__(self) -> None:
        # The mapping tables are tested to produce only these; this guards the contract at run time too.
        if self.status not in TRACKING_TAGS or not (self.substatus is None or self.substatus in SUBSTATUSES):
            raise ValueError(f"not in Porter's tracking vocabulary: {self.status!r}, {self.substatus!r}")


class TrackingService(Protocol):
    name: str

    def track(self, carrier: str, tracking_number: str) -> Optional[Tracking]:
        """The parcel's tracking, or None when the service has no record of it.

        Raises ``bot.http_client.BackendUnavailable`` when the service is down or refuses the credentials.
        """


def parse_time(value: Any) -> Optional[datetime]:
    """An ISO 8601 time from a tracking service; a time without zone is taken as UTC (carriers' local time is
    rarely more than a day off, and Porter counts days). None when missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text[:19])
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def text(value: Any) -> str:
    """A carrier's text field, or "" when it is missing or not text."""
    return value.strip() if isinstance(value, str) else ""


def place(*parts: Any) -> str:
    """'Shenzhen, CN' from the non-empty parts, without repeats."""
    seen: List[str] = []
    for part in parts:
        value = text(part)
        if value and value not in seen:
            seen.append(value)
    return ", ".join(seen)


def sort_events(events: List[TrackingEvent]) -> List[TrackingEvent]:
    """Oldest first, the same scan reported twice (by two carriers of one route) kept once."""
    unique = {}
    for event in events:
        unique.setdefault((event.at, event.description.strip().lower()), event)
    return sorted(unique.values(), key=lambda e: e.at)


class TrackedOrderStore:
    """An order store whose shipments take their events from a tracking service.

    Everything else (the order, the address, the promised date) still comes from the store. When the service
    has no record of the parcel, or no events yet, the store's own events are kept. When the service is down,
    ``BackendUnavailable`` propagates: the caller decides what to tell the shopper.
    """

    def __init__(self, store: Any, tracking: TrackingService):
        self.store = store
        self.tracking = tracking

    def __getattr__(self, name: str) -> Any:  # upsert_many, all... of the store underneath
        return getattr(self.store, name)

    def get(self, order_number: str) -> Optional[Order]:
        return self.with_tracking(self.store.get(order_number))

    def find_by_tracking_number(self, tracking_number: str) -> Optional[Order]:
        return self.with_tracking(self.store.find_by_tracking_number(tracking_number))

    def update_shipping_address(self, order_number: str, address: Address) -> Order:
        return self.with_tracking(self.store.update_shipping_address(order_number, address))

    def refund(self, order_number: str, amount: float, note: str) -> Optional[str]:
        return self.store.refund(order_number, amount, note)

    def find_refund(self, order_number: str, reference: str) -> Optional[str]:
        return self.store.find_refund(order_number, reference)

    def with_tracking(self, order: Optional[Order]) -> Optional[Order]:
        shipment = order.shipment if order else None
        if shipment is None or not shipment.tracked or not shipment.tracking_number:
            return order
        found = self.tracking.track(shipment.carrier, shipment.tracking_number)
        if found is None or not found.events:
            return order
        status = order.status
        if status == "shipped" and found.events[-1].status == "Delivered":
            status = "delivered"
        return replace(order, status=status, shipment=replace(shipment, events=list(found.events)))
