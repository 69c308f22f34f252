"""AfterShip Tracking API, version 2024-07 (https://www.aftership.com/docs/tracking/2024-07).

- ``GET {base}/tracking/2024-07/trackings/{slug}/{tracking_number}`` when the carrier's AfterShip slug is known
  (``CARRIER_SLUGS``, or the carrier text already is a slug); 2024-07 is the last version with this endpoint
  (2024-10 keeps only ``/trackings/{id}``), which is why Porter pins it.
- otherwise, or when that answers 404, ``GET {base}/tracking/2024-07/trackings?tracking_numbers=...``.
- authentication: the ``as-api-key`` header (the legacy v4 API's ``aftership-api-key`` is not used).
- answers: ``{"meta": {"code": 200}, "data": {"tracking": {...}}}`` for one tracking,
  ``{"meta": ..., "data": {"trackings": [...]}}`` for the list; each tracking has ``tag``, ``subtag`` and
  ``checkpoints[]`` (``checkpoint_time``, ``location``/``city``/``country_iso3``, ``message``, ``tag``,
  ``subtag``). A tracking AfterShip does not have (404, meta code 4004) is "no record": Porter keeps the
  store's events. Trackings get into AfterShip through its shop integration or its own API; Porter only reads.

Settings: ``AFTERSHIP_API_KEY`` (required), ``AFTERSHIP_API_URL`` (default https://api.aftership.com, tests
point it at a local stand-in), ``AFTERSHIP_API_VERSION`` (default 2024-07).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import quote

from bot.http_client import BackendUnavailable, JsonApi, checked_base_url, require_env
from bot.shop.models import TRACKING_TAGS, TrackingEvent
from bot.tracking.base import Tracking, parse_time, place, sort_events, text

logger = logging.getLogger(__name__)

API_VERSION = "2024-07"
DEFAULT_BASE_URL = "https://api.aftership.com"

# AfterShip's nine tags are Porter's statuses, by design (shared/guide/tracking-statuses.md).
TAGS: Dict[str, str] = {tag: tag for tag in TRACKING_TAGS}

# Subtags that carry a reason Porter acts on. Subtags not listed (InTransit_001 "on the way", Exception_001
# "exception", Exception_009 "rejected by carrier", Exception_020 "cancelled"...) keep only their tag.
SUBTAGS: Dict[str, str] = {
    "InTransit_005": "customs_released",  # customs clearance completed
    "InTransit_006": "customs_hold",  # handed over to customs for clearance
    "AttemptFail_001": "recipient_absent",  # failed attempt, notice left
    "AttemptFail_002": "recipient_absent",  # addressee not available
    "AttemptFail_003": "recipient_absent",  # business closed
    "Exception_002": "address_incorrect",  # customer moved
    "Exception_003": "recipient_refused",  # customer refused delivery
    "Exception_004": "customs_hold",  # delayed by customs clearance
    "Exception_005": "delayed",  # delayed by external factors
    "Exception_006": "customs_duties_unpaid",  # held for payment (duties)
    "Exception_007": "address_incorrect",  # incorrect address
    "Exception_008": "recipient_absent",  # pick-up missed
    "Exception_010": "returning_to_sender",
    "Exception_011": "returned_to_sender",
    "Exception_012": "damaged",
    "Exception_013": "lost",
    "Exception_016": "delayed",  # processing issue in the carrier's network
    "Exception_017": "delayed",  # extreme weather
    "Exception_018": "customs_documents_required",  # incorrect or missing documents
    "Exception_019": "delayed",  # late flight
    "Exception_021": "lost",  # disposed (destroyed counts as lost)
}
# A reason implied by the tag when the subtag adds none.
TAG_SUBSTATUS: Dict[str, str] = {"AttemptFail": "recipient_absent"}

# Carrier names as shops write them -> AfterShip courier slugs (https://www.aftership.com/couriers).
CARRIER_SLUGS: Dict[str, str] = {
    "china post": "china-post",
    "china ems": "china-ems",
    "ems": "china-ems",
    "yunexpress": "yunexpress",
    "yun express": "yunexpress",
    "4px": "4px",
    "yanwen": "yanwen",
    "cainiao": "cainiao",
    "sf express": "sf-express",
    "dhl": "dhl",
    "dhl express": "dhl",
    "dhl ecommerce": "dhl-global-mail",
    "ups": "ups",
    "fedex": "fedex",
    "usps": "usps",
    "royal mail": "royal-mail",
    "canada post": "canada-post",
    "correos": "spain-correos-es",
    "correios": "brazil-correios",
    "russian post": "russian-post",
    "australia post": "australia-post",
    "singapore post": "singapore-post",
    "singpost": "singapore-post",
    "la poste": "la-poste-colissimo",
    "colissimo": "la-poste-colissimo",
    "deutsche post": "deutsch-post",
    "dpd": "dpd",
    "gls": "gls",
    "postnl": "postnl",
    "ctt": "portugal-ctt",
    "hong kong post": "hong-kong-post",
    "japan post": "japan-post",
}
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def carrier_slug(carrier: Optional[str]) -> Optional[str]:
    text = " ".join((carrier or "").split())
    if text.lower() in CARRIER_SLUGS:
        return CARRIER_SLUGS[text.lower()]
    return text if _SLUG.fullmatch(text) else None


def normalize(tag: Optional[str], subtag: Optional[str]) -> Tuple[str, Optional[str]]:
    """(status, substatus) in Porter's vocabulary for an AfterShip tag and subtag."""
    status = TAGS.get(tag or "") or TAGS.get((subtag or "").split("_")[0])
    if status is None:
        logger.warning("AfterShip: unknown tag %r (subtag %r) read as InTransit", tag, subtag)
        status = "InTransit"
    return status, SUBTAGS.get(subtag or "", TAG_SUBSTATUS.get(status))


