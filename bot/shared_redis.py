"""Porter's connection to Redis (``PORTER_REDIS_URL``, e.g. ``redis://:PASSWORD@10.0.0.5:6379/0``), where
several processes keep what they must count together: the channels' rate limits, the desk's sign-in throttle
and the widget's socket.io rooms. Rasa's lock store uses the same URL (endpoints.cluster.yml).

Unset means a single process, as `make run` has it: everything stays in that process's memory.

The limits and the throttle are checked inside request handlers, so each check is one short Lua script with
a short timeout. When Redis does not answer, ``Unavailable`` is raised at once for a while (a circuit breaker)
and the caller falls back to counting in its own memory: protection per process instead of none, and no
shopper waits on a dead Redis.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from typing import Any, Optional, Sequence

import redis

from bot.circuit_breaker import CircuitBreaker

URL_VARIABLE = "PORTER_REDIS_URL"
TIMEOUT = 0.5  # seconds per call: a loopback or LAN round trip takes well under a millisecond
FAILURES, COOL_DOWN = 3, 10.0  # failed calls in a row before falling back for COOL_DOWN seconds


class Unavailable(Exception):
    """Redis did not answer (or did not recently): count locally instead."""


def redis_url() -> Optional[str]:
    return (os.environ.get(URL_VARIABLE) or "").strip() or None


def key(*parts: str) -> str:
    """A Redis key for a client address, a name or a conversation: hashed, so no address or name sits in Redis."""
    *prefix, value = parts
    return ":".join(["porter", *prefix, hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]])


class SharedRedis:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        self.breaker = CircuitBreaker("Redis (PORTER_REDIS_URL)", FAILURES, COOL_DOWN)

    def script(self, source: str):
        """A callable running ``source`` atomically in Redis: ``call(keys, args)``; raises Unavailable."""
        script = self.client.register_script(source)

        def call(keys: Sequence[str], args: Sequence[Any]) -> Any:
            return self.run(lambda: script(keys=list(keys), args=list(args)))

        return call

    def run(self, command) -> Any:
        if self.breaker.refusal() is not None:
            raise Unavailable()
        try:
            result = command()
        except redis.RedisError as exc:
            self.breaker.failed()
            raise Unavailable() from exc
        self.breaker.succeeded()
        return result


@lru_cache(maxsize=4)
def shared(url: str) -> SharedRedis:
    """One connection pool and one breaker per URL and process."""
    return SharedRedis(url)
