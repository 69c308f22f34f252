"""A Sanic app served on a free localhost port from a thread of the test process, for tests that need the real HTTP
server around an app they built themselves (their own settings, a clock, a stand-in handler)."""

from __future__ import annotations

import asyncio
import socket
import threading


class ServedApp:
    def __init__(self, app) -> None:
        self.app = app
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        assert self._ready.wait(30), "the web server did not start"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start():
            self._server = await self.app.create_server(
                host="127.0.0.1", port=self.port, access_log=False, return_asyncio_server=True
            )
            await self._server.startup()
            await self._server.before_start()
            await self._server.after_start()
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def stop(self) -> None:
        async def stop():
            await self._server.before_stop()
            await self._server.close()
            await self._server.after_stop()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
