"""Parcel tracking from a tracking service, chosen with ``PORTER_TRACKING_BACKEND``.

``none`` (the default): shipments keep the events their order store has (the orders/v1 import, Shopify's
fulfillment events). ``aftership`` or ``17track``: every order read from the store, whatever the store,
gets its shipment events from that service (``TrackedOrderStore``; see ``bot.backends.open_store``).
"""

from __future__ import annotations

import os
from typing import Mapping, Optional

from bot.http_client import BackendConfigError
from bot.tracking.base import TrackedOrderStore, Tracking, TrackingService

BACKENDS = ("none", "aftership", "17track")

__all__ = ["BACKENDS", "TrackedOrderStore", "Tracking", "TrackingService", "open_tracking"]


def open_tracking(environ: Optional[Mapping[str, str]] = None) -> Optional[TrackingService]:
    """The configured tracking service, or None. A missing setting raises BackendConfigError naming it."""
    env = environ if environ is not None else os.environ
    backend = (env.get("PORTER_TRACKING_BACKEND") or "none").strip().lower()
    if backend == "none":
        return None
    if backend == "aftership":
        from bot.tracking.aftership import AfterShipTracking

        return AfterShipTracking.from_env(env)
    if backend == "17track":
        from bot.tracking.seventeen_track import SeventeenTrack

        return SeventeenTrack.from_env(env)
    raise BackendConfigError(
        f"PORTER_TRACKING_BACKEND={backend!r} is not a known tracking backend (known: {', '.join(BACKENDS)})"
    )
