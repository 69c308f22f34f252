"""A local stand-in for a remote API (Telegram, WhatsApp Graph, Shopify...): records every request and answers
with what the test registered, so tests see exactly what a connector or adapter sent out."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, List, Tuple
from urllib.parse import parse_qs, urlsplit

Reply = Tuple[int, object]  # status, JSON-serialisable body (or bytes)


@dataclass
class Recorded:
    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    @property
    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


class Recorder:
    def __init__(self) -> None:
        self.requests: List[Recorded] = []
        self._routes: List[Tuple[str, Callable[[Recorded], Reply]]] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with recorder._lock:
                    recorder.requests.append(request)
                status, body = recorder._reply(request)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def route(self, path_prefix: str, reply: Callable[[Recorded], Reply]) -> None:
        """Answer requests whose path starts with path_prefix; the latest registration wins."""
        with self._lock:
            self._routes.insert(0, (path_prefix, reply))

    def _reply(self, request: Recorded) -> Reply:
        with self._lock:
            routes = list(self._routes)
        for prefix, reply in routes:
            if request.path.startswith(prefix):
                return reply(request)
        return 404, {"error": f"no route for {request.path}"}

    def received(self, path_part: str = "", since: float = 0.0) -> List[Recorded]:
        with self._lock:
            return [r for r in self.requests if path_part in r.path and r.at >= since]

    def wait_for(self, path_part: str, count: int = 1, since: float = 0.0, timeout: float = 30.0) -> List[Recorded]:
        """Requests matching path_part once at least `count` arrived; the connector sends asynchronously."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.received(path_part, since)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        return self.received(path_part, since)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
