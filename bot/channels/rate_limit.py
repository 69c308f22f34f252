"""How fast one client and one conversation may write to Porter, and how many new conversations a client may
start: token buckets, in this process's memory, bounded.

Each new conversation costs a tracker, and two misunderstood messages open a ticket for a person: without a
limit one script fills the agents' queue. The anonymous channels (the REST channel and the storefront widget)
check here before Rasa sees a message. Settings (environment; 0 switches a limit off):
``PORTER_RATE_CONVERSATION_PER_MINUTE`` (20), ``PORTER_RATE_CLIENT_PER_MINUTE`` (60),
``PORTER_RATE_NEW_CONVERSATIONS_PER_HOUR`` (30, per client address). The client address comes from
bot.client_address (``X-Forwarded-For`` only from trusted proxies). With ``PORTER_REDIS_URL`` set the buckets
are kept in Redis (bot/channels/rate_limit_redis.py), so every Rasa replica and web server counts against the
same ones; without it each process keeps its own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional

logger = logging.getLogger(__name__)

MAX_KEYS = 50_000  # buckets kept per kind; the least recently used go first, so memory stays bounded


def _setting(name: str, default: float) -> float:
    raw = (os.environ.get(name) or "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        logger.warning("%s=%r is not a number; using %g", name, raw, default)
        return default
    return max(0.0, value)


class Buckets:
    """Token buckets by key: ``capacity`` tokens, refilled at ``capacity`` per ``period`` seconds."""

    def __init__(
        self, capacity: float, period: float, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS
    ) -> None:
        self.capacity, self.rate, self.clock, self.max_keys = capacity, capacity / period, clock, max_keys
        self._buckets: "OrderedDict[str, tuple]" = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> Optional[float]:
        """None when a token was taken; else the seconds until one will be there."""
        if self.capacity <= 0:
            return None
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            wait = None if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1 if wait is None else tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True)
class Refusal:
    reason: str  # "conversation", "client" or "new_conversations": which limit was reached
    retry_after: float  # seconds


class RateLimits:
    def __init__(
        self,
        conversation_per_minute: float,
        client_per_minute: float,
        new_conversations_per_hour: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.conversations = Buckets(conversation_per_minute, 60, clock, max_keys)
        self.clients = Buckets(client_per_minute, 60, clock, max_keys)
        self.new_conversations = Buckets(new_conversations_per_hour, 3600, clock, max_keys)
        self._known: "OrderedDict[str, None]" = OrderedDict()
        self._lock = threading.Lock()
        self.max_keys = max_keys

    @classmethod
    def from_env(cls) -> "RateLimits":
        from bot.shared_redis import redis_url

        settings = (
            _setting("PORTER_RATE_CONVERSATION_PER_MINUTE", 20),
            _setting("PORTER_RATE_CLIENT_PER_MINUTE", 60),
            _setting("PORTER_RATE_NEW_CONVERSATIONS_PER_HOUR", 30),
        )
        url = redis_url()
        if url:
            from bot.channels.rate_limit_redis import SharedRateLimits

            return SharedRateLimits(url, *settings)
        return cls(*settings)

    def _is_new(self, conversation: str) -> bool:
        with self._lock:
            new = conversation not in self._known
            self._known.pop(conversation, None)
            self._known[conversation] = None
            while len(self._known) > self.max_keys:
                self._known.popitem(last=False)
            return new

    def _forget(self, conversation: str) -> None:
        with self._lock:
            self._known.pop(conversation, None)

    def new_conversation(self, client: str) -> Optional[Refusal]:
        """A client starting a conversation (a widget session): None when it may."""
        wait = self.new_conversations.take(client)
        return Refusal("new_conversations", wait) if wait is not None else None

    def message(self, client: str, conversation: str) -> Optional[Refusal]:
        """A message from ``client`` in ``conversation``: None when it may go on to Rasa."""
        wait = self.clients.take(client)
        if wait is not None:
            return Refusal("client", wait)
        if self._is_new(conversation):
            refusal = self.new_conversation(client)
            if refusal:
                self._forget(conversation)
                return refusal
        wait = self.conversations.take(conversation)
        return Refusal("conversation", wait) if wait is not None else None
