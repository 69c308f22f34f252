"""What several Porter processes share through a real Redis (a redis-server started by the tests): the channels'
rate limits, the desk's sign-in throttle, Rasa's lock store from one URL, and the widget rooms' messages.

Each "process" here is its own client with its own connection pool and circuit breaker, as in separate
processes; what they share is only what is in Redis."""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from bot import shared_redis
from bot.channels.rate_limit_redis import SharedRateLimits
from bot.web.sign_in_throttle import ACCOUNT, ADDRESS, ADDRESS_FREE_FAILURES
from bot.web.sign_in_throttle_redis import SharedSignInThrottle
from tests.support.redis_server import start_redis


@pytest.fixture(scope="module")
def redis_server():
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def url(redis_server):
    """A clean Redis for each test, and no connection pool carried over from another test."""
    redis.Redis.from_url(redis_server.url).flushall()
    shared_redis.shared.cache_clear()
    yield redis_server.url
    shared_redis.shared.cache_clear()


def _another_process(make):
    """An instance as a second process would have it: its own connection pool and breaker."""
    shared_redis.shared.cache_clear()
    return make()


def _limits(url, client_per_minute=100, new_per_hour=100):
    return SharedRateLimits(
        url, conversation_per_minute=100, client_per_minute=client_per_minute, new_conversations_per_hour=new_per_hour
    )


def test_two_processes_draw_on_one_budget_per_client(url):
    first = _limits(url, client_per_minute=3)
    second = _another_process(lambda: _limits(url, client_per_minute=3))
    assert first.message("10.0.0.1", "rest:a") is None
    assert second.message("10.0.0.1", "rest:b") is None
    assert first.message("10.0.0.1", "rest:a") is None
    refused = second.message("10.0.0.1", "rest:b")
    assert refused is not None and refused.reason == "client" and 0 < refused.retry_after <= 20
    assert first.message("10.0.0.2", "rest:c") is None  # another client has its own budget


def test_a_conversation_started_on_one_replica_is_not_new_on_the_other(url):
    first = _limits(url, new_per_hour=1)
    second = _another_process(lambda: _limits(url, new_per_hour=1))
    assert first.message("10.0.0.1", "web:one") is None
    assert second.message("10.0.0.1", "web:one") is None  # the same conversation: no new-conversation token
    refused = second.message("10.0.0.1", "web:two")
    assert refused is not None and refused.reason == "new_conversations"


def test_no_client_address_or_conversation_is_written_to_redis(url):
    _limits(url).message("203.0.113.9", "rest:someone@example.com")
    keys = b" ".join(redis.Redis.from_url(url).keys("*"))
    assert keys and b"203.0.113.9" not in keys and b"someone" not in keys


def test_without_redis_each_process_limits_on_its_own(redis_server):
    from tests.support.redis_server import start_redis as start_another

    gone = start_another()
    shared_redis.shared.cache_clear()
    limits = _limits(gone.url, client_per_minute=2)
    gone.stop()
    assert limits.message("10.0.0.1", "rest:a") is None
    assert limits.message("10.0.0.1", "rest:a") is None
    refused = limits.message("10.0.0.1", "rest:a")
    assert refused is not None and refused.reason == "client"
    shared_redis.shared.cache_clear()


def test_a_guesser_is_slowed_on_every_web_server(url):
    first = SharedSignInThrottle(url)
    second = _another_process(lambda: SharedSignInThrottle(url))
    for throttle in (first, second, first, second):  # the free failures and the first paid one, on both servers
        assert throttle.attempt("alice", "198.51.100.7") is None
    pause = second.attempt("alice", "198.51.100.8")  # another address: the name itself waits
    assert pause is not None and pause.because == ACCOUNT and 1 <= pause.seconds <= 2


def test_an_agent_who_signed_in_from_an_office_keeps_signing_in_there_on_every_server(url):
    first = SharedSignInThrottle(url)
    second = _another_process(lambda: SharedSignInThrottle(url))
    assert first.attempt("bob", "192.0.2.1") is None
    first.succeeded("bob", "192.0.2.1")
    for n in range(ADDRESS_FREE_FAILURES + 1):  # the free failures and the first paid one
        assert second.attempt(f"guess-{n}", "192.0.2.1") is None
    pause = first.attempt("guess-x", "192.0.2.1")
    assert pause is not None and pause.because == ADDRESS
    assert second.attempt("bob", "192.0.2.1") is None


