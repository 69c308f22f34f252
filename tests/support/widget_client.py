"""A storefront widget as Porter's socket.io channel sees it, without a browser: python-socketio's client
speaking the same protocol as rasa-webchat (session_request / session_confirm, user_uttered / bot_uttered).

Used by the security tests and the fuzz benchmark to play several browsers at once, including ones that lie
about their session.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

import socketio


class WidgetClient:
    def __init__(self, url: str, forwarded_for: Optional[str] = None) -> None:
        self.url = url
        self.headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: List[Dict[str, Any]] = []
        self.events: List[tuple] = []
        self.handle: Optional[str] = None
        self._confirmed = asyncio.Event()
        self.sio.on("bot_uttered", self._bot_uttered)
        self.sio.on("session_confirm", self._session_confirm)
        for name in ("session_refused", "session_required", "bad_request"):
            self.sio.on(name, self._recorder(name))

    async def _bot_uttered(self, data: Dict[str, Any]) -> None:
        self.received.append(data)

    async def _session_confirm(self, handle: Any) -> None:
        self.handle = handle
        self._confirmed.set()

    def _recorder(self, name: str):
        async def record(data: Any = None) -> None:
            self.events.append((name, data))
            if name == "session_refused":
                self._confirmed.set()

        return record

    async def open(self, session_id: Any = None, timeout: float = 30) -> Optional[str]:
        """Connects and asks for ``session_id``; returns the handle Porter confirmed (None if refused)."""
        await self.sio.connect(
            self.url, headers=self.headers, socketio_path="/socket.io", transports=["polling"], wait_timeout=timeout
        )  # aiohttp 3.9 has no WS client here
        await self.sio.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(self._confirmed.wait(), timeout)
        return self.handle

    async def say(
        self, text: Any, metadata: Any = None, session_id: Any = None, wait_for: int = 1, timeout: float = 60
    ) -> List[Dict[str, Any]]:
        """Sends a message and returns what Porter pushed back (at least ``wait_for`` messages, or what
        arrived before ``timeout``; Porter's messages for one turn arrive together)."""
        before = len(self.received)
        payload = {
            "message": text,
            "customData": {"locale": "en"} if metadata is None else metadata,
            "session_id": session_id if session_id is not None else self.handle,
        }
        await self.sio.emit("user_uttered", payload)
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received) - before < wait_for and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # the rest of the turn
        return self.received[before:]

    async def close(self) -> None:
        await self.sio.disconnect()


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text") or "") for m in messages)
