"""WhatsApp Cloud API (Meta) channel: ``bot.channels.whatsapp.WhatsAppInput`` in credentials.yml.

Webhook: /webhooks/whatsapp/webhook.
- GET is Meta's verification handshake: ``hub.mode=subscribe`` with our verify token gets ``hub.challenge``
  back as plain text; anything else gets 403.
- POST carries notifications signed with the app secret (``X-Hub-Signature-256: sha256=<hex>`` over the raw
  body). Unsigned or wrongly signed ones get 403 and are not read; unreadable ones get 400 saying why. A
  readable one is answered 200 at once and its messages are handled in the background, in order, so Meta
  never waits for the bot (it resends anything not answered quickly, and we drop the resent wamids).
- Text goes to Rasa as it is; a tapped reply button or list row as its id (our ids are the Rasa payloads);
  a photo as its caption, or "[image]", with the media id in the metadata under ``attachments``. Other
  types (voice notes, videos, stickers, locations...) are not passed to the bot: the shopper gets one short
  line in their conversation's language saying that Porter reads text and photos. Delivery receipts
  (``statuses``) are ignored.
- The sender id is the shopper's wa_id. When PORTER_IDENTITY_SECRET is set, every message carries the
  signed phone (bot/channels/identity.py) under ``identity``, so an order with that phone is verified
  without the email.

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
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import identity
from bot.channels.seen import SeenMessages
from bot.channels.whatsapp_payload import Inbound, PayloadError, parse_notification
from bot.channels.whatsapp_sender import CHANNEL, GraphApi, WhatsAppOutput
from bot.channels.whatsapp_window import ConversationWindow, UndeliveredMessages
from bot.identifiers import mask_phone

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://graph.facebook.com/v19.0"
REQUIRED = ("WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID")

# Sent instead of passing a voice note, video, sticker, location... to the bot.
CANNOT_READ = {
    "en": "Sorry, I can only read text messages and photos. Could you type your message instead?",
    "zh": "抱歉，我只能读取文字消息和图片。请您用文字告诉我，好吗？",
    "es": "Lo siento, solo puedo leer mensajes de texto y fotos. ¿Podrías escribirme tu mensaje?",
    "fr": "Désolé, je ne peux lire que les messages texte et les photos. Pourriez-vous m'écrire votre message ?",
    "de": "Entschuldigung, ich kann nur Textnachrichten und Fotos lesen. Könnten Sie mir Ihre Nachricht schreiben?",
    "ru": "Извините, я могу читать только текстовые сообщения и фотографии. Напишите, пожалуйста, текстом.",
    "pt": "Desculpe, só consigo ler mensagens de texto e fotos. Pode escrever a sua mensagem?",
}

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
        return cls(*(env.get(name, "").strip() for name in REQUIRED),
                   api_base=env.get("WHATSAPP_API_BASE", "").strip() or DEFAULT_API_BASE)

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
    return hmac.compare_digest(expected.encode(), header[len("sha256="):].strip().lower().encode("utf-8", "replace"))


def message_metadata(message: Inbound) -> Dict[str, Any]:
    metadata: Dict[str, Any] = {}
    if identity.identity_secret():
        metadata[identity.METADATA_KEY] = identity.signed("phone", message.wa_id)
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
        self._seen: Optional[SeenMessages] = None
        self._window: Optional[ConversationWindow] = None
        self._undelivered: Optional[UndeliveredMessages] = None
        if settings.missing and not _warned_unconfigured:
            _warned_unconfigured = True
            logger.warning("WhatsApp channel is not configured: set %s. Until then "
                           "/webhooks/whatsapp/webhook answers 503.", ", ".join(settings.missing))

    @property
    def configured(self) -> bool:
        return not self.settings.missing

    # SQLite tables are opened on first use, so a Rasa without WhatsApp settings creates nothing.
    def _stores(self):
        if self._seen is None:
            self._seen, self._window = SeenMessages(), ConversationWindow()
            self._undelivered = UndeliveredMessages(self._window.path)
        return self._seen, self._window, self._undelivered

    def get_output_channel(self) -> Optional[WhatsAppOutput]:
        if not self.configured:
            return None
        _, window, undelivered = self._stores()
        return WhatsAppOutput(self.settings.graph, window, undelivered)

    def _not_configured(self) -> HTTPResponse:
        return response.json({"error": "the WhatsApp channel is not configured on this server",
                              "missing": self.settings.missing}, status=503)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("whatsapp_webhook", __name__)

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
            seen, window, _ = self._stores()
            fresh = [m for m in messages if seen.first_time(CHANNEL, m.wamid)]
            for message in fresh:
                window.record_inbound(message.wa_id, message.timestamp)
            if fresh:
                self._in_background(self._handle(fresh, on_new_message, request.app))
            return response.json({"status": "ok", "accepted": len(fresh)})

        return webhook

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # keep a reference until it is done, or it may be collected mid-way
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, messages: List[Inbound], on_new_message: Callable[[UserMessage], Awaitable[Any]],
                      app: Any) -> None:
        """One shopper's messages reach Rasa in the order they were sent; a failure never stops the rest."""
        for message in messages:
            output = self.get_output_channel()
            try:
                if message.readable:
                    await on_new_message(UserMessage(message.text, output, message.wa_id, input_channel=CHANNEL,
                                                     message_id=message.wamid, metadata=message_metadata(message)))
                else:
                    language = await _conversation_language(app, message.wa_id)
                    await output.send_text_message(message.wa_id, CANNOT_READ.get(language, CANNOT_READ["en"]))
            except Exception:  # logged with the masked number; Meta already has its 200
                logger.exception("whatsapp: could not handle a %s message from %s", message.type,
                                 mask_phone(message.wa_id))


async def _conversation_language(app: Any, wa_id: str) -> str:
    """The conversation's `language` slot, English when there is no conversation yet."""
    try:
        agent = getattr(app.ctx, "agent", None)
        tracker = await agent.tracker_store.retrieve(wa_id) if agent and agent.tracker_store else None
        return (tracker.get_slot("language") if tracker else None) or "en"
    except Exception:  # the notice still goes out, in English
        logger.debug("whatsapp: no language for %s", mask_phone(wa_id), exc_info=True)
        return "en"
