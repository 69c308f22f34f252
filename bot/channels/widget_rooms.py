"""The widget's socket.io rooms shared by every Rasa replica through Redis (``PORTER_REDIS_URL``).

A shopper's socket lives in one Rasa process, but an agent's reply is pushed by whichever replica the desk's
request reached (Rasa's HTTP API behind the load balancer). Here every emit is delivered at once to the sockets
this replica holds and, unless it was addressed to one of them by its own id, published on one Redis channel
for the other replicas to deliver to theirs: the reply reaches the shopper wherever their socket is, and a
shopper's own turn never waits on Redis (nor is lost with it). Messages travel as JSON, where
python-socketio's own Redis manager unpickles whatever arrives: whoever can write to Redis must not be able to
run code in Rasa.

A socket's own requests must keep reaching the process that holds it (engine.io's sessions, and the
conversation the socket joined, are that process's): the engine.io session id is sent back in a cookie on the
handshake, which the load balancer reads to keep every later request carrying that ``sid`` on the same replica
(bot/cluster/haproxy.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator, Dict, Optional

from socketio import AsyncRedisManager, AsyncServer

from bot.shared_redis import redis_url

logger = logging.getLogger(__name__)

CHANNEL = "porter-widget"
SID_COOKIE = "io"  # the load balancer's stick table learns each socket's replica from it
SUBSCRIBE_WAIT = 10.0  # seconds a starting replica waits for its subscription before serving anyway
RETRY_LONGEST = 30.0


class SharedRooms(AsyncRedisManager):
    """python-socketio's Redis manager, delivering locally first, with JSON on the wire and a subscription made
    when Rasa starts."""

    def __init__(self, url: str) -> None:
        super().__init__(url, channel=CHANNEL)
        self.subscribed = asyncio.Event()

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: Optional[str] = None,
        room: Optional[str] = None,
        skip_sid: Any = None,
        callback: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None or kwargs.get("ignore_queue"):  # Porter uses no callbacks: python-socketio's way
            await super().emit(
                event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs
            )
            return
        namespace = namespace or "/"
        await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid, ignore_queue=True)
        if room is not None and self.is_connected(room, namespace):
            return  # a socket of this replica, addressed by its id: no other replica holds it
        await self._publish(
            {
                "method": "emit",
                "event": event,
                "data": data,
                "namespace": namespace,
                "room": room,
                "skip_sid": skip_sid,
                "callback": None,
                "host_id": self.host_id,
            }
        )

    async def _handle_emit(self, message: Dict[str, Any]) -> None:
        if message.get("host_id") != self.host_id:  # this replica delivered its own emits already
            await super()._handle_emit(message)

    async def _publish(self, data: Dict[str, Any]) -> None:
        message = json.dumps(data)
        try:
            await self.redis.publish(self.channel, message)
        except Exception:  # noqa: BLE001 - redis-py reconnects on the next call: one more try
            try:
                await self.redis.publish(self.channel, message)
            except Exception as exc:  # noqa: BLE001
                logger.error(
                    "widget rooms: Redis refused a message for the other replicas' widgets (%s); "
                    "this replica's own widgets got it",
                    type(exc).__name__,
                )

    async def _listen(self) -> AsyncIterator[Dict[str, Any]]:
        delay = 1.0
        while True:
            try:
                await self.pubsub.subscribe(self.channel)
                self.subscribed.set()
                delay = 1.0
                async for message in self.pubsub.listen():
                    data = _decoded(message)
                    if data is not None:
                        yield data
            except Exception as exc:  # noqa: BLE001 - Redis went away: subscribe again once it is back
                self.subscribed.clear()
                logger.warning("widget rooms: lost Redis (%s); subscribing again in %.0f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_LONGEST)
                self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)


def _decoded(message: Any) -> Optional[Dict[str, Any]]:
    if not isinstance(message, dict) or message.get("type") != "message":
        return None
    try:
        data = json.loads(message.get("data"))
    except (TypeError, ValueError):
        logger.warning("widget rooms: ignored a message on the Redis channel that is not Porter's JSON")
        return None
    return data if isinstance(data, dict) else None


def server_options() -> Dict[str, Any]:
    """AsyncServer's options for several replicas (the shared rooms and the sticky cookie) when Redis is
    configured; none for a single process."""
    url = redis_url()
    if not url:
        return {}
    cookie = {"name": SID_COOKIE, "path": "/socket.io", "SameSite": "Lax", "HttpOnly": True}
    return {"client_manager": SharedRooms(url), "cookie": cookie}


async def start_sharing(sio: AsyncServer) -> None:
    """Subscribes now rather than at the first connection, as python-socketio would: a reply published for a
    socket before the subscription would be lost."""
    manager = sio.manager
    if not isinstance(manager, SharedRooms) or sio.manager_initialized:
        return
    sio.manager_initialized = True
    manager.initialize()
    try:
        await asyncio.wait_for(manager.subscribed.wait(), SUBSCRIBE_WAIT)
        logger.info("widget rooms: shared with the other replicas through Redis")
    except asyncio.TimeoutError:
        logger.warning(
            "widget rooms: Redis did not answer within %.0f s; replies pushed through other replicas "
            "reach this replica's widgets once it does",
            SUBSCRIBE_WAIT,
        )
