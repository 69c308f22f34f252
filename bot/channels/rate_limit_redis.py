"""The rate limits of bot/channels/rate_limit.py kept in Redis (``PORTER_REDIS_URL``), so that every Rasa
replica and every web server counts against the same buckets: behind a load balancer a client gets each limit
once, not once per process.

A bucket is a Redis hash changed only by one Lua script, which reads Redis's own clock: takes from any number
of processes are atomic, and the processes need no common clock. Keys are hashes of the client address or the
conversation (bot.shared_redis.key) and expire once their bucket would be full again. While Redis does not
answer, each process counts in its own memory, as without Redis.
"""

from __future__ import annotations

from typing import Optional

from bot.channels.rate_limit import Buckets, RateLimits
from bot.shared_redis import SharedRedis, Unavailable, key, shared

KNOWN_FOR = 24 * 3600  # seconds a conversation counts as already started after its last message

_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return tostring(wait)
"""

_FIRST_MESSAGE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 1 end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 0
"""


class SharedBuckets:
    """Token buckets in Redis with the capacity and rate of ``local``, which counts while Redis is away."""

    def __init__(self, redis: SharedRedis, kind: str, local: Buckets) -> None:
        self.kind, self.local = kind, local
        self._take = redis.script(_TAKE)

    def take(self, name: str) -> Optional[float]:
        """None when a token was taken; else the seconds until one will be there."""
        if self.local.capacity <= 0:
            return None
        try:
            wait = float(self._take([key("rate", self.kind, name)], [self.local.capacity, self.local.rate]))
        except Unavailable:
            return self.local.take(name)
        return wait if wait > 0 else None


class SharedRateLimits(RateLimits):
    def __init__(
        self, url: str, conversation_per_minute: float, client_per_minute: float, new_conversations_per_hour: float
    ) -> None:
        super().__init__(conversation_per_minute, client_per_minute, new_conversations_per_hour)
        self.redis = shared(url)
        self.conversations = SharedBuckets(self.redis, "conversation", self.conversations)
        self.clients = SharedBuckets(self.redis, "client", self.clients)
        self.new_conversations = SharedBuckets(self.redis, "new", self.new_conversations)
        self._first_message = self.redis.script(_FIRST_MESSAGE)

    def _is_new(self, conversation: str) -> bool:
        try:
            return self._first_message([key("rate", "known", conversation)], [KNOWN_FOR]) == 1
        except Unavailable:
            return super()._is_new(conversation)

    def _forget(self, conversation: str) -> None:
        try:
            self.redis.run(lambda: self.redis.client.delete(key("rate", "known", conversation)))
        except Unavailable:
            super()._forget(conversation)
