"""A durable inbox for WhatsApp and Telegram: no update is lost between receipt and reply, none is handled twice.

Meta and Telegram count an update as delivered once we answer 2xx. Meta gets its 200 before the bot has even
looked at the message, and Telegram drops a resend we answered as a duplicate, so a process that dies in the
middle of a turn would lose the message for good. Instead every update is written here as it arrives (its
channel, message id, conversation and what Porter needs to handle it) and claimed by the process that
handles it, for a lease the process keeps renewing while it lives. It is marked handled only once Rasa has
handled it. A claim that stops being renewed (the process died) expires; the channel's sweep, at start-up and
every few seconds after, in whichever process runs it, takes the update over, and so does a resend of it. The
first receipt of a message id is one INSERT that only one process can win, and a claim is one conditional
UPDATE, so two processes (on one machine or several, sharing Porter's database, bot/storage) never handle an
update at the same time. An update whose handling started ``MAX_ATTEMPTS`` times without finishing is given up
and logged: a message that kills the process must not kill it forever.

Handled updates keep only their ids (the payload is cleared) for ``KEEP_SECONDS``, to recognise resends,
and are then pruned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from sqlalchemy import delete, func, select, update

from bot.storage import Where, database
from bot.storage.schema import inbox

logger = logging.getLogger(__name__)

KEEP_SECONDS = 7 * 24 * 3600  # Meta and Telegram stop resending long before this
DEFAULT_LEASE_SECONDS = 60  # how long a claim outlives the process that stopped renewing it
MAX_ATTEMPTS = 3

NEW, RETRY, BUSY, HANDLED = "new", "retry", "busy", "handled"


def lease_seconds() -> float:
    raw = (os.environ.get("PORTER_INBOX_LEASE_SECONDS") or "").strip()
    try:
        return max(1.0, float(raw)) if raw else DEFAULT_LEASE_SECONDS
    except ValueError:
        logger.warning("PORTER_INBOX_LEASE_SECONDS=%r is not a number; using %d", raw, DEFAULT_LEASE_SECONDS)
        return DEFAULT_LEASE_SECONDS


@dataclass(frozen=True)
class Entry:
    """An update this process has claimed and must handle."""

    channel: str
    message_id: str
    conversation: str
    payload: Dict[str, Any]
    attempts: int  # 1 the first time; more when taken over from a process that stopped


class Inbox:
    def __init__(
        self,
        where: Where = None,
        lease: Optional[float] = None,
        clock: Callable[[], float] = time.time,
        owner: Optional[str] = None,
    ) -> None:
        self.db = database(where)
        self.lease = lease or lease_seconds()
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def _update(self, channel: str, message_id: str):
        return update(inbox).where(inbox.c.channel == channel, inbox.c.message_id == message_id)

    def receive(
        self, channel: str, message_id: str, conversation: str, payload: Dict[str, Any]
    ) -> Tuple[str, Optional[Entry]]:
        """Stores an arriving update and claims it for this process: (NEW, entry) the first time, (RETRY,
        entry) for a resend of one whose handler stopped, (BUSY, None) while a live claim holds it, (HANDLED,
        None) for a resend of a handled one (or one given up)."""
        now = self.clock()
        with self.db.writing() as conn:
            inserted = (
                conn.execute(
                    self.db.insert(inbox)
                    .values(
                        channel=channel,
                        message_id=message_id,
                        conversation=conversation,
                        payload=json.dumps(payload, ensure_ascii=False),
                        received_at=now,
                        attempts=1,
                        claimed_by=self.owner,
                        claimed_until=now + self.lease,
                    )
                    .on_conflict_do_nothing()
                ).rowcount
                == 1
            )
        if inserted:
            return NEW, Entry(channel, message_id, conversation, payload, 1)
        entry = self._claim(channel, message_id)
        if entry is not None:
            return RETRY, entry
        with self.db.reading() as conn:
            row = conn.execute(
                select(inbox.c.handled_at).where(inbox.c.channel == channel, inbox.c.message_id == message_id)
            ).first()
        return (HANDLED if row is None or row.handled_at is not None else BUSY), None

    def take_over(self, channel: str) -> List[Entry]:
        """This channel's unhandled updates whose claim expired, now claimed by this process, oldest first."""
        with self.db.reading() as conn:
            message_ids = (
                conn.execute(
                    select(inbox.c.message_id)
                    .where(
                        inbox.c.channel == channel,
                        inbox.c.handled_at.is_(None),
                        inbox.c.claimed_until < self.clock(),
                        func.coalesce(inbox.c.claimed_by, "") != self.owner,
                    )
                    .order_by(inbox.c.received_at)
                )
                .scalars()
                .all()
            )
        claimed = (self._claim(channel, message_id) for message_id in message_ids)
        return [entry for entry in claimed if entry is not None]

    def _claim(self, channel: str, message_id: str) -> Optional[Entry]:
        """Claims an unhandled update whose claim expired; None when it is handled or someone holds it. An
        update this process claimed is still in its hands even if a starved event loop let the lease lapse."""
        now = self.clock()
        with self.db.writing() as conn:
            taken = (
                conn.execute(
                    self._update(channel, message_id)
                    .where(
                        inbox.c.handled_at.is_(None),
                        inbox.c.claimed_until < now,
                        func.coalesce(inbox.c.claimed_by, "") != self.owner,
                    )
                    .values(claimed_by=self.owner, claimed_until=now + self.lease, attempts=inbox.c.attempts + 1)
                ).rowcount
                == 1
            )
            if not taken:
                return None
            row = conn.execute(select(inbox).where(inbox.c.channel == channel, inbox.c.message_id == message_id)).one()
            if row.attempts > MAX_ATTEMPTS:
                conn.execute(
                    self._update(channel, message_id).values(
                        handled_at=now, outcome="given up", payload=None, claimed_by=None
                    )
                )
                logger.error(
                    "%s: gave up on update %s after %d attempts to handle it", channel, message_id, MAX_ATTEMPTS
                )
                return None
        return Entry(channel, message_id, row.conversation, json.loads(row.payload), row.attempts)

    def renew(self) -> int:
        """Extends every claim this process holds; the number extended."""
        now = self.clock()
        with self.db.writing() as conn:
            return conn.execute(
                update(inbox)
                .where(inbox.c.claimed_by == self.owner, inbox.c.handled_at.is_(None))
                .values(claimed_until=now + self.lease)
            ).rowcount

    def done(self, entry: Entry) -> None:
        """Rasa has handled it: a resend is a duplicate from now on. Only the ids are kept."""
        with self.db.writing() as conn:
            conn.execute(
                self._update(entry.channel, entry.message_id).values(
                    handled_at=self.clock(), outcome="handled", payload=None, claimed_by=None
                )
            )

    def release(self, entry: Entry) -> None:
        """Handling failed: the next sweep tries again (until MAX_ATTEMPTS)."""
        with self.db.writing() as conn:
            conn.execute(
                self._update(entry.channel, entry.message_id)
                .where(inbox.c.claimed_by == self.owner, inbox.c.handled_at.is_(None))
                .values(claimed_by=None, claimed_until=0)
            )

    def prune(self) -> int:
        """Forgets updates handled more than KEEP_SECONDS ago; the number forgotten."""
        with self.db.writing() as conn:
            return conn.execute(delete(inbox).where(inbox.c.handled_at < self.clock() - KEEP_SECONDS)).rowcount


