"""Orders from a Shopify shop through the Admin REST API, version 2024-07
(https://shopify.dev/docs/api/admin-rest/2024-07).

Calls (all under ``{SHOPIFY_SHOP_URL}/admin/api/{version}/``, header ``X-Shopify-Access-Token``):

- ``GET orders.json?name=...&status=any``: an order by its name as the shopper types it ("#1001", "1001",
  "A10023"). ``status=any`` includes closed and cancelled orders.
- ``GET orders/{id}/fulfillments/{fulfillment_id}/events.json``: the shipment's scans, when the shop or its
  carrier integration records them.
- ``GET orders.json?status=any&fields=id,name,fulfillments`` (paged by the Link header): finding an order by
  tracking number. Shopify has no filter for it, so Porter reads the most recent orders,
  ``SHOPIFY_TRACKING_SCAN_PAGES`` pages of 250 (default 4).
- ``PUT orders/{id}.json``: a new shipping address, only before the order is fulfilled.
- ``POST orders/{id}/refunds/calculate.json`` then ``POST orders/{id}/refunds.json``: a refund to the original
  payment method; the calculation gives the transaction to refund against. A full refund also refunds the
  line items (not restocked) and shipping; a smaller amount is a refund of that amount only. The refund's
  ``note`` is Porter's case reference.
- ``GET orders/{id}/refunds.json``: the order's refunds, to find one whose ``note`` names a case reference
  and whose money went out or is going out (a refund transaction ``success`` or ``pending``): how Porter
  reconciles a refund whose POST ended without a clear answer before trying again.

Mapping onto ``bot.shop.models.Order``: ``name`` -> order number; ``email`` (else ``contact_email``, else the
customer's); ``phone`` (else the shipping address's, else the customer's); ``customer_locale`` ("pt-BR") ->
language "pt"; ``currency`` and ``total_price`` (shop currency); ``created_at``; ``cancelled_at`` ->
cancelled; the latest successful fulfillment -> the shipment (``tracking_company``, ``tracking_number``,
``created_at`` as shipped time, ``shipment_status``); ``shipping_lines[0]`` title/code -> service
(``SERVICE_KEYWORDS``); promised date = shipped date + ``promised_days`` of the policy for that service and
the destination country. An order with several shipments is read as its latest one.

Token scopes: ``read_orders`` and ``write_orders`` (address changes, refunds); ``read_all_orders`` for orders
older than 60 days. Settings: ``SHOPIFY_SHOP_URL``, ``SHOPIFY_ACCESS_TOKEN``, ``SHOPIFY_API_VERSION``
(default 2024-07), ``SHOPIFY_TRACKING_SCAN_PAGES``.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Tuple

from bot.http_client import (
    BackendConfigError,
    BackendRejected,
    BackendUnavailable,
    JsonApi,
    checked_base_url,
    require_env,
)
from bot.identifiers import normalize_order_number
from bot.shop.models import Address, Item, Order, Shipment, TrackingEvent
from bot.shop.store import RefundOutcomeUnknown

logger = logging.getLogger(__name__)

API_VERSION = "2024-07"
BACKEND = "Shopify"

# Words in a shipping line's title or code that tell its service; the first group that matches wins, and a
# line matching none is "standard". Name shipping rates accordingly ("Express (5-8 days)", "Economy").
SERVICE_KEYWORDS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("express", ("express", "expedited", "priority", "overnight", "next day", "next-day")),
    ("economy", ("economy", "untracked", "saver", "small packet", "free shipping", "free")),
)

# Shopify's fulfillment event statuses (and a fulfillment's shipment_status) -> Porter's (status, substatus).
EVENT_STATUSES: Dict[str, Tuple[str, Optional[str]]] = {
    "label_printed": ("InfoReceived", None),
    "label_purchased": ("InfoReceived", None),
    "confirmed": ("InfoReceived", None),
    "carrier_picked_up": ("InTransit", None),
    "in_transit": ("InTransit", None),
    "delayed": ("InTransit", "delayed"),
    "out_for_delivery": ("OutForDelivery", None),
    "attempted_delivery": ("AttemptFail", "recipient_absent"),
    "ready_for_pickup": ("AvailableForPickup", None),
    "picked_up": ("Delivered", None),  # collected by the customer
    "delivered": ("Delivered", None),
    "failure": ("Exception", None),
}


def _datetime(value: Any) -> Optional[datetime]:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _money(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _money_moved(refund: Mapping[str, Any]) -> bool:
    """A refund whose money went out or is on its way: one of its refund transactions succeeded or is
    pending (a failed or errored transaction returned nothing)."""
    return any(
        isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") in ("success", "pending")
        for t in refund.get("transactions") or []
    )


def _language(locale: Any) -> Optional[str]:
    code = str(locale or "").split("-")[0].split("_")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


def _phone(*candidates: Any) -> Optional[str]:
    for value in candidates:
        if isinstance(value, str) and value.strip():
            text = value.strip()
            digits = "".join(c for c in text if c.isdigit())
            return ("+" + digits) if text.startswith("+") else digits or None
    return None


def service_of(shipping_lines: Any) -> str:
    lines = [line for line in shipping_lines or [] if isinstance(line, dict)]
    text = " ".join(f"{line.get('title') or ''} {line.get('code') or ''}" for line in lines[:1]).lower()
    for service, words in SERVICE_KEYWORDS:
        if any(word in text for word in words):
            return service
    return "standard"


def address_from_shopify(raw: Any) -> Address:
    raw = raw if isinstance(raw, dict) else {}
    name = raw.get("name") or " ".join(p for p in (raw.get("first_name"), raw.get("last_name")) if p)
    return Address(
        name=name or "",
        line1=raw.get("address1") or "",
        line2=raw.get("address2") or "",
        city=raw.get("city") or "",
        region=raw.get("province_code") or raw.get("province") or "",
        postal_code=raw.get("zip") or "",
        country=(raw.get("country_code") or "").upper(),
    )


def address_to_shopify(address: Address, current: Mapping[str, Any]) -> Dict[str, Any]:
    """Every field set, so nothing of the old address survives next to the new one."""
    fields: Dict[str, Any] = {
        "address1": address.line1,
        "address2": address.line2,
        "city": address.city,
        "province": address.region,
        "zip": address.postal_code,
        "country_code": address.country or current.get("country_code") or "",
    }
    if address.name and address.name != current.get("name"):
        first, _, last = address.name.partition(" ")
        fields.update(first_name=first, last_name=last)
    return fields


def _successful_fulfillments(raw: Mapping[str, Any]) -> List[Dict[str, Any]]:
    found = [f for f in raw.get("fulfillments") or [] if isinstance(f, dict) and f.get("status") == "success"]
    return sorted(found, key=lambda f: f.get("created_at") or "")


def _tracking_numbers(fulfillment: Mapping[str, Any]) -> List[str]:
    numbers = [fulfillment.get("tracking_number")] + list(fulfillment.get("tracking_numbers") or [])
    return [str(n).strip() for n in numbers if n and str(n).strip()]


def event_from_shopify(raw: Mapping[str, Any]) -> Optional[TrackingEvent]:
    at = _datetime(raw.get("happened_at")) or _datetime(raw.get("created_at"))
    status = EVENT_STATUSES.get(str(raw.get("status") or ""))
    if at is None or status is None:
        return None
    parts = (raw.get("city"), raw.get("province"), raw.get("country"))
    location = ", ".join(p for p in parts if isinstance(p, str) and p)
    message = raw.get("message")
    return TrackingEvent(
        at=at,
        location=location,
        status=status[0],
        substatus=status[1],
        description=message if isinstance(message, str) and message else str(raw.get("status")).replace("_", " "),
    )


class ShopifyOrderStore:
    """An OrderStore on a Shopify shop. Every method raises BackendUnavailable when Shopify cannot answer."""

    def __init__(
        self,
        shop_url: str,
        access_token: str,
        api_version: str = API_VERSION,
        policy: Any = None,
        api: Optional[JsonApi] = None,
        tracking_scan_pages: int = 4,
    ):
        self.api = api or JsonApi(
            BACKEND, shop_url, {"X-Shopify-Access-Token": access_token}, credentials_hint="SHOPIFY_ACCESS_TOKEN"
        )
        self.prefix = f"/admin/api/{api_version}"
        self._policy = policy
        self.tracking_scan_pages = tracking_scan_pages

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "ShopifyOrderStore":
        env = environ if environ is not None else os.environ
        needed_by = "PORTER_ORDER_BACKEND=shopify"
        pages = (env.get("SHOPIFY_TRACKING_SCAN_PAGES") or "4").strip()
        if not pages.isdigit() or not 1 <= int(pages) <= 40:
            raise BackendConfigError(f"SHOPIFY_TRACKING_SCAN_PAGES={pages!r} must be a whole number from 1 to 40")
        return cls(
            shop_url=checked_base_url(require_env("SHOPIFY_SHOP_URL", needed_by, env), "SHOPIFY_SHOP_URL"),
            access_token=require_env("SHOPIFY_ACCESS_TOKEN", needed_by, env),
            api_version=(env.get("SHOPIFY_API_VERSION") or API_VERSION).strip(),
            tracking_scan_pages=int(pages),
        )

    @property
    def policy(self):
        if self._policy is None:
            from bot.decisions.policy import load_policy

            self._policy = load_policy()
        return self._policy

    # --- reading ---------------------------------------------------------------------------------------------

    def _path(self, resource: str) -> str:
        return f"{self.prefix}/{resource}"

    def _body(self, response, key: str, kind: type) -> Any:
        body = response.data if response else None
        value = body.get(key) if isinstance(body, dict) else None
        if not isinstance(value, kind):
            raise BackendUnavailable(BACKEND, f"answered without the expected '{key}'")
        return value

    def _find_raw(self, order_number: str) -> Optional[Dict[str, Any]]:
        wanted = normalize_order_number(order_number)
        if not wanted:
            return None
        typed = order_number.strip()
        for name in dict.fromkeys([typed, "#" + wanted]):
            response = self.api.get(self._path("orders.json"), params={"name": name, "status": "any", "limit": 10})
            if response is None:
                continue
            for raw in self._body(response, "orders", list):
                if isinstance(raw, dict) and normalize_order_number(str(raw.get("name") or "")) == wanted:
                    return raw
        return None

    def _events(self, raw: Mapping[str, Any], fulfillment: Mapping[str, Any]) -> List[TrackingEvent]:
        response = self.api.get(self._path(f"orders/{raw.get('id')}/fulfillments/{fulfillment.get('id')}/events.json"))
        events = [
            event_from_shopify(e)
            for e in (self._body(response, "fulfillment_events", list) if response else [])
            if isinstance(e, dict)
        ]
        found = sorted((e for e in events if e), key=lambda e: e.at)
        if not found and fulfillment.get("shipment_status") in EVENT_STATUSES:
            # No scans recorded, only the fulfillment's latest state: one event for it, at its last update.
            at = _datetime(fulfillment.get("updated_at")) or _datetime(fulfillment.get("created_at"))
            status, substatus = EVENT_STATUSES[fulfillment["shipment_status"]]
            if at:
                found = [
                    TrackingEvent(
                        at=at,
                        location="",
                        status=status,
                        substatus=substatus,
                        description=fulfillment["shipment_status"].replace("_", " "),
                    )
                ]
        return found

    def _shipment(self, raw: Mapping[str, Any], country: str) -> Optional[Shipment]:
        fulfillments = _successful_fulfillments(raw)
        if not fulfillments:
            return None
        latest = fulfillments[-1]
        shipped_at = _datetime(latest.get("created_at")) or _datetime(raw.get("created_at"))
        if shipped_at is None:
            raise BackendUnavailable(BACKEND, "answered a fulfillment without a creation time")
        service = service_of(raw.get("shipping_lines"))
        numbers = _tracking_numbers(latest)
        return Shipment(
            carrier=latest.get("tracking_company") or "",
            service=service,
            tracked=bool(numbers),
            tracking_number=numbers[0] if numbers else None,
            shipped_at=shipped_at,
            promised_by=self.policy.promised_by(shipped_at, service, country),
            events=self._events(raw, latest),
        )

    def order_from_shopify(self, raw: Mapping[str, Any]) -> Order:
        customer = raw.get("customer") if isinstance(raw.get("customer"), dict) else {}
        shipping = raw.get("shipping_address") if isinstance(raw.get("shipping_address"), dict) else {}
        address = address_from_shopify(shipping)
        shipment = self._shipment(raw, address.country)
        if raw.get("cancelled_at"):
            status = "cancelled"
        elif shipment is None:
            status = "unfulfilled"
        elif (shipment.events and shipment.events[-1].status == "Delivered") or _successful_fulfillments(raw)[-1].get(
            "shipment_status"
        ) == "delivered":
            status = "delivered"
        else:
            status = "shipped"
        placed_at = _datetime(raw.get("created_at"))
        if placed_at is None:
            raise BackendUnavailable(BACKEND, "answered an order without a creation time")
        items = [
            Item(
                sku=li.get("sku") or "",
                name=li.get("name") or li.get("title") or "",
                quantity=int(li.get("quantity") or 1),
                unit_price=_money(li.get("price")),
            )
            for li in raw.get("line_items") or []
            if isinstance(li, dict)
        ]
        customer_name = address.name or " ".join(
            p for p in (customer.get("first_name"), customer.get("last_name")) if p
        )
        return Order(
            order_number=str(raw.get("name") or raw.get("order_number") or ""),
            email=raw.get("email") or raw.get("contact_email") or customer.get("email") or "",
            phone=_phone(raw.get("phone"), shipping.get("phone"), customer.get("phone")),
            customer_name=customer_name,
            language=_language(raw.get("customer_locale")),
            currency=raw.get("currency") or "",
            total=_money(raw.get("total_price")),
            placed_at=placed_at,
            status=status,
            items=items,
            shipping_address=address,
            shipment=shipment,
        )

    def _order(self, raw: Mapping[str, Any]) -> Order:
        """order_from_shopify, with an answer Porter cannot read reported as BackendUnavailable."""
        try:
            return self.order_from_shopify(raw)
        except BackendUnavailable:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(BACKEND, f"answered an order Porter cannot read ({type(exc).__name__})") from exc

    def get(self, order_number: str) -> Optional[Order]:
        raw = self._find_raw(order_number)
        return self._order(raw) if raw else None

    def find_by_tracking_number(self, tracking_number: str) -> Optional[Order]:
        wanted = tracking_number.strip().upper()
        if not wanted:
            return None
        path: Optional[str] = self._path("orders.json")
        params: Optional[Dict[str, Any]] = {"status": "any", "limit": 250, "fields": "id,name,fulfillments"}
        for _ in range(self.tracking_scan_pages):
            response = self.api.get(path, params=params)
            if response is None:
                return None
            for raw in self._body(response, "orders", list):
                fulfillments = raw.get("fulfillments") if isinstance(raw, dict) else None
                if any(
                    wanted in (n.upper() for n in _tracking_numbers(f))
                    for f in fulfillments or []
                    if isinstance(f, dict)
                ):
                    full = self.api.get(self._path(f"orders/{raw.get('id')}.json"))
                    return self._order(self._body(full, "order", dict)) if full else None
            path, params = (response.links.get("next") or {}).get("url"), None
            if not path:
                return None
        return None

    # --- changing --------------------------------------------------------------------------------------------

    def _require(self, order_number: str) -> Dict[str, Any]:
        raw = self._find_raw(order_number)
        if raw is None:
            raise KeyError(order_number)
        return raw

    def update_shipping_address(self, order_number: str, address: Address) -> Order:
        """The order with its new address. Raises KeyError for an unknown order, ValueError once it is fulfilled
        (the parcel's label is printed: changing the order would not change where the parcel goes)."""
        raw = self._require(order_number)
        if _successful_fulfillments(raw):
            raise ValueError(f"order {raw.get('name')} is already fulfilled; its shipping address stays as shipped")
        current = raw.get("shipping_address") if isinstance(raw.get("shipping_address"), dict) else {}
        body = {"order": {"id": raw.get("id"), "shipping_address": address_to_shopify(address, current)}}
        response = self.api.put(self._path(f"orders/{raw.get('id')}.json"), body)
        if response is None:
            raise KeyError(order_number)
        updated = self._order(self._body(response, "order", dict))
        logger.info("Shopify: shipping address of order %s updated", updated.order_number)
        return updated

    def refund(self, order_number: str, amount: float, note: str) -> Optional[str]:
        """Refunds ``amount`` (in the order's currency) to the original payment method; returns Shopify's
        refund id. Raises KeyError for an unknown order, BackendRejected when nothing is left to refund,
        RefundOutcomeUnknown when Shopify may have made the refund without confirming it."""
        raw = self._require(order_number)
        order_id = raw.get("id")
        currency = raw.get("currency")
        line_items = [
            {"line_item_id": li.get("id"), "quantity": li.get("quantity"), "restock_type": "no_restock"}
            for li in raw.get("line_items") or []
            if isinstance(li, dict) and li.get("id")
        ]
        full = {"shipping": {"full_refund": True}, "refund_line_items": line_items}
        calculated = self.api.post(
            self._path(f"orders/{order_id}/refunds/calculate.json"),
            {"refund": {"currency": currency, **full}},
            idempotent=True,
        )
        if calculated is None:
            raise KeyError(order_number)
        suggestion = self._body(calculated, "refund", dict)
        transactions = self._refund_transactions(suggestion.get("transactions"), amount)
        if not transactions:
            raise BackendRejected(BACKEND, f"has nothing left to refund on order {raw.get('name')}")
        refundable = sum(
            _money(t.get("maximum_refundable") or t.get("amount"))
            for t in suggestion.get("transactions") or []
            if isinstance(t, dict)
        )
        refund: Dict[str, Any] = {"currency": currency, "notify": True, "note": note, "transactions": transactions}
        if amount >= refundable - 0.005:
            refund.update(
                shipping={"full_refund": True}, refund_line_items=suggestion.get("refund_line_items") or line_items
            )
        refund_id = self._create_refund(order_number, order_id, refund)
        logger.info("Shopify: refund %s created on order %s", refund_id, raw.get("name"))
        return refund_id

    def _create_refund(self, order_number: str, order_id: Any, refund: Dict[str, Any]) -> str:
        """The POST that moves money. Whatever leaves open whether Shopify made the refund (the client's
        `may_have_taken_effect`, or a success answer Porter cannot read) is RefundOutcomeUnknown."""
        try:
            created = self.api.post(self._path(f"orders/{order_id}/refunds.json"), {"refund": refund})
        except BackendRejected:
            raise
        except BackendUnavailable as exc:
            if exc.may_have_taken_effect or (exc.status or 0) // 100 == 2:
                raise RefundOutcomeUnknown(BACKEND, exc.reason, exc.status) from exc
            raise
        if created is None:
            raise KeyError(order_number)
        body = created.data.get("refund") if isinstance(created.data, dict) else None
        refund_id = body.get("id") if isinstance(body, dict) else None
        if refund_id is None:
            raise RefundOutcomeUnknown(BACKEND, "answered the refund without its id", created.status)
        return str(refund_id)

    def find_refund(self, order_number: str, reference: str) -> Optional[str]:
        """Shopify's id of the order's refund whose note names ``reference`` and whose money went out (or is
        going out), else None. Raises KeyError for an unknown order."""
        raw = self._require(order_number)
        response = self.api.get(
            self._path(f"orders/{raw.get('id')}/refunds.json"), params={"limit": 250, "fields": "id,note,transactions"}
        )
        if response is None:
            raise KeyError(order_number)
        names = re.compile(rf"(?<![A-Z0-9]){re.escape(reference.strip().upper())}(?![A-Z0-9])")
        for refund in self._body(response, "refunds", list):
            if (
                isinstance(refund, dict)
                and names.search(str(refund.get("note") or "").upper())
                and _money_moved(refund)
                and refund.get("id") is not None
            ):
                return str(refund["id"])
        return None

    @staticmethod
    def _refund_transactions(suggested: Any, amount: float) -> List[Dict[str, Any]]:
        """``amount`` spread over the payments the calculation suggests refunding, none above its maximum."""
        left = round(amount, 2)
        transactions = []
        for t in suggested or []:
            if not isinstance(t, dict) or left <= 0:
                continue
            most = _money(t.get("maximum_refundable") or t.get("amount"))
            take = round(min(left, most), 2)
            if take <= 0:
                continue
            transactions.append(
                {
                    "parent_id": t.get("parent_id"),
                    "amount": f"{take:.2f}",
                    "kind": "refund",
                    "gateway": t.get("gateway"),
                }
            )
            left = round(left - take, 2)
        return transactions
