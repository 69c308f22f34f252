"""17TRACK Tracking API v2.2 (https://api.17track.net/en/doc?version=v2.2).

- ``POST {base}/gettrackinfo`` with ``[{"number": "..."}]`` answers
  ``{"code": 0, "data": {"accepted": [{"number", "carrier", "track_info": {...}}], "rejected": [...]}}``.
  ``track_info.latest_status`` has ``status`` and ``sub_status``; ``track_info.tracking.providers[].events[]``
  has ``time_iso``/``time_utc``, ``description``, ``location``, ``stage``, ``sub_status`` and ``address``,
  newest first (Porter sorts them oldest first).
- a number 17TRACK does not follow yet is rejected with error -18019902; Porter registers it
  (``POST {base}/register``, same body; -18019901 "already registered" is fine) and asks once more. 17TRACK
  then queries the carrier in the background, so the first answer can be empty: the store's events are kept
  until it has some. The carrier is left to 17TRACK's auto-detection.
- authentication: the ``17token`` header. A wrong key is HTTP 401 or error -18010002 (IP not allowed:
  -18010001, account disabled: -18010004, unauthorized: -18010005): ``BackendCredentialsError``.

Settings: ``TRACK17_API_KEY`` (required), ``TRACK17_API_URL`` (default https://api.17track.net/track/v2.2).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Mapping, Optional, Tuple

from bot.http_client import BackendCredentialsError, BackendUnavailable, JsonApi, checked_base_url, require_env
from bot.shop.models import TrackingEvent
from bot.tracking.base import Tracking, parse_time, place, sort_events, text

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.17track.net/track/v2.2"

# 17TRACK's nine main statuses -> Porter's statuses (shared/guide/tracking-statuses.md).
STATUSES: Dict[str, str] = {
    "NotFound": "Pending",
    "InfoReceived": "InfoReceived",
    "InTransit": "InTransit",
    "Expired": "Expired",
    "AvailableForPickup": "AvailableForPickup",
    "OutForDelivery": "OutForDelivery",
    "DeliveryFailure": "AttemptFail",
    "Delivered": "Delivered",
    "Exception": "Exception",
}
# Sub-statuses that carry a reason Porter acts on; the others (InTransit_PickedUp, InTransit_Other,
# DeliveryFailure_Other, Exception_Other, Exception_Cancel, NotFound_InvalidCode...) keep only their status.
SUB_STATUSES: Dict[str, str] = {
    "InTransit_CustomsProcessing": "customs_hold",
    "InTransit_CustomsReleased": "customs_released",
    "InTransit_CustomsRequiringInformation": "customs_documents_required",
    "DeliveryFailure_NoBody": "recipient_absent",
    "DeliveryFailure_Security": "customs_hold",  # security, customs clearance or fees
    "DeliveryFailure_Rejected": "recipient_refused",
    "DeliveryFailure_InvalidAddress": "address_incorrect",
    "Exception_Returning": "returning_to_sender",
    "Exception_Returned": "returned_to_sender",
    "Exception_NoBody": "recipient_absent",
    "Exception_Security": "customs_hold",
    "Exception_Damage": "damaged",
    "Exception_Rejected": "recipient_refused",
    "Exception_Delayed": "delayed",
    "Exception_Lost": "lost",
    "Exception_Destroyed": "lost",  # destroyed counts as lost
}
# An event's milestone stage, for events that come without a sub_status.
STAGES: Dict[str, Tuple[str, Optional[str]]] = {
    "InfoReceived": ("InfoReceived", None),
    "PickedUp": ("InTransit", None),
    "Departure": ("InTransit", None),
    "Arrival": ("InTransit", None),
    "AvailableForPickup": ("AvailableForPickup", None),
    "OutForDelivery": ("OutForDelivery", None),
    "Delivered": ("Delivered", None),
    "Returning": ("Exception", "returning_to_sender"),
    "Returned": ("Exception", "returned_to_sender"),
}

NOT_REGISTERED = -18019902
ALREADY_REGISTERED = -18019901
CREDENTIAL_ERRORS = {
    -18010001: "this server's IP is not allowed",
    -18010002: "the key is not valid",
    -18010004: "the account is disabled",
    -18010005: "access is not authorized",
}


def normalize(status: Optional[str], sub_status: Optional[str]) -> Tuple[str, Optional[str]]:
    """(status, substatus) in Porter's vocabulary; the main status is read from the sub-status if missing."""
    main = status or (sub_status or "").split("_")[0]
    normalized = STATUSES.get(main)
    if normalized is None:
        logger.warning("17TRACK: unknown status %r (sub-status %r) read as InTransit", status, sub_status)
        normalized = "InTransit"
    return normalized, SUB_STATUSES.get(sub_status or "")


