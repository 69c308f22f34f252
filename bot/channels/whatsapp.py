"""WhatsApp Cloud API (Meta) channel: ``bot.channels.whatsapp.WhatsAppInput`` in credentials.yml.

Webhook: /webhooks/whatsapp/webhook.
- GET is Meta's verification handshake: ``hub.mode=subscribe`` with our verify token gets ``hub.challenge``
  back as plain text; anything else gets 403.
- POST carries notifications signed with the app secret (``X-Hub-Signature-256: sha256=<hex>`` over the raw
  body). Unsigned or wrongly signed ones get 403 and are not read; unreadable ones get 400 saying why. A
  readable one has its messages stored in the durable inbox (bot/channels/inbox.py), is answered 200 at once
  and its messages are handled in the background, in order, so Meta never waits for the bot (it resends
  anything not answered quickly). A message is marked handled only once Rasa has handled it: one left over
  by a process that stopped is handled by the next sweep, and a resent wamid that was handled is dropped.
- Text goes to Rasa as it is; a tapped reply button or list row as its id (our ids are the Rasa payloads);
  a photo as its caption, or "[image]", with the media id in the metadata under ``attachments``. Other
  types (voice notes, videos, stickers, locations...) are not passed to the bot: the shopper gets one short
  line in their conversation's language saying that Porter reads text and photos. Delivery receipts
  (``statuses``) are ignored.
- The conversation id is ``whatsapp:<wa_id>`` (bot/channels/conversation_ids.py), so no other channel can
  write into a WhatsApp shopper's conversation. When PORTER_IDENTITY_SECRET is set, every message carries
  the phone signed for that conversation (bot/channels/identity.py) under ``identity``, so an order with that
  phone is verified without the email. Text is cleaned and a message over the length limit gets a notice
  instead of reaching Rasa (bot/channels/inbound.py).

Settings come only from the environment: WHATSAPP_VERIFY_TOKEN, WHATSAPP_APP_SECRET, WHATSAPP_ACCESS_TOKEN,
WHATSAPP_PHONE_NUMBER_ID and WHATSAPP_API_BASE (default https://graph.facebook.com/v19.0). Without them
Rasa still starts, one warning says what is missing, and the webhook answers 503.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import threading
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import identity, inbound, inbox, media, notices
from bot.channels.conversation_ids import conversation_id
from bot.channels.whatsapp_payload import Inbound, PayloadError, parse_notification
from bot.channels.whatsapp_sender import CHANNEL, GraphApi, WhatsAppOutput
from bot.channels.whatsapp_window import ConversationWindow, UndeliveredMessages

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://graph.facebook.com/v19.0"
REQUIRED = ("WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID")

_warned_unconfigured = False


@dataclass(frozen=True)
class WhatsAppSettings:
    verify_token: str
    app_secret: str
    access_token: str
    phone_number_id: str
    api_base: str = DEFAULT_API_BASE

    @classmethod
    def from_env(cls, environ: Optional[Dict[str, str]] = None) -> "WhatsAppSettings":
        env = os.environ if environ is None else environ
        return cls(
            *(env.get(name, "").strip() for name in REQUIRED),
            api_base=env.get("WHATSAPP_API_BASE", "").strip() or DEFAULT_API_BASE,
        )

    @property
    def missing(self) -> List[str]:
        values = (self.verify_token, self.app_secret, self.access_token, self.phone_number_id)
        return [name for name, value in zip(REQUIRED, values) if not value]

    @property
    def graph(self) -> GraphApi:
        return GraphApi(self.api_base, self.phone_number_id, self.access_token)


def signature_matches(body: bytes, header: Optional[str], app_secret: str) -> bool:
    """True when header is ``sha256=<hex>`` of HMAC-SHA256(app_secret, body); compared in constant time."""
    if not header or not app_secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header[len("sha256=") :].strip().lower().encode("utf-8", "replace"))


def message_metadata(message: Inbound, conversation: str) -> Dict[str, Any]:
    """Signed when the message is handed to Rasa (not when it arrived): a message taken over after a restart
    still carries a fresh signature."""
    metadata: Dict[str, Any] = {}
    if identity.identity_secret():
        metadata[identity.METADATA_KEY] = identity.signed(
            "phone", message.wa_id, conversation, ttl=identity.MESSAGE_TTL
        )
    if message.attachments:
        metadata["attachments"] = message.attachments
    return metadata


class WhatsAppInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "WhatsAppInput":
        # Secrets are read from the environment only; credentials.yml just switches the channel on.
        return cls(WhatsAppSettings.from_env())

    def __init__(self, settings: WhatsAppSettings) -> None:
        global _warned_unconfigured
        self.settings = settings
        self._tasks: Set[asyncio.Task] = set()
        self._inbox: Optional[inbox.Inbox] = None
        self._window: Optional[ConversationWindow] = None
        self._undelivered: Optional[UndeliveredMessages] = None
        self._opening = threading.Lock()
        if settings.missing and not _warned_unconfigured:
            _warned_unconfigured = True
            logger.warning(
                "WhatsApp channel is not configured: set %s. Until then /webhooks/whatsapp/webhook answers 503.",
                ", ".join(settings.missing),
            )

    @property
    def configured(self) -> bool:
        return not self.settings.missing

    # The stores are opened on first use, so a Rasa without WhatsApp settings never opens them. Once only, even
    # from the webhook's worker threads: the inbox's claims belong to one owner per process.
    def _stores(self):
        with self._opening:
            if self._inbox is None:
                self._inbox, self._window = inbox.Inbox(), ConversationWindow()
                self._undelivered = UndeliveredMessages()
        return self._inbox, self._window, self._undelivered

    def get_output_channel(self) -> Optional[WhatsAppOutput]:
        if not self.configured:
            return None
        _, window, undelivered = self._stores()
        return WhatsAppOutput(self.settings.graph, window, undelivered)

    def _not_configured(self) -> HTTPResponse:
        return response.json(
            {"error": "the WhatsApp channel is not configured on this server", "missing": self.settings.missing},
            status=503,
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("whatsapp_webhook", __name__)

        async def work(entry: inbox.Entry, app: Any) -> None:
            await self._to_rasa(Inbound(**entry.payload), entry.conversation, on_new_message, app)

        @webhook.listener("after_server_start")
        async def take_over_left_messages(app: Any, _loop: Any) -> None:
            if self.configured:
                self._in_background(inbox.sweep(self._stores()[0], app, CHANNEL, lambda e: work(e, app)))

        @webhook.listener("before_server_stop")
        async def stop(_app: Any, _loop: Any) -> None:
            for task in list(self._tasks):
                task.cancel()  # what they had claimed is taken over after a restart

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if not self.configured:
                return self._not_configured()
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not self.configured:
                return self._not_configured()
            token = request.args.get("hub.verify_token") or ""
            challenge = request.args.get("hub.challenge")
            token_ok = hmac.compare_digest(token.encode(), self.settings.verify_token.encode())
            if request.args.get("hub.mode") == "subscribe" and token_ok and challenge:
                return response.text(challenge)
            logger.warning("whatsapp: webhook verification refused (wrong mode, verify token or no challenge)")
            return response.json({"error": "verification failed"}, status=403)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.configured:
                return self._not_configured()
            body = request.body or b""
            if not signature_matches(body, request.headers.get("X-Hub-Signature-256"), self.settings.app_secret):
                logger.warning("whatsapp: refused a notification without a valid X-Hub-Signature-256")
                return response.json({"error": "missing or invalid X-Hub-Signature-256"}, status=403)
            try:
                messages = parse_notification(body, self.settings.phone_number_id)
            except PayloadError as exc:
                logger.warning("whatsapp: refused an unreadable notification: %s", exc)
                return response.json({"error": f"not a WhatsApp notification: {exc}"}, status=400)
            claimed = await asyncio.to_thread(self._receive, messages)
            if claimed:
                app = request.app
                self._in_background(self._handle(claimed, lambda e: work(e, app), app))
            return response.json({"status": "ok", "accepted": len(claimed)})

        return webhook

    def _receive(self, messages: List[Inbound]) -> List[inbox.Entry]:
        """Stores the messages in the inbox; those this process must now handle (not resends of handled ones)."""
        store, window, _ = self._stores()
        claimed = []
        for message in messages:
            _, entry = store.receive(CHANNEL, message.wamid, conversation_id(CHANNEL, message.wa_id), asdict(message))
            if entry is not None:
                window.record_inbound(message.wa_id, message.timestamp)
                claimed.append(entry)
        return claimed

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # keep a reference until it is done, or it may be collected mid-way
        task.add_done_callback(self._tasks.discard)

    async def _handle(
        self, entries: List[inbox.Entry], work: Callable[[inbox.Entry], Awaitable[None]], app: Any
    ) -> None:
        """One shopper's messages reach Rasa in the order they were sent; a failure never stops the rest."""
        for entry in entries:
            await inbox.handle(self._stores()[0], app, entry, work)

    async def _to_rasa(
        self, message: Inbound, conversation: str, on_new_message: Callable[[UserMessage], Awaitable[Any]], app: Any
    ) -> None:
        output = self.get_output_channel()
        if not message.readable:
            language = await inbound.conversation_language(app, conversation)
            await output.send_text_message(conversation, notices.say(notices.CANNOT_READ, language))
            return
        metadata = message_metadata(message, conversation)
        for attachment in metadata.get("attachments") or []:  # kept for the agents (bot/channels/media.py)
            kept = await media.keep_whatsapp_photo(
                self.settings.api_base, self.settings.access_token, attachment["id"], conversation
            )
            if kept:
                attachment["photo"] = kept
        text = await inbound.admit(app, conversation, message.text, metadata, output)
        if text is not None:
            await on_new_message(
                UserMessage(
                    text, output, conversation, input_channel=CHANNEL, message_id=message.wamid, metadata=metadata
                )
            )
