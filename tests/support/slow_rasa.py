"""A real HTTP proxy on localhost in front of the real Rasa, that can be slow or forgetful with the desk's replies.

The desk sends an agent's reply with `POST /conversations/{id}/tracker/events?output_channel=latest...` and
gives up after its timeout. Through this proxy a reply can be:

- ``"late"``: passed to Rasa (which records it and sends it to the shopper), its answer held back until the test
  calls ``release()``, after the desk stopped waiting; the desk's reads of the conversation wait until Rasa
  has it, so the order of events never depends on timing;
- ``"lost"``: never passed on, and the request held until ``release()``;
- ``"pass"``: passed on and answered at once.

With ``reads="fail"`` every read of a conversation gets a 503, as when Rasa is down.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Tuple

import requests

HANG_GUARD = 60.0


class SlowRasa:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.replies, self.reads = "pass", "pass"
        self._released, self._forwarded = threading.Event(), threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = proxy._answer(self.command, self.path, body, self.headers.get("Content-Type"))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the desk gave up waiting and closed the connection: that is the point

            do_GET = do_POST = _handle

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def set(self, replies: str = "pass", reads: str = "pass") -> None:
        self.replies, self.reads = replies, reads
        self._released.clear()
        self._forwarded.clear()

    def release(self) -> None:
        self._released.set()

    def _answer(self, method: str, path: str, body: bytes, content_type: str) -> Tuple[int, bytes]:
        is_reply = method == "POST" and "/tracker/events" in path and "output_channel=" in path
        if is_reply and self.replies == "lost":
            self._released.wait(HANG_GUARD)
            return 504, b'{"error": "the proxy lost it"}'
        if method == "GET" and "/tracker" in path:
            if self.reads == "fail":
                return 503, b'{"error": "Rasa is down"}'
            if self.replies == "late":
                self._forwarded.wait(HANG_GUARD)
        answer = requests.request(
            method,
            self.target + path,
            data=body,
            timeout=HANG_GUARD,
            headers={"Content-Type": content_type or "application/json"},
        )
        if is_reply and self.replies == "late":
            self._forwarded.set()
            self._released.wait(HANG_GUARD)
        return answer.status_code, answer.content

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
