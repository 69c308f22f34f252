"""What every channel does with a shopper's message before Rasa sees it: clean it, bound it, check its
metadata.

Nothing that arrives is trusted. Unpaired surrogates and control characters (which crash tokenizers and
break logs) are removed; a message longer than ``PORTER_MAX_MESSAGE_CHARS`` (default 4,000) never reaches
Rasa, where one megabyte of text would cost seconds of CPU and megabytes of tracker events: the shopper is
asked, in their language, to send it shorter. Metadata must be a JSON object of a sensible size; anything
else is refused with a 4xx by the channel.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import unicodedata
from typing import Any, Dict, Optional

from bot.channels import notices

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_CHARS = 4000  # WhatsApp and Telegram take 4,096; a real shopper's story fits in 4,000
MAX_METADATA_BYTES = 8 * 1024  # locale, a signed identity, a few attachments: far less than this

# C0 and C1 controls but tab and newline; unpaired UTF-16 surrogates (JSON can carry "\ud800"); the
# Unicode "noncharacters" U+FFFE/U+FFFF. Carriage returns become newlines first.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


_HAN = re.compile(r"[\u4e00-\u9fff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


class BadMetadata(ValueError):
    """Metadata a channel refuses (HTTP 400); the message says what is wrong."""


def max_message_chars() -> int:
    raw = (os.environ.get("PORTER_MAX_MESSAGE_CHARS") or "").strip()
    try:
        value = int(raw) if raw else DEFAULT_MAX_MESSAGE_CHARS
    except ValueError:
        logger.warning("PORTER_MAX_MESSAGE_CHARS=%r is not a number; using %d", raw, DEFAULT_MAX_MESSAGE_CHARS)
        return DEFAULT_MAX_MESSAGE_CHARS
    return max(1, value)


def clean_text(text: Any) -> str:
    """The message as Porter reads it: NFC, newlines for carriage returns, no control characters or
    unpaired surrogates, no surrounding blanks. Anything that is not a string reads as empty."""
    if not isinstance(text, str):
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _UNWANTED.sub("", text)
    return unicodedata.normalize("NFC", text).strip()


def too_long(text: str) -> bool:
    return len(text) > max_message_chars()


def too_long_notice(language: Optional[str], length: int) -> str:
    return notices.say(
        notices.TOO_LONG,
        language,
        length=f"{length:,}".replace(",", " "),
        limit=f"{max_message_chars():,}".replace(",", " "),
    )


def guess_language(text: str, known: Optional[str] = None, hint: Optional[str] = None) -> str:
    """The language to answer a message Rasa will not read in: the conversation's, else the channel's hint
    (widget locale, Telegram language_code), else what the text is written in, else English."""
    for candidate in (known, hint):
        code = str(candidate or "")[:2].lower()
        if notices.spoken(code):
            return code
    sample = text[:2000]
    if _HAN.search(sample):
        return "zh"
    if _CYRILLIC.search(sample):
        return "ru"
    found = _identifier().detect(sample)
    if notices.spoken(found.language) and found.supported and found.words >= 2:
        return found.language
    return "en"


@functools.lru_cache(maxsize=1)
def _identifier():
    """Porter's language identification (bot/nlu/language_id.py), made once, on the first notice that needs it."""
    from bot.languages import supported_languages
    from bot.nlu.language_id import LanguageIdentifier

    return LanguageIdentifier(supported_languages())


def checked_metadata(metadata: Any) -> Dict[str, Any]:
    """The metadata when it is a small JSON object (absent means {}); raises BadMetadata otherwise."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise BadMetadata(f"metadata must be a JSON object, not {type(metadata).__name__}")
    try:
        size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):
        raise BadMetadata("metadata must be plain JSON") from None
    if size > MAX_METADATA_BYTES:
        raise BadMetadata(f"metadata is {size} bytes; at most {MAX_METADATA_BYTES} are accepted")
    return metadata


def hint_in(metadata: Dict[str, Any]) -> Optional[str]:
    """A language hint a channel put in the metadata (widget locale, Telegram language_code)."""
    for key in ("locale", "language", "language_code"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return None


async def conversation_language(app: Any, conversation_id: str) -> Optional[str]:
    """The conversation's `language` slot from Rasa's tracker store, None when there is none yet."""
    try:
        agent = getattr(app.ctx, "agent", None)
        store = agent.tracker_store if agent else None
        tracker = await store.retrieve(conversation_id) if store else None
        return tracker.get_slot("language") if tracker else None
    except Exception:  # noqa: BLE001 - the notice still goes out, in the best language we can tell
        logger.debug("no conversation language available", exc_info=True)
        return None


async def admit(app: Any, conversation_id: str, text: Any, metadata: Dict[str, Any], output: Any) -> Optional[str]:
    """The cleaned text to hand to Rasa, or None when the channel answered the shopper itself (a message
    over the length limit: they are asked, in their language, to send it in shorter parts)."""
    cleaned = clean_text(text)
    if not too_long(cleaned):
        return cleaned
    known = await conversation_language(app, conversation_id)
    language = guess_language(cleaned, known, hint_in(metadata))
    logger.info("a %d-character message was not passed to Rasa (limit %d)", len(cleaned), max_message_chars())
    await output.send_text_message(conversation_id, too_long_notice(language, len(cleaned)))
    return None


async def hand_to_rasa(on_new_message: Any, message: Any, metadata: Dict[str, Any]) -> bool:
    """Hands ``message`` to Rasa. When its turn fails (the conversations' database away longer than Rasa waits
    for it, a crash), the shopper is asked, in the language they wrote in, to send it again: never silence.
    The conversation is not read for its language here, since reading it may be what failed."""
    try:
        await on_new_message(message)
        return True
    except Exception as exc:  # noqa: BLE001 - whatever failed, the shopper hears about it
        logger.error(
            "a message could not be handled (%s); the shopper was asked to send it again",
            type(exc).__name__,
            exc_info=logger.isEnabledFor(logging.DEBUG),
        )
        language = guess_language(message.text or "", None, hint_in(metadata))
        await message.output_channel.send_text_message(message.sender_id, notices.say(notices.TRY_AGAIN, language))
        return False
