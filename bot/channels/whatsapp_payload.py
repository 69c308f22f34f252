"""Reading a WhatsApp Cloud API webhook notification into the messages Porter acts on.

Meta posts ``{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
"value": {...}}]}]}``. A value holds ``messages[]`` (what shoppers sent) and/or ``statuses[]`` (delivery
and read receipts for what we sent, which need nothing from us). The shapes we rely on are checked and a
payload that breaks them is refused whole with a message naming the place (``PayloadError``); fields we do
not use are never checked, so Meta adding one changes nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from bot.identifiers import mask_phone

logger = logging.getLogger(__name__)

SUPPORTED_TYPES = ("text", "interactive", "button", "image")


class PayloadError(ValueError):
    """The body is not a WhatsApp notification we can read; the message says where and why."""


@dataclass(frozen=True)
class Inbound:
    wamid: str  # Meta's message id, used to drop resent notifications
    wa_id: str  # the shopper's WhatsApp number, digits only: the Rasa sender id
    type: str  # WhatsApp's message type as sent
    text: Optional[str]  # what Rasa receives; None for types Porter cannot read
    timestamp: Optional[float]  # when the shopper sent it (Unix seconds), None when absent
    attachments: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return self.text is not None


def _object(value: Any, where: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object")
    return value


def _list(value: Any, where: str, required: bool = False) -> List[Any]:
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where} must be a list")
    return value


def _string(value: Any, where: str, required: bool = True) -> Optional[str]:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise PayloadError(f"{where} must be a non-empty string")
    return value


def _timestamp(value: Any) -> Optional[float]:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def parse_notification(body: bytes, phone_number_id: Optional[str] = None) -> List[Inbound]:
    """Every shopper message in the notification, in order. Messages addressed to another of the business's
    numbers than ``phone_number_id`` are left out (we could only answer from the wrong number)."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("the body is not JSON") from None
    document = _object(document, "the body")
    messages: List[Inbound] = []
    for e, entry in enumerate(_list(document.get("entry"), "entry", required=True)):
        entry = _object(entry, f"entry[{e}]")
        for c, change in enumerate(_list(entry.get("changes"), f"entry[{e}].changes")):
            where = f"entry[{e}].changes[{c}]"
            change = _object(change, where)
            if change.get("field", "messages") != "messages":
                continue  # account, template and quality updates: nothing for a shopper conversation
            value = _object(change.get("value"), f"{where}.value")
            metadata = _object(value.get("metadata") or {}, f"{where}.value.metadata")
            addressed_to = metadata.get("phone_number_id")
            found = [
                _message(m, f"{where}.value.messages[{i}]")
                for i, m in enumerate(_list(value.get("messages"), f"{where}.value.messages"))
            ]
            if found and phone_number_id and addressed_to and str(addressed_to) != str(phone_number_id):
                logger.info("whatsapp: ignored %d message(s) sent to another phone number id", len(found))
                continue
            messages.extend(found)
            # value["statuses"]: receipts for our own messages; nothing to do.
    return messages


def _message(message: Any, where: str) -> Inbound:
    message = _object(message, where)
    wa_id = _string(message.get("from"), f"{where}.from")
    if not wa_id.strip().lstrip("+").isdigit():
        raise PayloadError(f"{where}.from must be a phone number (digits)")
    wa_id = wa_id.strip().lstrip("+")
    wamid = _string(message.get("id"), f"{where}.id")
    kind = _string(message.get("type"), f"{where}.type")
    stamp = _timestamp(message.get("timestamp"))
    text: Optional[str] = None
    attachments: List[Dict[str, Any]] = []
    if kind == "text":
        text = _string(_object(message.get("text"), f"{where}.text").get("body"), f"{where}.text.body")
    elif kind == "interactive":
        interactive = _object(message.get("interactive"), f"{where}.interactive")
        reply_type = interactive.get("type")
        if reply_type in ("button_reply", "list_reply"):
            reply = _object(interactive.get(reply_type), f"{where}.interactive.{reply_type}")
            # We set every reply id to the Rasa button payload, so the id is what the shopper "said".
            text = _string(reply.get("id"), f"{where}.interactive.{reply_type}.id")
    elif kind == "button":
        # A quick-reply button of a template message: its payload is ours, like a reply id.
        button = _object(message.get("button"), f"{where}.button")
        text = button.get("payload") or button.get("text")
        text = _string(text, f"{where}.button.payload")
    elif kind == "image":
        image = _object(message.get("image"), f"{where}.image")
        media_id = _string(image.get("id"), f"{where}.image.id")
        caption = _string(image.get("caption"), f"{where}.image.caption", required=False)
        mime_type = _string(image.get("mime_type"), f"{where}.image.mime_type", required=False)
        text = caption.strip() if caption and caption.strip() else "[image]"
        attachments = [{"type": "image", "channel": "whatsapp", "id": media_id, "mime_type": mime_type}]
    if text is None:
        logger.info("whatsapp: a %s message from %s cannot be read", kind, mask_phone(wa_id))
    return Inbound(wamid, wa_id, kind, text, stamp, attachments)
