"""The interface every order backend implements, and the choice of backend from configuration.

Actions talk only to this interface. The embedded SQLite store is the default; later adapters (Shopify)
implement the same methods, selected by ``PORTER_ORDER_BACKEND``.
"""
from __future__ import annotations

import hmac
import os
from typing import Optional, Protocol

from bot.identifiers import normalize_email, normalize_phone
from bot.shop.models import Address, Order


class OrderStore(Protocol):
    def get(self, order_number: str) -> Optional[Order]:
        """The order, or None. Callers must verify the shopper before revealing anything from it."""

    def find_by_tracking_number(self, tracking_number: str) -> Optional[Order]:
        ...

    def update_shipping_address(self, order_number: str, address: Address) -> Order:
        ...


def same_secret(a: Optional[str], b: Optional[str]) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def verify(order: Optional[Order], email: Optional[str] = None, phone: Optional[str] = None) -> bool:
    """True only when the order exists and the shopper's email (or sending phone) is the one on it."""
    if order is None:
        return False
    if email and same_secret(normalize_email(email), normalize_email(order.email)):
        return True
    if phone and order.phone and same_secret(normalize_phone(phone), normalize_phone(order.phone)):
        return True
    return False


def open_store() -> OrderStore:
    backend = os.environ.get("PORTER_ORDER_BACKEND", "sqlite")
    if backend == "sqlite":
        from bot.shop.sqlite_store import SQLiteOrderStore

        return SQLiteOrderStore()
    raise ValueError(f"PORTER_ORDER_BACKEND={backend!r} is not a known order backend (known: sqlite)")
