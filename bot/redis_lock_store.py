"""Rasa's Redis lock store, configured by one URL (``PORTER_REDIS_URL``), with tickets changed atomically.

Several Rasa processes must take turns on a conversation: Rasa's in-memory lock store orders the messages of
one conversation only inside one process, and two replicas handling one conversation at once each save a
tracker that misses the other's turn. Rasa's ``RedisLockStore`` keeps the ticket queue in Redis, but changes
it by reading it, changing it in Python and writing it back: two replicas issuing a ticket at the same moment
both read an empty queue, both take ticket 0 and both go ahead (a burst of one shopper's messages on two
replicas lost half of them). Here every change of the queue is one Redis transaction (WATCH/MULTI/EXEC,
retried when another process changed the queue in between), and a waiter whose ticket lapsed queues again
instead of waiting for ever (``lock``).

Rasa's store takes host, port, db and password separately; here they come from the URL (``rediss://`` for
TLS), so one Secret holds Redis's address for everything (endpoints.cluster.yml:
``lock_store: {type: bot.redis_lock_store.RedisUrlLockStore, url: ...}``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import AsyncGenerator, Callable, Optional, Tuple, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.connection import SSLConnection, parse_url

logger = logging.getLogger(__name__)

MAX_WAIT_LIFETIMES = 3  # a turn waits at most this many ticket lifetimes for the ones ahead of it
Result = TypeVar("Result")
# What a change does to the queue it was given (None when there is none): its result and the queue to keep
# (None deletes it).
Change = Callable[[Optional[TicketLock]], Tuple[Result, Optional[TicketLock]]]


class RedisUrlLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        settings = parse_url(endpoint_config.url)
        super().__init__(
            host=settings.get("host", "localhost"),
            port=settings.get("port", 6379),
            db=settings.get("db", 0),
            username=settings.get("username"),
            password=settings.get("password"),
            use_ssl=settings.get("connection_class") is SSLConnection,
            key_prefix=endpoint_config.kwargs.get("key_prefix"),
        )

    def _atomically(self, conversation_id: str, change: Change) -> Result:
        """Reads the conversation's queue, applies ``change`` and writes the outcome, all or nothing."""
        key = self.key_prefix + conversation_id

        def attempt(pipe) -> Result:
            raw = pipe.get(key)  # immediate: the pipeline is WATCHing the key until multi()
            current = TicketLock.from_dict(json.loads(raw)) if raw else None
            result, kept = change(current)
            pipe.multi()
            if kept is None:
                pipe.delete(key)
            else:
                pipe.set(key, kept.dumps())
            return result

        return self.red.transaction(attempt, key, value_from_callable=True)

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's ticket lock, with one flaw mended: a ticket also lapses while it waits. When the ticket ahead
        belonged to a replica that died, it lapses a moment before ours, and Rasa's waiter, looking once a
        second, could find both gone and wait for ever for a turn the queue no longer knows. Here a waiter
        whose ticket lapsed takes a new one, and gives up with a LockError (the shopper is asked to send the
        message again) after ``MAX_WAIT_LIFETIMES`` lifetimes."""
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        deadline = time.monotonic() + MAX_WAIT_LIFETIMES * lock_lifetime
        try:
            while True:
                current = self.get_lock(conversation_id)
                if current is not None and not current.is_locked(ticket):
                    break
                if current is None or current._ticket_for_ticket_number(ticket) is None:
                    ticket = self.issue_ticket(conversation_id, lock_lifetime)  # ours lapsed: queue again
                    continue
                if time.monotonic() > deadline:
                    raise LockError(f"waited {MAX_WAIT_LIFETIMES * lock_lifetime:.0f} s for a conversation's turn")
                await asyncio.sleep(wait_time_in_seconds)
                self.update_lock(conversation_id)
            yield current
        finally:
            self.cleanup(conversation_id, ticket)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: Optional[TicketLock]):
            lock = lock or self.create_lock(conversation_id)
            return lock.issue_ticket(lock_lifetime), lock

        try:
            return self._atomically(conversation_id, issue)
        except Exception as exc:  # Rasa's contract: a lock that cannot be had is a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: Optional[TicketLock]):
            if lock is not None:
                lock.remove_expired_tickets()
            return None, lock

        self._atomically(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: Optional[TicketLock]):
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return None, lock

        self._atomically(conversation_id, finish)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Removes the ticket, and the queue with it when no one else waits, in one step: a ticket issued in
        between is never deleted with the queue."""

        def finish(lock: Optional[TicketLock]):
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
                if not lock.is_someone_waiting():
                    lock = None
            return None, lock

        self._atomically(conversation_id, finish)