def parse_track_info(info: Mapping[str, Any]) -> Tracking:
    latest = info.get("latest_status") or {}
    status, substatus = normalize(latest.get("status"), latest.get("sub_status"))
    events = []
    carrier = None
    providers = (info.get("tracking") or {}).get("providers") or []
    for provider in providers:
        if not isinstance(provider, dict):
            continue
        carrier = carrier or text((provider.get("provider") or {}).get("name")) or None
        for event in provider.get("events") or []:
            if not isinstance(event, dict):
                continue
            at = parse_time(event.get("time_utc")) or parse_time(event.get("time_iso"))
            if at is None:
                continue
            if event.get("sub_status"):
                event_status, event_substatus = normalize(None, event["sub_status"])
            else:
                event_status, event_substatus = STAGES.get(event.get("stage") or "", ("InTransit", None))
            address = event.get("address") or {}
            location = text(event.get("location")) or place(
                address.get("city"), address.get("state"), address.get("country")
            )
            events.append(
                TrackingEvent(
                    at=at,
                    location=location,
                    status=event_status,
                    substatus=event_substatus,
                    description=text(event.get("description")),
                )
            )
    return Tracking(status=status, substatus=substatus, events=sort_events(events), carrier=carrier)


class SeventeenTrack:
    name = "17TRACK"

    def __init__(self, api_key: str, api_url: str = DEFAULT_API_URL, api: Optional[JsonApi] = None):
        self.api = api or JsonApi(self.name, api_url, {"17token": api_key}, credentials_hint="TRACK17_API_KEY")

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "SeventeenTrack":
        env = environ if environ is not None else os.environ
        return cls(
            api_key=require_env("TRACK17_API_KEY", "PORTER_TRACKING_BACKEND=17track", env),
            api_url=checked_base_url(env.get("TRACK17_API_URL") or DEFAULT_API_URL, "TRACK17_API_URL"),
        )

    def track(self, carrier: str, tracking_number: str) -> Optional[Tracking]:
        number = tracking_number.strip()
        found = self._track_info(number)
        if found is NOT_REGISTERED:
            self._register(number)
            found = self._track_info(number)
        if not isinstance(found, dict) or not found:
            return None
        try:
            return parse_track_info(found)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(self.name, f"answered tracking Porter cannot read ({type(exc).__name__})") from exc

    def _call(self, endpoint: str, number: str) -> Dict[str, Any]:
        # Both calls are safe to repeat: one reads, the other refuses a duplicate registration.
        response = self.api.post(f"/{endpoint}", [{"number": number}], idempotent=True)
        if response is None:
            raise BackendUnavailable(self.name, f"has no /{endpoint} (HTTP 404): check TRACK17_API_URL", 404)
        body = response.data
        if not isinstance(body, dict) or not isinstance(body.get("code"), int):
            raise BackendUnavailable(self.name, "answered without the expected 'code'")
        code = body["code"]
        if code in CREDENTIAL_ERRORS:
            raise BackendCredentialsError(
                self.name, f"refused the credentials ({CREDENTIAL_ERRORS[code]}): check TRACK17_API_KEY"
            )
        if code != 0:
            raise BackendUnavailable(self.name, f"answered error {code} to /{endpoint}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise BackendUnavailable(self.name, "answered without the expected 'data' object")
        return data

    @staticmethod
    def _find(items: Any, number: str) -> Optional[Dict[str, Any]]:
        for item in items or []:
            if isinstance(item, dict) and str(item.get("number", "")).upper() == number.upper():
                return item
        return None

    def _track_info(self, number: str) -> Any:
        """The track_info dict, NOT_REGISTERED, or None when 17TRACK has nothing for this number."""
        data = self._call("gettrackinfo", number)
        accepted = self._find(data.get("accepted"), number)
        if accepted is not None:
            return accepted.get("track_info") or None
        rejected = self._find(data.get("rejected"), number)
        code = ((rejected or {}).get("error") or {}).get("code")
        if code == NOT_REGISTERED:
            return NOT_REGISTERED
        if rejected is not None:
            logger.warning("17TRACK: gettrackinfo rejected a number (error %s)", code)
        return None

    def _register(self, number: str) -> None:
        data = self._call("register", number)
        rejected = self._find(data.get("rejected"), number)
        code = ((rejected or {}).get("error") or {}).get("code")
        if rejected is not None and code != ALREADY_REGISTERED:
            logger.warning("17TRACK: register rejected a number (error %s)", code)
