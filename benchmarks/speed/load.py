"""The load generator: shoppers who each hold one conversation after another over the REST channel, writing the
next message as soon as the reply arrives, and the time every reply took.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import aiohttp

from benchmarks.speed.conversations import Button, Expect, Script
from benchmarks.speed.orders import OrderPool

TIMEOUT = aiohttp.ClientTimeout(total=120)


@dataclass
class Replies:
    """What one phase of driving a bot measured."""

    latencies: List[float] = field(default_factory=list)  # seconds per message, in the order they were answered
    finished_at: List[float] = field(default_factory=list)  # monotonic time each reply arrived
    conversations: int = 0
    errors: List[str] = field(default_factory=list)  # failed requests and replies off the expected path

    def extend(self, other: "Replies") -> None:
        self.latencies += other.latencies
        self.finished_at += other.finished_at
        self.conversations += other.conversations
        self.errors += other.errors


class Shoppers:
    """Drives one bot. ``pool`` gives Porter's conversations their orders; the bare bot's need none."""

    def __init__(self, base_url: str, scripts: Sequence[Script], pool: Optional[OrderPool], run_id: str) -> None:
        self.url = f"{base_url}/webhooks/rest/webhook"
        self.scripts, self.pool, self.run_id = scripts, pool, run_id
        self._numbers = itertools.count(1)

    async def _say(self, session: aiohttp.ClientSession, sender: str, text: str, replies: Replies) -> list:
        started = time.monotonic()
        async with session.post(self.url, json={"sender": sender, "message": text}) as response:
            body = await response.json(content_type=None) if response.status == 200 else None
            if response.status != 200:
                replies.errors.append(f"HTTP {response.status}")
        now = time.monotonic()
        replies.latencies.append(now - started)
        replies.finished_at.append(now)
        return body or []

    async def converse(self, session: aiohttp.ClientSession, script: Script, replies: Replies) -> None:
        sender = f"bench-{self.run_id}-{next(self._numbers)}"
        order, email = self.pool.take(script.template_order) if script.template_order else ("", "")
        last: list = []
        for step in script.steps:
            if isinstance(step, Expect):
                said = "\n".join(str(reply.get("text") or "") for reply in last)
                if step.text not in said:
                    replies.errors.append(f"{script.name}: expected {step.text!r}")
                continue
            if isinstance(step, Button):
                buttons = [button for reply in last for button in reply.get("buttons") or []]
                if len(buttons) <= step.index:
                    replies.errors.append(f"{script.name}: no button {step.index + 1} to press")
                    return
                text = buttons[step.index]["payload"]
            else:
                text = step.format(order=order, email=email)
            last = await self._say(session, sender, text, replies)
        replies.conversations += 1

    async def run(
        self, shoppers: int, seconds: float, on_tick: Optional[Callable[[], None]] = None, tick_seconds: float = 10.0
    ) -> Replies:
        """``shoppers`` at once for ``seconds`` (each finishes the conversation it is in); ``on_tick`` is called
        every ``tick_seconds`` meanwhile."""
        replies = Replies()
        deadline = time.monotonic() + seconds
        connector = aiohttp.TCPConnector(limit=shoppers + 4)
        async with aiohttp.ClientSession(timeout=TIMEOUT, connector=connector) as session:

            async def shopper(index: int) -> None:
                scripts = itertools.islice(itertools.cycle(self.scripts), index, None)
                while time.monotonic() < deadline:
                    try:
                        await self.converse(session, next(scripts), replies)
                    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                        replies.errors.append(f"{type(exc).__name__}")

            async def ticker() -> None:
                while on_tick and time.monotonic() < deadline:
                    await asyncio.sleep(min(tick_seconds, max(0.0, deadline - time.monotonic())))
                    on_tick()

            tick = asyncio.create_task(ticker())
            await asyncio.gather(*(shopper(i) for i in range(shoppers)))
            tick.cancel()
        return replies

    async def once_each(self) -> Replies:
        """Every script once, one after the other: warms the bot up (first calls load lazily)."""
        replies = Replies()
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            for script in self.scripts:
                await self.converse(session, script, replies)
        return replies
