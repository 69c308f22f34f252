"""Orders as the assistant sees them, whatever system they come from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import List, Optional

TRACKING_TAGS = (
    "Pending",
    "InfoReceived",
    "InTransit",
    "OutForDelivery",
    "AttemptFail",
    "Delivered",
    "AvailableForPickup",
    "Exception",
    "Expired",
)
SUBSTATUSES = (
    "customs_hold",
    "customs_documents_required",
    "customs_duties_unpaid",
    "customs_released",
    "address_incorrect",
    "recipient_absent",
    "recipient_refused",
    "returning_to_sender",
    "returned_to_sender",
    "damaged",
    "lost",
    "delayed",
)
ORDER_STATUSES = ("unfulfilled", "shipped", "delivered", "cancelled")
SERVICES = ("economy", "standard", "express")


@dataclass
class Item:
    sku: str
    name: str
    quantity: int
    unit_price: float


@dataclass
class Address:
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""

    def one_line(self) -> str:
        parts = [
            self.name,
            self.line1,
            self.line2,
            " ".join(p for p in (self.postal_code, self.city) if p),
            self.region,
            self.country,
        ]
        return ", ".join(p for p in parts if p)


@dataclass
class TrackingEvent:
    at: datetime
    location: str
    status: str
    substatus: Optional[str]
    description: str


@dataclass
class Shipment:
    carrier: str
    service: str
    tracked: bool
    tracking_number: Optional[str]
    shipped_at: datetime
    promised_by: date
    events: List[TrackingEvent] = field(default_factory=list)

    @property
    def last_event(self) -> Optional[TrackingEvent]:
        return self.events[-1] if self.events else None


@dataclass
class Order:
    order_number: str
    email: str
    phone: Optional[str]
    customer_name: str
    language: Optional[str]
    currency: str
    total: float
    placed_at: datetime
    status: str
    items: List[Item]
    shipping_address: Address
    shipment: Optional[Shipment] = None

    def to_dict(self) -> dict:
        return asdict(self)
