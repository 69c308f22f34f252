"""Porter's replies as WhatsApp Cloud API messages, sent through the Graph API.

Text goes as a text message. Rasa buttons become an interactive message: up to 3 reply buttons (title at
most 20 characters), more as a list (row title at most 24 characters, the full title as its description),
and every reply id is the button's Rasa payload, so the shopper's tap comes back as exactly what the bot
expects. Choices a WhatsApp interactive message cannot carry (more than 10, or a payload longer than an id
may be) are sent as numbered text: the shopper can type the number. Images go by link.

Recipients are conversation ids, ``whatsapp:<wa_id>``: the number is taken out of it only when a message
leaves, and a conversation of another channel is refused (logged, kept in the undelivered list), so nothing
addressed to a REST or Telegram conversation can reach a phone. Before anything is sent the 24-hour window is
checked (bot/channels/whatsapp_window.py). The output channel needs no user turn:
``WhatsAppInput.get_output_channel()`` gives one that an agent desk or ``/conversations/{id}/execute`` can
use.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import aiohttp
from rasa.core.channels.channel import OutputChannel

from bot.channels.conversation_ids import channel_of, native_id
from bot.channels.whatsapp_window import ConversationWindow, UndeliveredMessages
from bot.identifiers import EMAIL_RE, mask_email, mask_phone

logger = logging.getLogger(__name__)

CHANNEL = "whatsapp"
TEXT_LIMIT = 4096  # characters in a text message body
BODY_LIMIT = 1024  # characters in an interactive message body
MAX_BUTTONS = 3
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
MAX_ROWS = 10
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROW_ID_LIMIT = 200
SEND_TIMEOUT_SECONDS = 15
NOT_WHATSAPP = "not a WhatsApp conversation: refused"


@dataclass(frozen=True)
class GraphApi:
    """Where and as whom to send: {api_base}/{phone_number_id}/messages with the access token."""

    api_base: str
    phone_number_id: str
    access_token: str

    @property
    def messages_url(self) -> str:
        return f"{self.api_base.rstrip('/')}/{self.phone_number_id}/messages"


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _envelope(to: str, kind: str, content: Dict[str, Any]) -> Dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": str(to), "type": kind, kind: content}


def text_messages(to: str, text: str) -> List[Dict[str, Any]]:
    """One text message, or several when the text is longer than WhatsApp allows (cut between lines)."""
    text = str(text).strip()
    parts: List[str] = []
    while len(text) > TEXT_LIMIT:
        cut = text.rfind("\n", 0, TEXT_LIMIT)
        cut = cut if cut > TEXT_LIMIT // 2 else TEXT_LIMIT
        parts.append(text[:cut].rstrip())
        text = text[cut:].strip()
    parts.append(text)
    return [_envelope(to, "text", {"body": part, "preview_url": False}) for part in parts if part]


def list_button_label(text: str) -> str:
    """The label of the button that opens a list; the output channel does not know the conversation's language,
    so it follows the script of the question."""
    if re.search(r"[\u4e00-\u9fff]", text):
        return "选择"
    if re.search(r"[\u0400-\u04ff]", text):
        return "Выбрать"
    return "Options"


def button_messages(to: str, text: str, buttons: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The question with its choices, as WhatsApp can show them (see the module docstring)."""
    choices = [
        (str(b.get("payload") or b.get("title") or ""), str(b.get("title") or b.get("payload") or "")) for b in buttons
    ]
    text = str(text or "").strip()
    body, before = text, []
    if len(text) > BODY_LIMIT:  # say it all first, then ask with the buttons under a short body
        before, body = text_messages(to, text), "⬇️"
    body = body or "⬇️"
    titles = [_clip(title, BUTTON_TITLE_LIMIT) for _, title in choices]
    if (
        0 < len(choices) <= MAX_BUTTONS
        and len(set(titles)) == len(titles)
        and all(0 < len(p) <= BUTTON_ID_LIMIT for p, _ in choices)
    ):
        action = {
            "buttons": [
                {"type": "reply", "reply": {"id": payload, "title": title}}
                for (payload, _), title in zip(choices, titles)
            ]
        }
        return before + [_envelope(to, "interactive", {"type": "button", "body": {"text": body}, "action": action})]
    titles = [_clip(title, ROW_TITLE_LIMIT) for _, title in choices]
    if (
        0 < len(choices) <= MAX_ROWS
        and len(set(titles)) == len(titles)
        and all(0 < len(p) <= ROW_ID_LIMIT for p, _ in choices)
    ):
        rows = []
        for (payload, full), title in zip(choices, titles):
            row = {"id": payload, "title": title}
            if title != full:
                row["description"] = _clip(full, ROW_DESCRIPTION_LIMIT)
            rows.append(row)
        action = {"button": list_button_label(text), "sections": [{"rows": rows}]}
        return before + [_envelope(to, "interactive", {"type": "list", "body": {"text": body}, "action": action})]
    numbered = "\n".join(f"{i}. {title}" for i, (_, title) in enumerate(choices, 1))
    return text_messages(to, f"{text}\n{numbered}" if text else numbered)


