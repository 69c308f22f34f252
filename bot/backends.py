"""Which order store and tracking service this deployment uses, read from its settings.

``PORTER_ORDER_BACKEND`` selects the store: ``sqlite`` (the default, the embedded store the orders/v1 import
fills) or ``shopify`` (``bot.shop.shopify_store``). With ``PORTER_TRACKING_BACKEND`` set (``aftership``,
``17track``), shipments take their events from that tracking service, whatever the store (``bot.tracking``).
Kept apart from both packages so that neither imports the other to be wired together.
"""

from __future__ import annotations

import os

from bot.http_client import BackendConfigError
from bot.shop.store import OrderStore
from bot.tracking import TrackedOrderStore, open_tracking

ORDER_BACKENDS = ("sqlite", "shopify")


def open_store() -> OrderStore:
    backend = (os.environ.get("PORTER_ORDER_BACKEND") or "sqlite").strip().lower()
    if backend == "sqlite":
        from bot.shop.sqlite_store import SQLiteOrderStore

        store = SQLiteOrderStore()
    elif backend == "shopify":
        from bot.shop.shopify_store import ShopifyOrderStore

        store = ShopifyOrderStore.from_env()
    else:
        raise BackendConfigError(
            f"PORTER_ORDER_BACKEND={backend!r} is not a known order backend (known: {', '.join(ORDER_BACKENDS)})"
        )
    tracking = open_tracking()
    return TrackedOrderStore(store, tracking) if tracking else store
