"""The desk's settings and its client of Rasa's HTTP API: how an agent's words and the desk's notices reach a
conversation (a bot event appended with ``output_channel=latest`` and ``execute_side_effects``), and how the desk
reads a conversation back. The token goes in the query, never into a log."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from bot.paths import var_dir

logger = logging.getLogger(__name__)

DESK_NOTICE_KEY = "porter_desk_notice"  # metadata on a notice the desk sent: notices.AGENT_JOINED or BACK_WITH_PORTER
DESK_MESSAGE_KEY = "porter_desk_message"  # metadata on the bot event of an agent's reply: the message id
DEFAULT_RASA_TIMEOUT, MAX_RASA_TIMEOUT = 15.0, 60.0  # seconds the desk waits for Rasa (PORTER_DESK_RASA_TIMEOUT)


@dataclass(frozen=True)
class DeskConfig:
    rasa_url: str  # Rasa's HTTP API, as this server reaches it
    rasa_token: Optional[str]  # Rasa's --auth-token
    canned_replies: Optional[Path]  # None: each language catalog's canned_replies
    secure_cookie: bool  # Secure cookies: set it when the desk is served over HTTPS
    rasa_timeout: float = DEFAULT_RASA_TIMEOUT  # at most MAX_RASA_TIMEOUT: tickets.STALE_SENDING_SECONDS relies on it

    @classmethod
    def from_env(cls) -> "DeskConfig":
        url = os.environ.get("PORTER_RASA_URL") or f"http://localhost:{os.environ.get('RASA_PORT', '5005')}"
        token = os.environ.get("RASA_AUTH_TOKEN")
        stored = var_dir() / "rasa_auth_token"
        if not token and stored.exists():  # `python -m bot web` on its own, next to a `make run`
            token = stored.read_text().strip()
        canned = Path(os.environ["PORTER_CANNED_REPLIES"]) if os.environ.get("PORTER_CANNED_REPLIES") else None
        secure = os.environ.get("PORTER_DESK_SECURE_COOKIE", "").lower() in ("1", "true", "yes")
        return cls(
            rasa_url=url.rstrip("/"),
            rasa_token=token or None,
            canned_replies=canned,
            secure_cookie=secure,
            rasa_timeout=_rasa_timeout(),
        )


def _rasa_timeout() -> float:
    raw = (os.environ.get("PORTER_DESK_RASA_TIMEOUT") or "").strip()
    try:
        return min(MAX_RASA_TIMEOUT, max(0.1, float(raw))) if raw else DEFAULT_RASA_TIMEOUT
    except ValueError:
        logger.warning("PORTER_DESK_RASA_TIMEOUT=%r is not a number; using %g s", raw, DEFAULT_RASA_TIMEOUT)
        return DEFAULT_RASA_TIMEOUT


class RasaUnavailable(Exception):
    """Rasa's HTTP API could not do what the desk asked; the message is safe to show and to log. ``not_reached``:
    the request surely did not reach Rasa (no connection, or the balancer had no Rasa to give it to), so trying
    again cannot do it twice."""

    def __init__(self, message: str, not_reached: bool = False) -> None:
        super().__init__(message)
        self.not_reached = not_reached


class RasaConversations:
    """The few calls of Rasa's HTTP API the desk needs. The token goes in the query, never into a log."""

    def __init__(self, config: DeskConfig) -> None:
        self.config = config
        self._session: Optional[aiohttp.ClientSession] = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.rasa_timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _url(self, conversation_id: str, tail: str) -> str:
        return f"{self.config.rasa_url}/conversations/{quote(conversation_id, safe='')}/{tail}"

    async def _call(self, method: str, url: str, params: Dict[str, str], body: Any = None) -> Dict[str, Any]:
        if not self.config.rasa_token:
            raise RasaUnavailable("the web server has no Rasa API token (RASA_AUTH_TOKEN)")
        try:
            async with self._http().request(
                method, url, params={**params, "token": self.config.rasa_token}, json=body
            ) as answer:
                if answer.status != 200:
                    raise RasaUnavailable(f"Rasa answered {answer.status}", not_reached=answer.status in (502, 503))
                return await answer.json()
        except RasaUnavailable:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            # the exception's text may carry the URL and so the token: only its kind is reported
            refused = isinstance(exc, aiohttp.ClientConnectorError)
            raise RasaUnavailable(f"Rasa could not be reached ({type(exc).__name__})", not_reached=refused) from None

    async def events(self, conversation_id: str) -> List[Dict[str, Any]]:
        tracker = await self._call("GET", self._url(conversation_id, "tracker"), {})
        return tracker.get("events") or []

    async def latest_message_id(self, conversation_id: str) -> Optional[str]:
        """Rasa's id of the shopper's latest message, read without the events (for the unread marker)."""
        tracker = await self._call("GET", self._url(conversation_id, "tracker"), {"include_events": "NONE"})
        return (tracker.get("latest_message") or {}).get("message_id")

    async def send(self, conversation_id: str, text: str, message_id: int) -> None:
        """Appends the agent's words as a bot message and has Rasa send it on the shopper's latest channel.
        The message id rides on the event, so the conversation itself can tell later whether it arrived."""
        await self._say(conversation_id, text, {DESK_MESSAGE_KEY: message_id})

    async def announce(self, conversation_id: str, text: str, kind: str) -> None:
        """Tells the shopper who is talking now (an agent joined, Porter is back), on their latest channel."""
        await self._say(conversation_id, text, {DESK_NOTICE_KEY: kind})

    async def _say(self, conversation_id: str, text: str, metadata: Dict[str, Any]) -> None:
        await self._call(
            "POST",
            self._url(conversation_id, "tracker/events"),
            {"output_channel": "latest", "execute_side_effects": "true"},
            [{"event": "bot", "text": text, "metadata": metadata}],
        )

    async def trigger(self, conversation_id: str, intent: str, entities: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Porter speaks first: an external intent runs in the conversation (a new session when the last one
        expired) and what Porter says goes out on the shopper's latest channel. Returns the bot events it
        added (Rasa returns the messages only to a caller-collected channel, so they are read off the tracker)."""
        answer = await self._call(
            "POST",
            self._url(conversation_id, "trigger_intent"),
            {"output_channel": "latest", "include_events": "AFTER_RESTART"},
            {"name": intent, "entities": entities},
        )
        said: List[Dict[str, Any]] = []
        for event in reversed((answer.get("tracker") or {}).get("events") or []):
            if event.get("event") == "user":
                break
            if event.get("event") == "bot":
                said.insert(0, event)
        return said

    async def delivered(self, conversation_id: str, message_id: int) -> bool:
        """True when the conversation holds the bot event of this desk message: Rasa took it and sent it."""
        return any(
            event.get("event") == "bot" and (event.get("metadata") or {}).get(DESK_MESSAGE_KEY) == message_id
            for event in await self.events(conversation_id)
        )

    async def resume(self, conversation_id: str) -> None:
        """Porter answers again. The action_listen makes the next message a fresh turn: after a pause Rasa
        never logged one, and without it the policies see the handoff as the last thing that happened."""
        await self._call(
            "POST",
            self._url(conversation_id, "tracker/events"),
            {},
            [{"event": "resume"}, {"event": "action", "name": "action_listen"}],
        )
