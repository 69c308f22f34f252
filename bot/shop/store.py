"""The interface every order backend implements, and how a shopper is verified against an order.

Actions talk only to this interface; ``bot.backends.open_store`` picks the implementation from configuration.

Every method of a store backed by a remote system raises ``bot.http_client.BackendUnavailable`` when that
system (or the tracking service) cannot answer; a missing or wrong setting raises
``bot.http_client.BackendConfigError`` (a ValueError) from ``bot.backends.open_store()``, naming the variable.
``refund`` raises ``RefundOutcomeUnknown`` (a BackendUnavailable) when the refund may have been made all the
same: find it with ``find_refund`` before ever trying again (``bot.payments``).
"""

from __future__ import annotations

import hmac
from typing import Optional, Protocol

from bot.http_client import BackendUnavailable
from bot.identifiers import normalize_email, normalize_phone
from bot.shop.models import Address, Order


class RefundOutcomeUnknown(BackendUnavailable):
    """The refund request reached the order system but no clear answer came back (a timeout, a 5xx, an answer
    Porter cannot read): the money may or may not have gone out. Never repeat it blindly; ``find_refund`` first."""


class OrderStore(Protocol):
    def get(self, order_number: str) -> Optional[Order]:
        """The order, or None. Callers must verify the shopper before revealing anything from it."""

    def find_by_tracking_number(self, tracking_number: str) -> Optional[Order]: ...

    def update_shipping_address(self, order_number: str, address: Address) -> Order: ...

    def refund(self, order_number: str, amount: float, note: str) -> Optional[str]:
        """Returns the money in the order system; its refund id, or None when the store keeps no payments
        (the embedded store: the case Porter records is the refund's record). ``note`` is the case reference,
        which ``find_refund`` looks for. Raises RefundOutcomeUnknown when the refund may have been made anyway;
        any other BackendUnavailable (or KeyError for an unknown order) means it certainly was not."""

    def find_refund(self, order_number: str, reference: str) -> Optional[str]:
        """The order system's id of a refund of this order whose note names the case ``reference``, or None:
        how Porter learns whether an attempt that ended without a clear answer paid the money after all."""


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