def image_message(to: str, url: str, caption: Optional[str] = None) -> Dict[str, Any]:
    image = {"link": str(url)}
    if caption:
        image["caption"] = _clip(caption, BODY_LIMIT)
    return _envelope(to, "image", image)


def summary(message: Dict[str, Any]) -> str:
    """What a message says, for the undelivered list: the text, with buttons as [title]."""
    kind = message.get("type")
    content = message.get(kind) or {}
    if kind == "text":
        return content.get("body", "")
    if kind == "image":
        return " ".join(filter(None, [f"[image {content.get('link', '')}]", content.get("caption")]))
    if kind == "interactive":
        action = content.get("action") or {}
        titles = [b["reply"]["title"] for b in action.get("buttons", [])]
        titles += [row["title"] for section in action.get("sections", []) for row in section.get("rows", [])]
        return " ".join([(content.get("body") or {}).get("text", "")] + [f"[{t}]" for t in titles])
    if kind == "template":
        return f"[template {content.get('name', '')}]"
    return f"[{kind} message]"


def _scrub(text: str, secret: str = "") -> str:
    """An error text from Meta, safe for logs: the token removed, emails and numbers masked, one line, short."""
    text = str(text).replace(secret, "***") if secret else str(text)
    text = EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    return _clip(re.sub(r"\+?\d{7,}", lambda m: mask_phone(m.group(0)), text), 200)


class WhatsAppOutput(OutputChannel):
    """Sends Rasa's replies to a WhatsApp number through the Cloud API."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(
        self,
        api: GraphApi,
        window: Optional[ConversationWindow] = None,
        undelivered: Optional[UndeliveredMessages] = None,
    ) -> None:
        self.api = api
        self.window = window or ConversationWindow()
        self.undelivered = undelivered or UndeliveredMessages()

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for message in text_messages(recipient_id, text):
            await self.deliver(message)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        for message in button_messages(recipient_id, text, buttons):
            await self.deliver(message)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.deliver(image_message(recipient_id, image))

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        """A ready Cloud API message (e.g. {"type": "template", "template": {...}}) is sent as it is."""
        if (
            isinstance(json_message, dict)
            and isinstance(json_message.get("type"), str)
            and json_message["type"] in json_message
        ):
            message = dict(json_message, messaging_product="whatsapp", to=str(recipient_id))
            message.setdefault("recipient_type", "individual")
            await self.deliver(message)
        else:
            await super().send_custom_json(recipient_id, json_message, **kwargs)

    async def deliver(self, message: Dict[str, Any]) -> Optional[str]:
        """Sends one Cloud API message addressed to a conversation id; its wamid, or None when it was kept back
        or failed (then recorded)."""
        conversation = str(message["to"])
        to = native_id(CHANNEL, conversation)
        if to is None or not to.isdigit():
            logger.error(
                "whatsapp: refused a %s message addressed to a %s conversation",
                message.get("type"),
                channel_of(conversation) or "unknown",
            )
            self.undelivered.record(CHANNEL, conversation, summary(message), NOT_WHATSAPP)
            return None
        message = dict(message, to=to)
        if message.get("type") != "template":  # templates are what Meta allows outside the window
            closed = self.window.closed_because(to)
            if closed:
                logger.warning("whatsapp: not sent to %s, %s; kept in undelivered_messages", mask_phone(to), closed)
                self.undelivered.record(CHANNEL, to, summary(message), closed)
                return None
        try:
            status, answer = await self._post(message)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            reason = f"the Graph API could not be reached: {type(exc).__name__}"
            logger.error("whatsapp: a %s message to %s was not sent: %s", message.get("type"), mask_phone(to), reason)
            self.undelivered.record(CHANNEL, to, summary(message), reason)
            return None
        if 200 <= status < 300:
            ids = answer.get("messages") if isinstance(answer, dict) else None
            wamid = ids[0].get("id") if isinstance(ids, list) and ids and isinstance(ids[0], dict) else None
            logger.debug("whatsapp: sent a %s message to %s", message.get("type"), mask_phone(to))
            return wamid or ""
        error = answer.get("error") if isinstance(answer, dict) else None
        detail = (
            f"{error.get('code', '')} {error.get('message', '')}".strip()
            if isinstance(error, dict)
            else "no error detail"
        )
        reason = f"the Graph API answered {status}: {_scrub(detail, self.api.access_token)}"
        logger.error("whatsapp: a %s message to %s was not sent: %s", message.get("type"), mask_phone(to), reason)
        self.undelivered.record(CHANNEL, to, summary(message), reason)
        return None

    async def _post(self, message: Dict[str, Any]):
        timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT_SECONDS)
        headers = {"Authorization": f"Bearer {self.api.access_token}"}
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(self.api.messages_url, json=message, headers=headers) as response:
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
                return response.status, answer