def parse_tracking(raw: Mapping[str, Any]) -> Tracking:
    events = []
    for checkpoint in raw.get("checkpoints") or []:
        if not isinstance(checkpoint, dict):
            continue
        at = parse_time(checkpoint.get("checkpoint_time")) or parse_time(checkpoint.get("created_at"))
        if at is None:
            continue
        status, substatus = normalize(checkpoint.get("tag"), checkpoint.get("subtag"))
        location = text(checkpoint.get("location")) or place(
            checkpoint.get("city"), checkpoint.get("state"), checkpoint.get("country_iso3")
        )
        events.append(
            TrackingEvent(
                at=at,
                location=location,
                status=status,
                substatus=substatus,
                description=text(checkpoint.get("message")) or text(checkpoint.get("subtag_message")),
            )
        )
    status, substatus = normalize(raw.get("tag"), raw.get("subtag"))
    return Tracking(status=status, substatus=substatus, events=sort_events(events), carrier=raw.get("slug"))


class AfterShipTracking:
    name = "AfterShip"

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = API_VERSION,
        api: Optional[JsonApi] = None,
    ):
        self.api = api or JsonApi(self.name, base_url, {"as-api-key": api_key}, credentials_hint="AFTERSHIP_API_KEY")
        self.prefix = f"/tracking/{api_version}"

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "AfterShipTracking":
        env = environ if environ is not None else os.environ
        needed_by = "PORTER_TRACKING_BACKEND=aftership"
        return cls(
            api_key=require_env("AFTERSHIP_API_KEY", needed_by, env),
            base_url=checked_base_url(env.get("AFTERSHIP_API_URL") or DEFAULT_BASE_URL, "AFTERSHIP_API_URL"),
            api_version=(env.get("AFTERSHIP_API_VERSION") or API_VERSION).strip(),
        )

    def track(self, carrier: str, tracking_number: str) -> Optional[Tracking]:
        number = tracking_number.strip()
        raw = None
        slug = carrier_slug(carrier)
        if slug:
            response = self.api.get(f"{self.prefix}/trackings/{quote(slug, safe='')}/{quote(number, safe='')}")
            raw = self._data(response).get("tracking") if response else None
            if response and raw is None and "tracking_number" in self._data(response):
                raw = self._data(response)  # later versions answer the tracking itself as data
        if raw is None:
            response = self.api.get(f"{self.prefix}/trackings", params={"tracking_numbers": number})
            trackings = self._data(response).get("trackings") if response else None
            if response and not isinstance(trackings, list):
                raise BackendUnavailable(self.name, "answered without a list of trackings")
            matches = [
                t
                for t in trackings or []
                if isinstance(t, dict) and str(t.get("tracking_number", "")).upper() == number.upper()
            ]
            matches.sort(key=lambda t: t.get("slug") != slug)  # the carrier's own first, if several
            raw = matches[0] if matches else None
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise BackendUnavailable(self.name, "answered with a tracking that is not an object")
        try:
            return parse_tracking(raw)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(
                self.name, f"answered a tracking Porter cannot read ({type(exc).__name__})"
            ) from exc

    def _data(self, response) -> Dict[str, Any]:
        body = response.data if response else None
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise BackendUnavailable(self.name, "answered without the expected 'data' object")
        return body["data"]
