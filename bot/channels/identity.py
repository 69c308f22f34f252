"""Identity a channel vouches for, signed so the action server can trust it.

A WhatsApp message comes from a number Meta has verified; a storefront page may know its signed-in
customer. Either can stand in for the email check, but only when the claim carries our signature: the REST
channel lets any caller set metadata, so unsigned claims count for nothing.

The signature covers the kind, the value, the conversation the claim was made for and when it expires. A
claim copied out of one conversation (a shared link, a log, a second browser) verifies nothing in another,
and an old one verifies nothing at all. The secret (PORTER_IDENTITY_SECRET) is shared by the processes
`python -m bot serve` starts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from typing import Any, Dict, Optional

from bot.identifiers import normalize_email

METADATA_KEY = "identity"
KINDS = ("email", "phone")
MESSAGE_TTL = 15 * 60  # a channel signs each message afresh: a quarter of an hour is plenty
PAGE_TTL = 12 * 3600  # a storefront page signs once for as long as a shopper keeps the tab open


def identity_secret() -> Optional[str]:
    return os.environ.get("PORTER_IDENTITY_SECRET") or None


def derived_key(purpose: str, secret: Optional[str] = None) -> Optional[bytes]:
    """A key for one purpose (widget sessions, identities...) from the one shared secret, so a signature
    made for one purpose is never valid for another."""
    secret = secret or identity_secret()
    if not secret:
        return None
    return hmac.new(secret.encode(), f"porter:{purpose}".encode(), hashlib.sha256).digest()


def normalize(kind: str, value: str) -> str:
    if kind == "email":
        return normalize_email(value)
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return "+" + digits if digits else ""  # WhatsApp's wa_id has no '+'; orders store E.164


def _signature(kind: str, value: str, conversation: str, expires: int, secret: str) -> str:
    key = derived_key("identity", secret)
    message = "\n".join((kind, normalize(kind, value), conversation, str(expires)))
    return hmac.new(key, message.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def signed(
    kind: str,
    value: str,
    conversation: str,
    ttl: int = MESSAGE_TTL,
    secret: Optional[str] = None,
    now: Optional[float] = None,
) -> Dict[str, Any]:
    """The metadata entry a channel attaches to a message:
    {"identity": {kind: value, "conversation": ..., "expires": epoch seconds, "signature": ...}}."""
    if kind not in KINDS:
        raise ValueError(f"unknown identity kind {kind!r} (known: {', '.join(KINDS)})")
    secret = secret or identity_secret()
    if not secret:
        raise RuntimeError("PORTER_IDENTITY_SECRET is not set; `python -m bot serve` sets one")
    expires = int((time.time() if now is None else now) + ttl)
    return {
        kind: normalize(kind, value),
        "conversation": conversation,
        "expires": expires,
        "signature": _signature(kind, value, conversation, expires, secret),
    }


def trusted(
    metadata: Any, conversation: str, secret: Optional[str] = None, now: Optional[float] = None
) -> Dict[str, str]:
    """The identity in a message's metadata when its signature checks out for this conversation and it has
    not expired, e.g. {"phone": "+3460..."}; else {}."""
    claim = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    secret = secret or identity_secret()
    if not isinstance(claim, dict) or not secret:
        return {}
    signature, expires = claim.get("signature"), claim.get("expires")
    if not isinstance(signature, str) or not isinstance(expires, int) or isinstance(expires, bool):
        return {}
    if claim.get("conversation") != conversation or expires < (time.time() if now is None else now):
        return {}
    for kind in KINDS:
        value = claim.get(kind)
        if (
            isinstance(value, str)
            and value
            and hmac.compare_digest(
                signature.encode("utf-8", "surrogatepass"),
                _signature(kind, value, conversation, expires, secret).encode(),
            )
        ):
            return {kind: normalize(kind, value)}
    return {}
