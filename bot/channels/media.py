"""Photos shoppers send on WhatsApp and Telegram, fetched through each service's media API and kept like the
widget's (bot/photos.py), so agents see them beside the ticket.

Telegram: ``getFile`` gives the file's path, then ``/file/bot<token>/<path>`` its bytes (core.telegram.org/bots/api,
getFile). WhatsApp: ``GET /<media id>`` with the access token gives a short-lived URL, which is fetched with the same
token (developers.facebook.com, Cloud API, Media). Both are read up to the photo limit and checked by their bytes.
A photo that cannot be fetched (the service is down, the file is too large or not an image) is logged without the
token; the message still goes on to Porter with its media id, so the conversation never waits on a photo.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional

import aiohttp

from bot import photos

logger = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=20)


async def _read(answer: aiohttp.ClientResponse) -> bytes:
    data = await answer.content.read(photos.max_bytes() + 1)
    if len(data) > photos.max_bytes():
        raise photos.PhotoRefused("larger than the photo limit", 413)
    return data


async def _keep(conversation: str, source: str, fetch) -> Optional[str]:
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            data = await fetch(session)
        photo = await asyncio.to_thread(photos.PhotoStore().keep, conversation, data, source)
    except photos.PhotoRefused as refused:
        logger.warning("%s: a photo was not kept: %s", source, refused)
        return None
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError, TypeError) as exc:
        logger.warning("%s: a photo could not be fetched (%s)", source, type(exc).__name__)
        return None
    return photo.token


async def keep_telegram_photo(api_base: str, bot_token: str, file_id: str, conversation: str) -> Optional[str]:
    """The token of the kept photo, or None."""

    async def fetch(session: aiohttp.ClientSession) -> bytes:
        async with session.get(f"{api_base}/bot{bot_token}/getFile", params={"file_id": file_id}) as answer:
            described: Dict[str, Any] = await answer.json(content_type=None)
        if not described.get("ok"):
            raise ValueError("getFile refused")
        path = described["result"]["file_path"]
        async with session.get(f"{api_base}/file/bot{bot_token}/{path}") as answer:
            answer.raise_for_status()
            return await _read(answer)

    return await _keep(conversation, "telegram", fetch)


async def keep_whatsapp_photo(api_base: str, access_token: str, media_id: str, conversation: str) -> Optional[str]:
    """The token of the kept photo, or None."""
    headers = {"Authorization": f"Bearer {access_token}"}

    async def fetch(session: aiohttp.ClientSession) -> bytes:
        async with session.get(f"{api_base.rstrip('/')}/{media_id}", headers=headers) as answer:
            answer.raise_for_status()
            described: Dict[str, Any] = await answer.json(content_type=None)
        async with session.get(described["url"], headers=headers) as answer:
            answer.raise_for_status()
            return await _read(answer)

    return await _keep(conversation, "whatsapp", fetch)
