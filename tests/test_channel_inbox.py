"""The channels' durable inbox (bot/channels/inbox.py) on a real SQLite file, used as two Porter processes sharing
the file would use it: what a resend gets, who may handle an update, what a stopped process leaves behind.

The live proof, a Porter killed between receipt and reply, is tests/test_channel_crash.py.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest

from bot.channels.inbox import BUSY, HANDLED, KEEP_SECONDS, MAX_ATTEMPTS, NEW, RETRY, Inbox, handle

LEASE = 30.0
T0 = 1_800_000_000.0
PAYLOAD = {"update_id": 7, "chat_id": 5551234, "text": "my parcel never arrived", "metadata": {"language_code": "fr"}}


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path):
    return tmp_path / "channels.db"


def process(db, clock, name: str) -> Inbox:
    """One Porter process's view of the shared file."""
    return Inbox(db, lease=LEASE, clock=clock, owner=name)


def receive(inbox: Inbox, message_id: str = "bot:7", payload=None):
    return inbox.receive("telegram", message_id, "telegram:5551234", payload or PAYLOAD)


def stored(db, message_id: str = "bot:7") -> dict:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM inbox WHERE message_id = ?", (message_id,)).fetchone())


def test_an_update_is_kept_from_receipt_and_a_resend_is_a_duplicate_only_once_it_was_handled(db, clock):
    first, second = process(db, clock, "a"), process(db, clock, "b")
    state, entry = receive(first)
    assert state == NEW and (entry.conversation, entry.payload, entry.attempts) == ("telegram:5551234", PAYLOAD, 1)
    assert stored(db)["handled_at"] is None

    # resent while it is being handled, to this process or another: nobody handles it a second time
    assert receive(first) == (BUSY, None)
    assert receive(second) == (BUSY, None)

    first.done(entry)
    assert receive(first) == (HANDLED, None) and receive(second) == (HANDLED, None)
    row = stored(db)
    assert row["handled_at"] == T0 and row["payload"] is None  # only the ids are kept once handled


def test_an_update_a_stopped_process_left_is_taken_over_once_its_claim_lapses(db, clock):
    stopped, survivor = process(db, clock, "a"), process(db, clock, "b")
    receive(stopped)  # ...and the process dies before Rasa answers

    clock.now = T0 + LEASE - 1
    assert survivor.take_over("telegram") == []
    clock.now = T0 + LEASE + 1
    [entry] = survivor.take_over("telegram")
    assert (entry.message_id, entry.payload, entry.attempts) == ("bot:7", PAYLOAD, 2)
    assert survivor.take_over("telegram") == [] and stopped.take_over("telegram") == []
    assert survivor.take_over("whatsapp") == []


def test_a_resend_of_an_update_whose_handler_stopped_is_handled_not_dropped(db, clock):
    stopped, restarted = process(db, clock, "a"), process(db, clock, "b")
    receive(stopped)
    clock.now = T0 + LEASE + 1
    state, entry = receive(restarted)  # Telegram resends what it never got an answer for
    assert state == RETRY and entry.payload == PAYLOAD and entry.attempts == 2
    assert receive(restarted) == (BUSY, None)


def test_a_live_process_keeps_its_claim_through_a_long_turn(db, clock):
    busy, other = process(db, clock, "a"), process(db, clock, "b")
    receive(busy)
    for minutes in range(1, 6):  # a turn far longer than the lease, renewed as the process lives
        clock.now = T0 + minutes * 20
        assert busy.renew() == 1
        assert other.take_over("telegram") == [] and receive(other) == (BUSY, None)
    # a starved event loop may let its own lease lapse: the process still never takes its own update twice
    clock.now += 10 * LEASE
    assert busy.take_over("telegram") == [] and receive(busy) == (BUSY, None)


def test_a_failed_update_is_tried_again_and_given_up_after_the_last_attempt(db, clock, caplog):
    first, second = process(db, clock, "a"), process(db, clock, "b")
    _, entry = receive(first)
    for attempt in range(2, MAX_ATTEMPTS + 1):
        first.release(entry)  # Rasa raised: the next sweep tries again, in whichever process
        [entry] = second.take_over("telegram")
        assert entry.attempts == attempt
        first, second = second, first
    first.release(entry)
    with caplog.at_level(logging.ERROR):
        assert second.take_over("telegram") == []
    assert f"gave up on update bot:7 after {MAX_ATTEMPTS} attempts" in caplog.text
    assert PAYLOAD["text"] not in caplog.text
    assert receive(second) == (HANDLED, None) and stored(db)["outcome"] == "given up"


def test_handled_ids_are_forgotten_after_a_week_and_unhandled_updates_never(db, clock):
    inbox = process(db, clock, "a")
    _, handled = receive(inbox, "bot:1")
    inbox.done(handled)
    receive(inbox, "bot:2")  # never handled (its process stopped, say)
    clock.now = T0 + KEEP_SECONDS - 1
    assert inbox.prune() == 0
    clock.now = T0 + KEEP_SECONDS + 1
    assert inbox.prune() == 1
    assert receive(inbox, "bot:1")[0] == NEW  # a resend this late is new again
    [left] = process(db, clock, "b").take_over("telegram")
    assert left.message_id == "bot:2"


def test_the_update_is_marked_handled_only_after_the_work_and_released_when_it_fails(db, clock):
    first, second = process(db, clock, "a"), process(db, clock, "b")
    seen_during_work = []

    async def work(entry):
        seen_during_work.append(receive(second, entry.message_id))

    _, entry = receive(first)
    asyncio.run(handle(first, None, entry, work))
    assert seen_during_work == [(BUSY, None)] and receive(second) == (HANDLED, None)

    async def crash(entry):
        raise RuntimeError("the tracker store is locked")

    _, failing = receive(first, "bot:8")
    asyncio.run(handle(first, None, failing, crash))
    [again] = second.take_over("telegram")  # at once: released, not left to its lease
    assert (again.message_id, again.attempts) == ("bot:8", 2)


def _take_over(db: str) -> list:
    inbox = Inbox(db, lease=LEASE)
    return [entry.message_id for entry in inbox.take_over("whatsapp")]


def test_processes_racing_for_the_same_updates_never_take_one_twice(db):
    stopped = Inbox(db, lease=LEASE, clock=lambda: time.time() - 3600, owner="stopped an hour ago")
    for n in range(60):
        stopped.receive("whatsapp", f"wamid.{n}", f"whatsapp:4477009000{n:02}", {"text": f"message {n}"})
    with ProcessPoolExecutor(4, mp_context=get_context("fork")) as pool:
        shares = list(pool.map(_take_over, [str(db)] * 4))
    taken = [message_id for share in shares for message_id in share]
    assert sorted(taken) == sorted(f"wamid.{n}" for n in range(60))
