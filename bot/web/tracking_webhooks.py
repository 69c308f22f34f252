"""Where AfterShip and 17TRACK push tracking news (``POST /webhooks/aftership``, ``POST /webhooks/17track``).

Each push is checked as its service signs it (bot/tracking/webhooks.py) before anything else reads it, and only
then handed to ``handle``, which answers what it made of it ("accepted", "duplicate"...). The status codes are
chosen for the services' retries: a push refused for what it is (401 unsigned, 400 unreadable, 413 too large)
will not become acceptable by resending, while 503 (a secret not set, ``handle`` failing) asks the service to
try again later. Bodies and secrets are never logged.

Sanic reads the body before a route runs, up to the app's ``REQUEST_MAX_SIZE``; ``MAX_BODY_BYTES`` is the
smaller limit these routes accept.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Mapping, Optional

from sanic import Blueprint, response
from sanic.request import Request

from bot.tracking.webhooks import (
    AFTERSHIP,
    MAX_BODY_BYTES,
    SETTINGS,
    SEVENTEEN_TRACK,
    BadPush,
    Push,
    parse_17track,
    parse_aftership,
    secrets_from_env,
    verify_17track,
    verify_aftership,
)

logger = logging.getLogger(__name__)

Handler = Callable[[Push], Awaitable[str]]
SERVICES = {
    AFTERSHIP: (verify_aftership, parse_aftership),
    SEVENTEEN_TRACK: (verify_17track, parse_17track),
}


def _too_large(request: Request) -> bool:
    declared = request.headers.get("content-length") or ""
    if declared.strip().isdigit() and int(declared) > MAX_BODY_BYTES:
        return True
    return len(request.body or b"") > MAX_BODY_BYTES


def blueprint(
    handle: Handler, environ: Optional[Mapping[str, str]] = None, name: str = "tracking_webhooks"
) -> Blueprint:
    """The two webhook routes; the secrets are read once, from ``environ`` (default: the process environment)."""
    secrets = secrets_from_env(environ)
    routes = Blueprint(name)

    async def receive(request: Request, service: str):
        secret = secrets[service]
        if not secret:
            logger.warning("%s push refused: %s is not set", service, SETTINGS[service])
            error = f"{service} pushes are not set up on this server: set {SETTINGS[service]}"
            return response.json({"error": error}, status=503)
        if _too_large(request):
            logger.warning("%s push refused: larger than %d bytes", service, MAX_BODY_BYTES)
            return response.json({"error": f"the body is larger than {MAX_BODY_BYTES} bytes"}, status=413)
        verify, parse = SERVICES[service]
        body = request.body or b""
        if not verify(body, request.headers, secret):
            logger.warning("%s push refused: missing or wrong signature", service)
            return response.json({"error": "missing or wrong signature"}, status=401)
        try:
            push = parse(body)
        except BadPush as bad:
            logger.warning("%s", bad)
            return response.json({"error": str(bad)}, status=400)
        try:
            status = await handle(push)
        except Exception as exc:  # 503: the service retries. Only the type is logged: a message may quote the body
            logger.error("%s push %s not handled: %s", service, push.delivery_id, type(exc).__name__)
            return response.json({"error": "the push could not be handled now; send it again later"}, status=503)
        logger.info("%s push %s: %s", service, push.delivery_id, status)
        return response.json({"status": status})

    @routes.post("/webhooks/aftership")
    async def aftership_push(request: Request):
        return await receive(request, AFTERSHIP)

    @routes.post("/webhooks/17track")
    async def seventeen_track_push(request: Request):
        return await receive(request, SEVENTEEN_TRACK)

    return routes
