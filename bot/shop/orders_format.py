"""Reading and writing the orders/v1 import format (shared/contracts/orders.md).

Validation collects every problem with the order number and field it concerns, so a merchant fixing a
file sees all mistakes at once; one bad order rejects the whole file.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any, Dict, List, Optional

from bot.shop.models import (
    ORDER_STATUSES,
    SERVICES,
    SUBSTATUSES,
    TRACKING_TAGS,
    Address,
    Item,
    Order,
    Shipment,
    TrackingEvent,
)
from bot.identifiers import EMAIL_RE

FORMAT = "orders/v1"


class OrderFileError(ValueError):
    """The file cannot be imported; ``problems`` lists each one as 'order X: field: what is wrong'."""

    def __init__(self, problems: List[str]):
        self.problems = problems
        super().__init__("; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("must include a time zone (e.g. 'Z')")
    return parsed


def _date(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date string")
    return date.fromisoformat(value[:10])


class _Checker:
    def __init__(self, label: str, problems: List[str]):
        self.label = label
        self.problems = problems

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"order {self.label}: {path}: {message}")

    def text(self, data: dict, key: str, path: str, required: bool = True) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.fail(path, "is required")
            return ""
        if not isinstance(value, str):
            self.fail(path, "must be a string")
            return ""
        return value

    def number(self, data: dict, key: str, path: str) -> float:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, "must be a number")
            return 0.0
        if value < 0:
            self.fail(path, "must not be negative")
        return float(value)

    def convert(self, func, value: Any, path: str):
        try:
            return func(value)
        except ValueError as exc:
            self.fail(path, f"{value!r} {exc}" if "must" in str(exc) else f"{value!r} is not valid ({exc})")
            return None


def _parse_order(raw: Any, index: int, problems: List[str], stored: bool = False) -> Optional[Order]:
    if not isinstance(raw, dict):
        problems.append(f"order #{index + 1}: must be an object")
        return None
    number = raw.get("order_number")
    check = _Checker(number if isinstance(number, str) and number else f"#{index + 1}", problems)
    order_number = check.text(raw, "order_number", "order_number")
    email = check.text(raw, "email", "email")
    if email and not EMAIL_RE.fullmatch(email):
        check.fail("email", f"{email!r} is not an email address")
    phone = raw.get("phone")
    if phone is not None and (not isinstance(phone, str) or not phone.startswith("+") or not phone[1:].isdigit()):
        check.fail("phone", f"{phone!r} must be in E.164 form, like +351912345678")
    currency = check.text(raw, "currency", "currency")
    if currency and (len(currency) != 3 or not currency.isupper()):
        check.fail("currency", f"{currency!r} must be an ISO 4217 code like EUR")
    total = check.number(raw, "total", "total")
    placed_at = check.convert(_datetime, raw.get("placed_at"), "placed_at")
    status = raw.get("status")
    if status not in ORDER_STATUSES:
        check.fail("status", f"{status!r} must be one of {', '.join(ORDER_STATUSES)}")

    items: List[Item] = []
    raw_items = raw.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        check.fail("items", "must be a non-empty list")
    else:
        for i, item in enumerate(raw_items):
            path = f"items[{i}]"
            if not isinstance(item, dict):
                check.fail(path, "must be an object")
                continue
            quantity = item.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                check.fail(f"{path}.quantity", "must be a whole number of at least 1")
                quantity = 1
            items.append(
                Item(
                    sku=check.text(item, "sku", f"{path}.sku"),
                    name=check.text(item, "name", f"{path}.name"),
                    quantity=quantity,
                    unit_price=check.number(item, "unit_price", f"{path}.unit_price"),
                )
            )

    address = Address()
    raw_address = raw.get("shipping_address")
    if not isinstance(raw_address, dict):
        check.fail("shipping_address", "is required and must be an object")
    else:
        fields = {}
        for key in ("name", "line1", "line2", "city", "region", "postal_code", "country"):
            # Addresses corrected in chat are kept as the shopper wrote them, in line1 alone.
            required = key in ("line1", "country") if stored else key in ("line1", "city", "country")
            fields[key] = check.text(raw_address, key, f"shipping_address.{key}", required=required)
        if fields["country"] and (len(fields["country"]) != 2 or not fields["country"].isupper()):
            check.fail("shipping_address.country", f"{fields['country']!r} must be an ISO 3166-1 alpha-2 code")
        address = Address(**fields)

    shipment = None
    raw_shipment = raw.get("shipment")
    if raw_shipment is not None:
        shipment = _parse_shipment(raw_shipment, check)
    elif status in ("shipped", "delivered"):
        check.fail("shipment", f"is required when status is {status!r}")

    language = raw.get("language")
    if language is not None and (not isinstance(language, str) or len(language) != 2):
        check.fail("language", f"{language!r} must be an ISO 639-1 code like 'pt'")
    return Order(
        order_number=order_number,
        email=email,
        phone=phone,
        customer_name=raw.get("customer_name") or "",
        language=language,
        currency=currency,
        total=total,
        placed_at=placed_at,
        status=status or "",
        items=items,
        shipping_address=address,
        shipment=shipment,
    )


def _parse_shipment(raw: Any, check: _Checker) -> Optional[Shipment]:
    if not isinstance(raw, dict):
        check.fail("shipment", "must be an object or null")
        return None
    service = raw.get("service")
    if service not in SERVICES:
        check.fail("shipment.service", f"{service!r} must be one of {', '.join(SERVICES)}")
    tracked = raw.get("tracked")
    if not isinstance(tracked, bool):
        check.fail("shipment.tracked", "must be true or false")
    tracking_number = raw.get("tracking_number")
    if tracked and not tracking_number:
        check.fail("shipment.tracking_number", "is required when tracked is true")
    events: List[TrackingEvent] = []
    raw_events = raw.get("events") or []
    if not isinstance(raw_events, list):
        check.fail("shipment.events", "must be a list")
        raw_events = []
    previous = None
    for i, event in enumerate(raw_events):
        path = f"shipment.events[{i}]"
        if not isinstance(event, dict):
            check.fail(path, "must be an object")
            continue
        at = check.convert(_datetime, event.get("at"), f"{path}.at")
        if at and previous and at < previous:
            check.fail(f"{path}.at", "events must be listed oldest first")
        previous = at or previous
        status = event.get("status")
        if status not in TRACKING_TAGS:
            check.fail(f"{path}.status", f"{status!r} must be one of {', '.join(TRACKING_TAGS)}")
        substatus = event.get("substatus")
        if substatus is not None and substatus not in SUBSTATUSES:
            check.fail(f"{path}.substatus", f"{substatus!r} must be null or one of {', '.join(SUBSTATUSES)}")
        events.append(
            TrackingEvent(
                at=at,
                location=event.get("location") or "",
                status=status,
                substatus=substatus,
                description=event.get("description") or "",
            )
        )
    return Shipment(
        carrier=check.text(raw, "carrier", "shipment.carrier"),
        service=service,
        tracked=bool(tracked),
        tracking_number=tracking_number,
        shipped_at=check.convert(_datetime, raw.get("shipped_at"), "shipment.shipped_at"),
        promised_by=check.convert(_date, raw.get("promised_by"), "shipment.promised_by"),
        events=events,
    )


def parse_orders(document: Any) -> List[Order]:
    """Validated orders from a decoded orders/v1 document, or OrderFileError listing every problem."""
    if not isinstance(document, dict):
        raise OrderFileError(["file: must be a JSON object with 'format' and 'orders'"])
    if document.get("format") != FORMAT:
        raise OrderFileError([f"file: format must be {FORMAT!r}, found {document.get('format')!r}"])
    raw_orders = document.get("orders")
    if not isinstance(raw_orders, list):
        raise OrderFileError(["file: 'orders' must be a list"])
    problems: List[str] = []
    orders = [_parse_order(raw, i, problems) for i, raw in enumerate(raw_orders)]
    seen: Dict[str, int] = {}
    for order in orders:
        if order and order.order_number:
            if order.order_number in seen:
                problems.append(f"order {order.order_number}: order_number: appears more than once in the file")
            seen[order.order_number] = 1
    if problems:
        raise OrderFileError(problems)
    return [o for o in orders if o]


def load_order_file(path: Path) -> List[Order]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OrderFileError([f"file: {path} does not exist"]) from None
    except UnicodeDecodeError:
        raise OrderFileError([f"file: {path} is not UTF-8 text"]) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OrderFileError([f"file: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]) from exc
    return parse_orders(document)


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso(v) for v in value]
    return value


def order_to_document(order: Order) -> dict:
    """The orders/v1 JSON form of one order (the store keeps orders in this shape)."""
    return _iso(asdict(order))


def order_from_document(document: dict) -> Order:
    """An order as the store kept it (the import already validated it; chat may have changed its address)."""
    problems: List[str] = []
    order = _parse_order(document, 0, problems, stored=True)
    if problems:
        raise OrderFileError(problems)
    return order
