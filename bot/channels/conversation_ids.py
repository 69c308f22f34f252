"""Conversation ids carry their channel: ``whatsapp:34600111222``, ``telegram:5551234``, ``web:k3Xv...``,
``rest:my-test``.

A conversation id is what Rasa files a conversation under and where the desk's replies go. Without a prefix
a REST caller could write as a WhatsApp shopper just by sending their phone digits as ``sender``; with one,
each channel can only ever address the conversations it created itself. Channels build ids with
``conversation_id`` and turn them back into the service's own address (a phone number, a chat id) with
``native_id`` when they send.
"""

from __future__ import annotations

from typing import Optional

CHANNEL_PREFIXES = {"whatsapp": "whatsapp", "telegram": "telegram", "socketio": "web", "rest": "rest"}
MAX_NATIVE_LENGTH = 128  # longer than any phone number, chat id, widget key or sensible test sender


class BadConversationId(ValueError):
    """An id a channel refuses to file a conversation under; the message says why."""


def prefix_of(channel: str) -> str:
    try:
        return CHANNEL_PREFIXES[channel]
    except KeyError:
        raise BadConversationId(f"no conversation prefix for channel {channel!r}") from None


def conversation_id(channel: str, native: object) -> str:
    """The id Rasa files this channel's conversation under: ``<prefix>:<native>``."""
    text = str(native if native is not None else "").strip()
    if not text:
        raise BadConversationId("the sender id is empty")
    if len(text) > MAX_NATIVE_LENGTH:
        raise BadConversationId(f"the sender id is longer than {MAX_NATIVE_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() or ch in "/?#%\\" for ch in text):
        raise BadConversationId("the sender id may not contain spaces, control characters or / ? # % \\")
    return f"{prefix_of(channel)}:{text}"


def native_id(channel: str, conversation: str) -> Optional[str]:
    """The service's own address inside ``conversation`` when it belongs to ``channel``, else None."""
    prefix = prefix_of(channel) + ":"
    if conversation and conversation.startswith(prefix) and len(conversation) > len(prefix):
        return conversation[len(prefix) :]
    return None


def channel_of(conversation: Optional[str]) -> Optional[str]:
    """The channel a conversation id belongs to, or None for an id no channel of ours made."""
    head = (conversation or "").split(":", 1)[0]
    return next(
        (channel for channel, prefix in CHANNEL_PREFIXES.items() if prefix == head and ":" in (conversation or "")),
        None,
    )
