"""The storefront widget's socket.io channel (``bot.channels.widget.WidgetInput`` in credentials.yml).

Rasa's own socket.io channel lets the browser name its session: a second browser that claims a shopper's
session id joins their room, receives what is pushed to it (agents' replies) and writes as them. Here a
session is a signed handle Porter issued (bot/channels/widget_sessions.py): the browser shows it in
``session_request``; a valid one joins its conversation (``web:<key>``), anything else gets a fresh handle and
a new conversation. Messages are taken only from a socket that joined a conversation, for that conversation,
whatever ``session_id`` the message itself claims. Metadata must be an object; text is cleaned and capped
(bot/channels/inbound.py); new conversations, clients and conversations are rate limited
(bot/channels/rate_limit.py), with a polite notice in the shopper's language. The wire protocol is unchanged,
so the rasa-webchat widget works as it is. With several Rasa replicas (``PORTER_REDIS_URL``), the rooms are
shared through Redis, so a reply pushed through any replica reaches the socket (bot/channels/widget_rooms.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.channels import inbound, notices, widget_rooms, widget_sessions
from bot.channels.rate_limit import RateLimits
from bot.channels.widget_presence import WidgetPresence
from bot.client_address import client_address

logger = logging.getLogger(__name__)

MAX_SOCKETS = 20_000  # sockets remembered with their conversation; the oldest are forgotten first
# A socket.io packet larger than this closes the connection (engine.io's own default is 1 MB): room enough for
# a megabyte message to be refused politely by the length cap instead of dropping the shopper.
MAX_PACKET_BYTES = 8 * 1024 * 1024


class WidgetInput(SocketIOInput):
    @classmethod
    def name(cls) -> Text:
        return widget_sessions.CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            True,
            credentials.get("socketio_path", "/socket.io"),
            None,
            None,
            credentials.get("metadata_key", "customData"),
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = RateLimits.from_env()
        # socket id -> (conversation id, client address); only sockets that showed or got a valid handle
        self._joined: "OrderedDict[str, tuple]" = OrderedDict()
        self._clients: "OrderedDict[str, str]" = OrderedDict()
        self._app: Any = None
        self._presence: Optional[WidgetPresence] = None

    def _remember(self, table: OrderedDict, sid: str, value: Any) -> None:
        table.pop(sid, None)
        table[sid] = value
        while len(table) > MAX_SOCKETS:
            table.popitem(last=False)

    async def _note_presence(self, change: Callable[..., None], *args: str) -> None:
        """Records that a chat window opened or closed; a database hiccup never breaks the chat."""
        try:
            if self._presence is None:
                self._presence = WidgetPresence()
            await asyncio.to_thread(change, self._presence, *args)
        except Exception as exc:  # noqa: BLE001 - at worst an agent's reply is also emailed, or not
            logger.warning("widget: could not record an open or closed chat window: %s", type(exc).__name__)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=[],
            max_http_buffer_size=MAX_PACKET_BYTES,
            **widget_rooms.server_options(),
        )
        socket_blueprint = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio  # get_output_channel() pushes agents' replies through it

        @socket_blueprint.listener("after_server_start")
        async def keep_app(app: Any, _loop: Any) -> None:
            self._app = app  # its agent's tracker store tells a conversation's language
            await widget_rooms.start_sharing(sio)

        @socket_blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            request = environ.get("sanic.request")
            peer = getattr(request, "ip", None) if request is not None else environ.get("REMOTE_ADDR")
            self._remember(self._clients, sid, client_address(peer, environ.get("HTTP_X_FORWARDED_FOR")))
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text) -> None:
            if self._joined.pop(sid, None) is not None:
                await self._note_presence(WidgetPresence.closed, sid)
            self._clients.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any) -> None:
            handle = data.get("session_id") if isinstance(data, dict) else None
            client = self._clients.get(sid, "unknown")
            conversation = widget_sessions.conversation_of(handle)
            if conversation is None:
                refused = self.limits.new_conversation(client)
                if refused:
                    logger.info("widget: new conversation refused for a client (retry in %.0f s)", refused.retry_after)
                    await sio.emit("session_refused", {"retry_after": round(refused.retry_after)}, room=sid)
                    return
                if handle:
                    logger.info("widget: a session handle Porter did not issue (or expired) was replaced")
                handle = widget_sessions.issue()
                conversation = widget_sessions.conversation_of(handle)
            self._remember(self._joined, sid, conversation)
            sio.enter_room(sid, conversation)  # synchronous in python-socketio < 5.10 (requirements.in)
            await self._note_presence(WidgetPresence.opened, sid, conversation)
            await sio.emit("session_confirm", handle, room=sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            conversation = self._joined.get(sid)
            if conversation is None or not isinstance(data, dict):
                logger.info("widget: a message from a socket without a session was ignored")
                await sio.emit("session_required", {}, room=sid)
                return
            output = SocketIOOutput(sio, self.bot_message_evt)
            metadata = data.get(self.metadata_key)
            try:
                metadata = inbound.checked_metadata(json.loads(metadata) if isinstance(metadata, str) else metadata)
            except (ValueError, inbound.BadMetadata) as exc:
                logger.info("widget: refused a message with bad metadata: %s", exc)
                await sio.emit("bad_request", {"error": str(exc)}, room=sid)
                return
            limited = self.limits.message(self._clients.get(sid, "unknown"), conversation)
            if limited:
                language = await inbound.conversation_language(self._app, conversation)
                await output.send_text_message(
                    conversation, notices.say(notices.SLOW_DOWN, language or inbound.hint_in(metadata))
                )
                return
            text = await inbound.admit(self._app, conversation, data.get("message"), metadata, output)
            if text is not None:
                await inbound.hand_to_rasa(
                    on_new_message,
                    UserMessage(text, output, conversation, input_channel=self.name(), metadata=metadata),
                    metadata,
                )

        return socket_blueprint
