"""Storefront widget sessions: issued by Porter, signed, never chosen by the browser.

A session handle is ``<key>.<expires>.<signature>``; the conversation it opens is ``web:<key>``. The browser
keeps the handle (the widget stores it) and shows it again on every visit; the socket.io channel joins it to
its conversation only when the signature checks out and it has not expired. A handle another browser made up,
or one copied with a changed key, opens nothing: the channel issues a fresh one instead. The signing key is
derived from PORTER_IDENTITY_SECRET, which the web server (that issues handles for the demo page) and Rasa
share. ``PORTER_WIDGET_SESSION_DAYS`` (default 30) is how long a shopper can come back to the same chat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from typing import Optional

from bot.channels.conversation_ids import conversation_id
from bot.channels.identity import derived_key

CHANNEL = "socketio"
DEFAULT_DAYS = 30
_HANDLE = re.compile(r"([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})")


def _days() -> float:
    try:
        return max(0.01, float(os.environ.get("PORTER_WIDGET_SESSION_DAYS") or DEFAULT_DAYS))
    except ValueError:
        return DEFAULT_DAYS


def _signature(key: str, expires: int, secret: Optional[str]) -> str:
    signing_key = derived_key("widget-session", secret)
    if signing_key is None:
        raise RuntimeError("PORTER_IDENTITY_SECRET is not set; `python -m bot serve` sets one")
    digest = hmac.new(signing_key, f"{key}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(secret: Optional[str] = None, now: Optional[float] = None) -> str:
    """A new handle for a new conversation."""
    key = secrets.token_urlsafe(16)
    expires = int((time.time() if now is None else now) + _days() * 86400)
    return f"{key}.{expires}.{_signature(key, expires, secret)}"


def conversation_of(handle: object, secret: Optional[str] = None, now: Optional[float] = None) -> Optional[str]:
    """The conversation a handle opens, or None when it is not one Porter issued or it has expired."""
    match = _HANDLE.fullmatch(handle) if isinstance(handle, str) else None
    if match is None:
        return None
    key, expires, signature = match.group(1), int(match.group(2)), match.group(3)
    if expires < (time.time() if now is None else now):
        return None
    if not hmac.compare_digest(signature.encode(), _signature(key, expires, secret).encode()):
        return None
    return conversation_id(CHANNEL, key)