def test_rasas_lock_store_takes_its_settings_from_the_url(url):
    from rasa.utils.endpoints import EndpointConfig
    from redis.connection import SSLConnection

    from bot.redis_lock_store import RedisUrlLockStore

    store = RedisUrlLockStore(EndpointConfig(url=url))
    assert store.issue_ticket("web:abc") == 0
    assert _another_process(lambda: RedisUrlLockStore(EndpointConfig(url=url))).issue_ticket("web:abc") == 1
    assert redis.Redis.from_url(url).keys("lock:*")
    secure = RedisUrlLockStore(EndpointConfig(url="rediss://:secret@redis.internal:6380/3"))
    assert secure.red.connection_pool.connection_class is SSLConnection
    assert secure.red.connection_pool.connection_kwargs["db"] == 3


def test_replicas_asking_for_a_conversations_lock_at_once_take_turns(url):
    """Rasa's own Redis lock store read, changed and wrote the ticket queue: two replicas could both get ticket 0
    and handle one conversation together. Twelve stores (replicas) ask at the same moment; each turn must run
    alone."""
    from rasa.utils.endpoints import EndpointConfig

    from bot.redis_lock_store import RedisUrlLockStore

    replicas = [_another_process(lambda: RedisUrlLockStore(EndpointConfig(url=url))) for _ in range(12)]
    inside, most_inside, served = [], [], []
    start = threading.Barrier(len(replicas))

    async def turn(store, number):
        async with store.lock("web:burst", wait_time_in_seconds=0.01):
            inside.append(number)
            most_inside.append(len(inside))
            await asyncio.sleep(0.02)  # the turn's work: others are waiting now
            served.append(number)
            inside.remove(number)

    def replica(number):  # each replica on its own thread and event loop, as separate processes are
        start.wait()
        asyncio.run(turn(replicas[number], number))

    with ThreadPoolExecutor(len(replicas)) as pool:
        list(pool.map(replica, range(len(replicas))))
    assert max(most_inside) == 1
    assert sorted(served) == list(range(12))
    assert not redis.Redis.from_url(url).keys("lock:*")  # the queue is gone once the last turn ended


def test_a_turn_behind_a_dead_replicas_ticket_is_served_once_that_ticket_lapses(url):
    """A replica killed in the middle of a turn never hands its ticket back. The shopper's message sent again on
    another replica waits behind it; when the dead ticket lapses a moment before the waiting one, Rasa's own
    waiter found both gone and waited for ever."""
    from rasa.utils.endpoints import EndpointConfig

    from bot.redis_lock_store import RedisUrlLockStore

    dead = _another_process(lambda: RedisUrlLockStore(EndpointConfig(url=url)))
    dead.issue_ticket("rest:killed", 1.0)  # its replica died holding it: no cleanup will come
    alive = _another_process(lambda: RedisUrlLockStore(EndpointConfig(url=url)))

    async def send_again():
        async with alive.lock("rest:killed", lock_lifetime=1.0, wait_time_in_seconds=1.5):
            return "served"

    assert asyncio.run(asyncio.wait_for(send_again(), timeout=15)) == "served"
    assert not redis.Redis.from_url(url).keys("lock:*")


def test_widget_rooms_publish_json(url):
    from socketio import AsyncServer

    from bot.channels.widget_rooms import CHANNEL, SharedRooms

    listener = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(CHANNEL)
    rooms = SharedRooms(url)
    AsyncServer(async_mode="asgi", client_manager=rooms)

    asyncio.run(rooms.emit("bot_uttered", {"text": "An agent replies"}, namespace="/", room="web:abc"))
    message = None
    while message is None:
        message = listener.get_message(timeout=10)
    published = json.loads(message["data"])
    assert published["room"] == "web:abc" and published["data"] == {"text": "An agent replies"}


def test_widget_rooms_never_unpickle_what_arrives(tmp_path):
    from bot.channels.widget_rooms import _decoded

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    assert _decoded({"type": "message", "data": pickle.dumps(Payload())}) is None
    assert not marker.exists()
    assert _decoded({"type": "message", "data": json.dumps({"method": "emit"}).encode()}) == {"method": "emit"}
