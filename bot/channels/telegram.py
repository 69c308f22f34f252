"""Telegram, on Rasa's built-in channel: settings from the environment, every update authenticated.

Differences from `rasa.core.channels.telegram.TelegramInput`, and why:

- Settings come from environment variables (TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET,
  TELEGRAM_WEBHOOK_URL, TELEGRAM_API_BASE), never from credentials.yml, so no secret is committed.
- Without a token or secret the channel logs one warning and answers 503; the rest of Porter still runs.
- The built-in registers the webhook with `asyncio.run` while Rasa builds its app, so an unreachable
  Telegram API stops Porter from starting (and `asyncio.run` fails outright inside a running loop). Here the
  webhook is registered in the background once the server runs, with `secret_token` (sent by our own raw
  `setWebhook` call: aiogram 2.15 predates that parameter), and again on demand at
  /webhooks/telegram/set_webhook.
- Every update must carry the secret in `X-Telegram-Bot-Api-Secret-Token`, compared in constant time.
  The built-in instead calls getMe on every update and compares the bot's username with a configured one:
  that proves nothing about the caller (anyone can post an update to the webhook), costs a round trip to
  Telegram per message and breaks when Telegram is slow. The secret is what only Telegram and we know.
- Every update with something to say is stored in the durable inbox (bot/channels/inbox.py) before it is
  handled and marked handled only once Rasa has handled it; the webhook answers after that. Telegram
  retries until it gets a 2xx: a repeat of a handled update_id is answered 200 and dropped, a repeat of one
  a stopped process left unhandled is handled, and the inbox's sweep handles such updates anyway at start-up.
- The conversation id is ``telegram:<chat_id>`` (bot/channels/conversation_ids.py); replies turn it back into
  the chat id and refuse a conversation of another channel. Text is cleaned and a message over the length
  limit gets a notice instead of reaching Rasa (bot/channels/inbound.py).
- The sender's `language_code` travels as message metadata (actions/session.py takes it as a language
  hint); a photo becomes its caption (or "[image]") with the photo as an attachment; anything else that
  is not text (stickers, locations, voice...) is acknowledged and ignored. Malformed bodies get a 400.
- A reply Telegram refuses is logged, never raised into the conversation; logs never show the token,
  and addresses or numbers in error messages are masked.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from aiogram import Bot
from aiogram.bot.api import TelegramAPIServer, check_token
from aiogram.utils.exceptions import NetworkError, RestartingTelegram, ValidationError
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import inbound, inbox, media
from bot.channels.conversation_ids import channel_of, conversation_id, native_id
from bot.identifiers import EMAIL_RE, PHONE_RE, mask_email, mask_phone

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
DEFAULT_API_BASE = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
REQUEST_TIMEOUT = 15  # seconds per call to the Bot API, so a hanging API never holds a conversation for long
WEBHOOK_RETRY_DELAYS = (0, 5, 30)  # seconds before each background setWebhook attempt
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token
_START_RE = re.compile(r"^/start(@\w+)?(\s|$)")

_warned_unconfigured = False


def scrub(text: Any, token: Optional[str] = None) -> str:
    """Text fit for a log line: no bot token, emails and phone numbers masked."""
    text = str(text)
    token = token or os.environ.get("TELEGRAM_BOT_TOKEN")
    if token:
        text = text.replace(token, "<bot token>")
    text = EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    return PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)


@dataclass(frozen=True)
class TelegramSettings:
    token: Optional[str]
    secret: Optional[str]
    webhook_url: Optional[str]
    api_base: str = DEFAULT_API_BASE

    @classmethod
    def from_env(cls) -> "TelegramSettings":
        def env(name: str) -> Optional[str]:
            return (os.environ.get(name) or "").strip() or None

        return cls(
            env("TELEGRAM_BOT_TOKEN"),
            env("TELEGRAM_WEBHOOK_SECRET"),
            env("TELEGRAM_WEBHOOK_URL"),
            (env("TELEGRAM_API_BASE") or DEFAULT_API_BASE).rstrip("/"),
        )

    def problem(self) -> Optional[str]:
        """Why the channel cannot work with these settings, or None. Never contains a secret."""
        missing = [
            name
            for name, value in (("TELEGRAM_BOT_TOKEN", self.token), ("TELEGRAM_WEBHOOK_SECRET", self.secret))
            if not value
        ]
        if missing:
            return f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
        try:
            check_token(self.token)
        except ValidationError:
            return "TELEGRAM_BOT_TOKEN does not look like a bot token from BotFather (digits:letters)"
        if not _SECRET_RE.fullmatch(self.secret):
            return "TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -"
        if not self.api_base.startswith(("https://", "http://")):
            return "TELEGRAM_API_BASE must be an http(s) URL"
        return None

    @property
    def bot_id(self) -> str:
        return (self.token or "").split(":", 1)[0]


class BadUpdate(ValueError):
    """The body is not a Telegram update we can read; the message says what is wrong."""


@dataclass
class Inbound:
    """What one update means to Porter. `text` is None when the update is acknowledged and ignored."""

    update_id: int
    chat_id: Optional[int] = None
    text: Optional[str] = None
    metadata: Dict[str, Any] = field(default_factory=dict)
    callback_query_id: Optional[str] = None
    ignored: str = ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(value: Any, where: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise BadUpdate(f"{where} must be an object")
    return value


def _chat_id(message: Dict[str, Any], where: str) -> int:
    chat = _object(message.get("chat"), f"{where}.chat")
    if not _is_int(chat.get("id")):
        raise BadUpdate(f"{where}.chat.id is missing or not an integer")
    return chat["id"]


def _language_metadata(sender: Any) -> Dict[str, Any]:
    code = sender.get("language_code") if isinstance(sender, dict) else None
    return {"language_code": code} if isinstance(code, str) and code else {}


def _largest_photo(photos: Any, where: str) -> str:
    if not isinstance(photos, list) or not photos:
        raise BadUpdate(f"{where}.photo must be a non-empty list")
    for photo in photos:
        if not isinstance(photo, dict) or not isinstance(photo.get("file_id"), str):
            raise BadUpdate(f"{where}.photo entries need a file_id")

    def size(photo: Dict[str, Any]) -> tuple:
        numbers = [photo.get(key) if _is_int(photo.get(key)) else 0 for key in ("width", "height", "file_size")]
        return numbers[0] * numbers[1], numbers[2]

    return max(photos, key=size)["file_id"]


def parse_update(data: Any) -> Inbound:
    """Reads a Telegram Update (https://core.telegram.org/bots/api#update); raises BadUpdate when malformed."""
    if not isinstance(data, dict):
        raise BadUpdate("expected a JSON object (a Telegram Update)")
    if not _is_int(data.get("update_id")):
        raise BadUpdate("update_id is missing or not an integer")
    update = Inbound(data["update_id"])

    if "callback_query" in data:  # a button press
        query = _object(data["callback_query"], "callback_query")
        if not isinstance(query.get("id"), str):
            raise BadUpdate("callback_query.id is missing")
        update.callback_query_id = query["id"]
        if not isinstance(query.get("message"), dict):
            update.ignored = "a button on an inline-mode message"
            return update
        update.chat_id = _chat_id(query["message"], "callback_query.message")
        if not isinstance(query.get("data"), str) or not query["data"].strip():
            update.ignored = "a button press without data"
            return update
        update.text = query["data"]
        update.metadata = _language_metadata(query.get("from"))
        return update

    kind = next((k for k in ("message", "edited_message") if k in data), None)
    if kind is None:
        update.ignored = "an update that is not a message"
        return update
    message = _object(data[kind], kind)
    update.chat_id = _chat_id(message, kind)
    update.metadata = _language_metadata(message.get("from"))
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        raise BadUpdate(f"{kind}.text must be a string")
    if text and text.strip():
        # Telegram sends /start when a shopper opens the bot; Porter greets them (in their language).
        update.text = "/greet" if _START_RE.match(text.strip()) else text
    elif "photo" in message:
        caption = message.get("caption")
        update.text = caption.strip() if isinstance(caption, str) and caption.strip() else "[image]"
        update.metadata["attachments"] = [
            {"type": "image", "channel": CHANNEL, "id": _largest_photo(message["photo"], kind)}
        ]
    else:
        update.ignored = "a message without text (sticker, voice, location...)"
    return update


class TelegramBotOutput(TelegramOutput):
    """Rasa's Telegram output pointed at TELEGRAM_API_BASE, with a request timeout and failures logged."""

    def __init__(self, token: str, api_base: str = DEFAULT_API_BASE, timeout: float = REQUEST_TIMEOUT) -> None:
        Bot.__init__(self, token, server=TelegramAPIServer.from_base(api_base), timeout=timeout)
        self._bot_token = token

    def _chat(self, recipient_id: Text) -> Optional[str]:
        """The chat id inside a Telegram conversation id; None, logged, for another channel's conversation."""
        chat = native_id(CHANNEL, str(recipient_id))
        if chat is None:
            logger.error(
                "refused a Telegram message addressed to a %s conversation", channel_of(str(recipient_id)) or "unknown"
            )
        return chat

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        chat = self._chat(recipient_id)
        if chat is not None:
            await super().send_text_message(chat, text, **kwargs)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        chat = self._chat(recipient_id)
        if chat is not None:
            await super().send_image_url(chat, image, **kwargs)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        chat = self._chat(recipient_id)
        if chat is not None:
            await super().send_custom_json(chat, json_message, **kwargs)

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        # A reply Telegram refuses (blocked bot, API down) must not abort the rest of the turn, nor leak
        # the token: aiohttp errors may quote the request URL, which contains it.
        try:
            await super().send_response(recipient_id, message)
        except Exception as exc:  # noqa: BLE001 - any failure to deliver is logged the same way
            logger.error(
                "could not send a reply to Telegram chat %s: %s: %s",
                recipient_id,
                type(exc).__name__,
                scrub(exc, self._bot_token),
            )

    async def send_text_with_buttons(
        self,
        recipient_id: Text,
        text: Text,
        buttons: List[Dict[Text, Any]],
        button_type: Optional[Text] = None,
        **kwargs: Any,
    ) -> None:
        chat = self._chat(recipient_id)
        if chat is None:
            return
        if button_type in (None, "inline"):
            # One row when the titles fit on a phone's width, else one button per row.
            fits = len(buttons) <= 3 and sum(len(str(b.get("title", ""))) for b in buttons) <= 32
            button_type = "inline" if fits else "vertical"
        await super().send_text_with_buttons(chat, text, buttons, button_type=button_type, **kwargs)

    async def acknowledge_button(self, callback_query_id: str) -> None:
        """Stops the spinner Telegram shows on a pressed button until the bot answers the callback."""
        try:
            await self.answer_callback_query(callback_query_id)
        except Exception as exc:  # noqa: BLE001
            logger.warning(
                "could not acknowledge a Telegram button press: %s: %s", type(exc).__name__, scrub(exc, self._bot_token)
            )

    async def register_webhook(self, url: str, secret: str) -> None:
        """setWebhook with secret_token; raises on failure. A raw call: aiogram 2.15 lacks secret_token."""
        await self.request(
            "setWebhook", {"url": url, "secret_token": secret, "allowed_updates": json.dumps(ALLOWED_UPDATES)}
        )

    async def close_session(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


class _UnconfiguredOutput(OutputChannel):
    """Used when the channel is not configured (e.g. an agent's reply via /execute): drops with a warning."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        logger.warning("dropped a reply to Telegram chat %s: the Telegram channel is not configured", recipient_id)


class TelegramChannel(TelegramInput):
    """Rasa's `telegram` channel (webhook /webhooks/telegram/webhook) configured from the environment."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        if credentials:
            logger.warning(
                "credentials.yml sets %s for Telegram; they are ignored: Porter reads "
                "TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET, TELEGRAM_WEBHOOK_URL and "
                "TELEGRAM_API_BASE from the environment",
                ", ".join(sorted(credentials)),
            )
        return cls(TelegramSettings.from_env())

    def __init__(self, settings: Optional[TelegramSettings] = None) -> None:
        settings = settings or TelegramSettings.from_env()
        super().__init__(settings.token, None, settings.webhook_url, debug_mode=False)
        self.settings = settings
        self.problem = settings.problem()
        self._output: Optional[OutputChannel] = None
        self._inbox: Optional[inbox.Inbox] = None
        self._tasks: List[asyncio.Task] = []
        global _warned_unconfigured
        if self.problem and not _warned_unconfigured:
            _warned_unconfigured = True
            logger.warning(
                "Telegram channel disabled: %s. Its webhook answers 503 until it is set "
                '(see README, "Connecting Telegram").',
                self.problem,
            )
        elif not self.problem and not settings.webhook_url:
            logger.warning(
                "TELEGRAM_WEBHOOK_URL is not set: Porter will not register its Telegram webhook; "
                'register it yourself with setWebhook and secret_token (README, "Connecting '
                'Telegram").'
            )
        elif not self.problem and not settings.webhook_url.startswith("https://"):
            logger.warning("TELEGRAM_WEBHOOK_URL is not an https:// URL; Telegram only delivers to HTTPS.")

    def get_output_channel(self) -> OutputChannel:
        """The output for replies, also used for agents' messages (/execute?output_channel=latest).

        No network call here: the built-in sets the webhook at this point with asyncio.run, which blocks
        startup on Telegram and fails inside the server's running loop.
        """
        if self._output is None:
            self._output = (
                _UnconfiguredOutput()
                if self.problem
                else TelegramBotOutput(self.settings.token, self.settings.api_base)
            )
        return self._output

    def _unavailable(self) -> HTTPResponse:
        return response.json({"error": f"the Telegram channel is not configured: {self.problem}"}, status=503)

    def _authentic(self, request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return False
        # bytes, so any header compares (str compare_digest rejects non-ASCII); surrogatepass never fails
        return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), self.settings.secret.encode())

    async def _register_webhook(self) -> Optional[Exception]:
        """Registers the webhook; None on success, else the failure (never raised: startup must go on)."""
        try:
            await self.get_output_channel().register_webhook(self.settings.webhook_url, self.settings.secret)
        except Exception as exc:  # noqa: BLE001 - reported to the operator by the callers
            return exc
        logger.info("Telegram webhook registered: %s", self.settings.webhook_url)
        return None

    def _describe(self, failure: Exception) -> str:
        return f"{type(failure).__name__}: {scrub(failure, self.settings.token)}"

    async def _register_webhook_in_background(self) -> None:
        """At startup, without delaying it: retries while Telegram is unreachable, gives up on a refusal."""
        for attempt, delay in enumerate(WEBHOOK_RETRY_DELAYS, 1):
            await asyncio.sleep(delay)
            failure = await self._register_webhook()
            if failure is None:
                return
            unreachable = isinstance(failure, (NetworkError, RestartingTelegram, asyncio.TimeoutError))
            retry = unreachable and attempt < len(WEBHOOK_RETRY_DELAYS)
            logger.warning(
                "could not register the Telegram webhook (attempt %d): %s%s",
                attempt,
                self._describe(failure),
                "; retrying"
                if retry
                else "; Porter keeps running: fix "
                "the settings or the network, then call /webhooks/telegram/set_webhook",
            )
            if not retry:
                return

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook = Blueprint("telegram_webhook", __name__)
        if not self.problem:
            self._inbox = inbox.Inbox()

        async def work(entry: inbox.Entry, app: Any) -> None:
            update = Inbound(**entry.payload)
            output = self.get_output_channel()
            if update.callback_query_id:
                await output.acknowledge_button(update.callback_query_id)
            for attachment in update.metadata.get("attachments") or []:  # kept for the agents (bot/channels/media.py)
                kept = await media.keep_telegram_photo(
                    self.settings.api_base, self.settings.token, attachment["id"], entry.conversation
                )
                if kept:
                    attachment["photo"] = kept
            text = await inbound.admit(app, entry.conversation, update.text, update.metadata, output)
            if text is not None:
                await on_new_message(
                    UserMessage(
                        text,
                        output,
                        entry.conversation,
                        input_channel=self.name(),
                        message_id=entry.message_id,
                        metadata=update.metadata,
                    )
                )

        @telegram_webhook.listener("after_server_start")
        async def register_at_startup(app: Any, _loop: Any) -> None:
            if not self.problem:
                self._tasks.append(
                    asyncio.ensure_future(inbox.sweep(self._inbox, app, CHANNEL, lambda entry: work(entry, app)))
                )
            if not self.problem and self.settings.webhook_url:
                self._tasks.append(asyncio.ensure_future(self._register_webhook_in_background()))

        @telegram_webhook.listener("before_server_stop")
        async def close(app: Any, _loop: Any) -> None:
            for task in self._tasks:
                task.cancel()
            if isinstance(self._output, TelegramBotOutput):
                await self._output.close_session()

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return self._unavailable() if self.problem else response.json({"status": "ok"})

        @telegram_webhook.route("/set_webhook", methods=["GET", "POST"])
        async def set_webhook(_: Request) -> HTTPResponse:
            if self.problem:
                return self._unavailable()
            if not self.settings.webhook_url:
                return response.json({"error": "TELEGRAM_WEBHOOK_URL is not set"}, status=400)
            failure = await self._register_webhook()
            if failure:
                logger.warning("could not register the Telegram webhook: %s", self._describe(failure))
                return response.json({"ok": False, "error": self._describe(failure)}, status=502)
            return response.json({"ok": True, "url": self.settings.webhook_url})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if self.problem:
                return self._unavailable()
            if not self._authentic(request):
                logger.warning(
                    "rejected a Telegram webhook call from %s: missing or wrong %s header",
                    request.remote_addr or request.ip,
                    SECRET_HEADER,
                )
                return response.json({"error": f"missing or wrong {SECRET_HEADER} header"}, status=403)
            try:
                update = parse_update(json.loads(request.body or b""))
            except (ValueError, RecursionError) as exc:  # BadUpdate and UnicodeDecodeError too
                reason = str(exc) if isinstance(exc, BadUpdate) else "the body is not JSON"
                logger.warning("rejected a malformed Telegram update: %s", reason)
                return response.json({"error": f"not a Telegram update: {reason}"}, status=400)

            if update.text is None:
                if update.callback_query_id:
                    await self.get_output_channel().acknowledge_button(update.callback_query_id)
                logger.debug("ignored Telegram update %s: %s", update.update_id, update.ignored)
                return response.json({"status": "ignored"})

            state, entry = await asyncio.to_thread(
                self._inbox.receive,
                CHANNEL,
                f"{self.settings.bot_id}:{update.update_id}",
                conversation_id(CHANNEL, update.chat_id),
                asdict(update),
            )
            if entry is None:  # handled already, or being handled by a live process
                logger.debug("Telegram update %s is %s", update.update_id, state)
                return response.json({"status": "duplicate" if state == inbox.HANDLED else "in progress"})
            logger.debug("Telegram update %s from chat %s", update.update_id, update.chat_id)
            await inbox.handle(self._inbox, request.app, entry, lambda claimed: work(claimed, request.app))
            return response.json({"status": "ok"})

        return telegram_webhook