async def already_in_conversation(app: Any, entry: Entry) -> bool:
    """True when Rasa saved a turn with this message before the process stopped: only our note of it was lost."""
    agent = getattr(app.ctx, "agent", None)
    store = agent.tracker_store if agent else None
    tracker = await store.retrieve(entry.conversation) if store else None
    return tracker is not None and any(
        getattr(event, "type_name", None) == "user" and getattr(event, "message_id", None) == entry.message_id
        for event in tracker.events
    )


async def handle(inbox: Inbox, app: Any, entry: Entry, work: Callable[[Entry], Awaitable[Any]]) -> None:
    """Runs ``work`` on a claimed update and records the outcome: handled, or released for another try."""
    try:
        if entry.attempts > 1 and await already_in_conversation(app, entry):
            logger.info("%s: update %s had reached Rasa before the process stopped", entry.channel, entry.message_id)
        else:
            await work(entry)
    except Exception as exc:  # noqa: BLE001 - retried by the sweep. Only the kind is logged: an error from a
        # Bot API call may quote its URL, which holds the bot token
        logger.error(
            "%s: handling update %s failed (attempt %d): %s; it will be tried again",
            entry.channel,
            entry.message_id,
            entry.attempts,
            type(exc).__name__,
        )
        await asyncio.to_thread(inbox.release, entry)
        return
    await asyncio.to_thread(inbox.done, entry)


async def sweep(inbox: Inbox, app: Any, channel: str, work: Callable[[Entry], Awaitable[Any]]) -> None:
    """Forever, from server start: keeps this process's claims alive, takes over the updates whose handler
    stopped (oldest first) and handles them, and prunes old ids."""
    interval = max(0.5, min(inbox.lease / 4, 15.0))
    heartbeat = asyncio.ensure_future(_renew(inbox, interval))
    try:
        while True:
            try:
                for entry in await asyncio.to_thread(inbox.take_over, channel):
                    logger.warning(
                        "%s: handling update %s left unhandled by a stopped process", channel, entry.message_id
                    )
                    await handle(inbox, app, entry, work)
                await asyncio.to_thread(inbox.prune)
            except Exception:  # noqa: BLE001 - a locked or unreachable database must not end the sweep
                logger.exception("%s: the inbox sweep failed; trying again in %.0f s", channel, interval)
            await asyncio.sleep(interval)
    finally:
        heartbeat.cancel()


async def _renew(inbox: Inbox, interval: float) -> None:
    """Renews the claims separately from the sweep, so a long turn taken over by the sweep keeps its own."""
    while True:
        try:
            await asyncio.to_thread(inbox.renew)
        except Exception:  # noqa: BLE001
            logger.exception("could not renew the inbox claims")
        await asyncio.sleep(interval)
