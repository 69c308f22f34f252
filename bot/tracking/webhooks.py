"""Pushes from the tracking services (webhooks), checked the way each service signs them, read into ``Tracking``.

Polling (``aftership.py``, ``seventeen_track.py``) learns of a parcel's news only when someone asks; a push
tells Porter when the carrier scans it. A push is trusted only when its signature over the exact bytes received
checks out, so both checks work on the raw body, before any JSON is read:

- AfterShip Tracking: header ``aftership-hmac-sha256`` = base64 (standard alphabet, padded) of
  HMAC-SHA256(key = the webhook secret, message = the raw body).
  Documented at https://www.aftership.com/docs/tracking/webhook/webhook-signature (the secret is under
  Settings > Notifications/Webhooks in AfterShip). AfterShip's Returns and Warranty products sign under other
  headers (``as-signature-hmac-sha256``, ``am-webhook-signature``); those are not accepted here.
  Body (https://www.aftership.com/docs/tracking/2025-01/webhook/webhook-specifications): ``ts`` (unix time),
  ``event`` (``tracking_update``, ``edd_revise``, ``tracking_pending_time``), ``event_id`` (a UUID v4 per
  webhook event: what duplicates are dropped by), ``is_tracking_first_tag`` and ``msg``, the tracking object
  the API answers (``tracking_number``, ``slug``, ``tag``, ``subtag``, ``checkpoints``).
- 17TRACK Tracking API v2.2: header ``sign`` = lowercase hex SHA-256 (a plain hash, not an HMAC) of
  ``<raw body>/<security key>``, the key being the account's API security key (the value ``17token`` carries).
  Documented in the WebHook section of https://api.17track.net/en/doc?version=v2.2. That section could not be
  read from a stored copy when this was written; the scheme was cross-checked against several independent
  public receivers, which all compute sha256(body + "/" + key) in hex and read the ``sign`` header.
  Body: ``{"event": "TRACKING_UPDATED" | "TRACKING_STOPPED", "data": {"number", "carrier" (17TRACK's numeric
  carrier code), "param", "tag", "track_info": {...}}}``; ``track_info`` is what ``gettrackinfo`` answers, and
  TRACKING_STOPPED (17TRACK stopped following the number) carries no ``track_info``. 17TRACK sends no event id,
  so a delivery is known by the hash of its body.

Neither scheme carries a timestamp Porter could check, so a captured push can be replayed: the delivery id lets
the handler drop what it has already taken. Settings: ``PORTER_AFTERSHIP_WEBHOOK_SECRET``,
``PORTER_17TRACK_WEBHOOK_KEY`` (the same value as ``TRACK17_API_KEY``). Secrets and bodies are never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from bot.tracking.aftership import parse_tracking
from bot.tracking.base import Tracking
from bot.tracking.seventeen_track import parse_track_info

AFTERSHIP = "aftership"
SEVENTEEN_TRACK = "17track"
MAX_BODY_BYTES = 1_000_000  # a tracking push with a long history is tens of kilobytes

SETTINGS = {AFTERSHIP: "PORTER_AFTERSHIP_WEBHOOK_SECRET", SEVENTEEN_TRACK: "PORTER_17TRACK_WEBHOOK_KEY"}
AFTERSHIP_HEADER = "aftership-hmac-sha256"
SEVENTEEN_TRACK_HEADER = "sign"
TRACKING_UPDATED, TRACKING_STOPPED = "TRACKING_UPDATED", "TRACKING_STOPPED"

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_MALFORMED = (AttributeError, KeyError, TypeError, ValueError)  # what the adapters' parsers raise on odd data


class BadPush(ValueError):
    """A verified push Porter cannot read; the message names what is wrong, never the body's content."""

    def __init__(self, service: str, problem: str):
        super().__init__(f"{service} push not readable: {problem}")
        self.service = service
        self.problem = problem


@dataclass(frozen=True)
class Push:
    """One delivery from a tracking service.

    ``delivery_id`` identifies the delivery, so a retried or replayed one can be dropped. ``carrier`` is the
    service's own carrier id (AfterShip's slug, 17TRACK's numeric code as text). ``tracking`` is None when the
    push says nothing about the parcel's state (17TRACK's TRACKING_STOPPED, an AfterShip tracking without a tag).
    """

    service: str
    delivery_id: str
    tracking_number: str
    carrier: Optional[str]
    tracking: Optional[Tracking]
    event: str = ""


