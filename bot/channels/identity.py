"""Identity a channel vouches for, signed so the action server can trust it.

A WhatsApp message comes from a number Meta has verified; a storefront page may know its signed-in
customer. Either can stand in for the email check, but only when the claim carries our signature: the REST
channel lets any caller set metadata and even the input channel name, so unsigned claims count for nothing.
The secret (PORTER_IDENTITY_SECRET) is shared by the processes `python -m bot serve` starts.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any, Dict, Optional

from bot.identifiers import normalize_email

METADATA_KEY = "identity"
KINDS = ("email", "phone")


def identity_secret() -> Optional[str]:
    return os.environ.get("PORTER_IDENTITY_SECRET") or None


def normalize(kind: str, value: str) -> str:
    if kind == "email":
        return normalize_email(value)
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return "+" + digits if digits else ""  # WhatsApp's wa_id has no '+'; orders store E.164


def _signature(kind: str, value: str, secret: str) -> str:
    return hmac.new(secret.encode(), f"{kind}:{normalize(kind, value)}".encode(), hashlib.sha256).hexdigest()


def signed(kind: str, value: str, secret: Optional[str] = None) -> Dict[str, str]:
    """The metadata entry a channel attaches to a message: {"identity": {kind: value, "signature": ...}}."""
    if kind not in KINDS:
        raise ValueError(f"unknown identity kind {kind!r} (known: {', '.join(KINDS)})")
    secret = secret or identity_secret()
    if not secret:
        raise RuntimeError("PORTER_IDENTITY_SECRET is not set; `python -m bot serve` sets one")
    return {kind: normalize(kind, value), "signature": _signature(kind, value, secret)}


def trusted(metadata: Any, secret: Optional[str] = None) -> Dict[str, str]:
    """The identity in a message's metadata whose signature checks out, e.g. {"phone": "+3460..."}; else {}."""
    claim = (metadata or {}).get(METADATA_KEY) if isinstance(metadata, dict) else None
    secret = secret or identity_secret()
    if not isinstance(claim, dict) or not secret:
        return {}
    signature = str(claim.get("signature") or "")
    for kind in KINDS:
        value = claim.get(kind)
        if value and hmac.compare_digest(signature, _signature(kind, str(value), secret)):
            return {kind: normalize(kind, str(value))}
    return {}
