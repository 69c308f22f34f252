"""Signed links in Porter's emails: the unsubscribe link names whom to stop, and only Porter can write one."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Optional
from urllib.parse import quote


def _signature(contact: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"stop:{contact}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def stop_token(contact: str, secret: str) -> str:
    name = base64.urlsafe_b64encode(contact.encode()).decode().rstrip("=")
    return f"{name}.{_signature(contact, secret)}"


def contact_of(token: object, secret: str) -> Optional[str]:
    """Whom a stop link names, or None for a link Porter did not sign."""
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 600:
        return None
    name, signature = token.split(".")
    try:
        contact = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return contact if hmac.compare_digest(signature, _signature(contact, secret)) else None


def stop_url(public_url: str, contact: str, secret: str) -> str:
    return f"{public_url}/alerts/stop?t={quote(stop_token(contact, secret))}"