def secrets_from_env(environ: Optional[Mapping[str, str]] = None) -> Dict[str, Optional[str]]:
    """Each service's signing secret, None when not set (blank counts as not set): that service's pushes are
    then refused, never accepted unchecked."""
    env = os.environ if environ is None else environ
    return {service: (env.get(name) or "").strip() or None for service, name in SETTINGS.items()}


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    """A header's value whatever the case of its name (HTTP names are case-insensitive; a dict is not)."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == wanted), None)
    return value if isinstance(value, str) else None


def verify_aftership(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """True only when ``aftership-hmac-sha256`` is the base64 HMAC-SHA256 of ``body`` under ``secret``."""
    signature = _header(headers, AFTERSHIP_HEADER)
    if not secret or not signature:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(secret.encode("utf-8"), bytes(body), hashlib.sha256).digest()
    return hmac.compare_digest(expected, given)


def verify_17track(body: bytes, headers: Mapping[str, str], key: str) -> bool:
    """True only when ``sign`` is the hex SHA-256 of ``body + b"/" + key``."""
    signature = _header(headers, SEVENTEEN_TRACK_HEADER)
    if not key or not signature:
        return False
    given = signature.strip().lower()
    if not _HEX_SHA256.fullmatch(given):
        return False
    expected = hashlib.sha256(bytes(body) + b"/" + key.encode("utf-8")).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii"))


def body_id(body: bytes) -> str:
    """The delivery id of a push without one of its own: the same bytes are the same delivery."""
    return "sha256:" + hashlib.sha256(bytes(body)).hexdigest()


def _object(service: str, body: bytes) -> Dict[str, Any]:
    try:
        document = json.loads(bytes(body))
    except ValueError:  # includes bytes that are not UTF-8
        raise BadPush(service, "the body is not JSON") from None
    if not isinstance(document, dict):
        raise BadPush(service, "the body is not a JSON object")
    return document


def _number(service: str, value: Any, where: str) -> str:
    number = value.strip() if isinstance(value, str) else ""
    if not number:
        raise BadPush(service, f"no tracking number ({where})")
    return number


def _carrier(value: Any) -> Optional[str]:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).strip() or None


def parse_aftership(body: bytes) -> Push:
    document = _object(AFTERSHIP, body)
    event = document.get("event")
    if not isinstance(event, str) or not event:
        raise BadPush(AFTERSHIP, "no 'event'")
    msg = document.get("msg")
    if not isinstance(msg, dict):
        raise BadPush(AFTERSHIP, "'msg' is not a tracking object")
    number = _number(AFTERSHIP, msg.get("tracking_number"), "msg.tracking_number")
    tracking = None
    if isinstance(msg.get("tag"), str) and msg["tag"]:
        try:
            tracking = parse_tracking(msg)
        except _MALFORMED as exc:
            raise BadPush(AFTERSHIP, f"'msg' is a tracking Porter cannot read ({type(exc).__name__})") from None
    event_id = document.get("event_id")
    delivery_id = event_id.strip() if isinstance(event_id, str) and event_id.strip() else body_id(body)
    return Push(AFTERSHIP, delivery_id, number, _carrier(msg.get("slug")), tracking, event)


def parse_17track(body: bytes) -> Push:
    document = _object(SEVENTEEN_TRACK, body)
    event = document.get("event")
    if not isinstance(event, str) or not event:
        raise BadPush(SEVENTEEN_TRACK, "no 'event'")
    data = document.get("data")
    if not isinstance(data, dict):
        raise BadPush(SEVENTEEN_TRACK, "'data' is not an object")
    number = _number(SEVENTEEN_TRACK, data.get("number"), "data.number")
    tracking = None
    if event == TRACKING_UPDATED:
        info = data.get("track_info")
        if not isinstance(info, dict):
            raise BadPush(SEVENTEEN_TRACK, "TRACKING_UPDATED without a 'data.track_info' object")
        try:
            tracking = parse_track_info(info)
        except _MALFORMED as exc:
            raise BadPush(SEVENTEEN_TRACK, f"'track_info' Porter cannot read ({type(exc).__name__})") from None
    # TRACKING_STOPPED, and any event 17TRACK adds later, say nothing about the parcel's state.
    return Push(SEVENTEEN_TRACK, body_id(body), number, _carrier(data.get("carrier")), tracking, event)
