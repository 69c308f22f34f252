"""The web server's application: shared settings, templates, static files and the widget bundle, with each
page of the site (the storefront, the agent desk) mounted as its own blueprint.

The chat widget is the npm package rasa-webchat, installed by `make install-web` (`npm ci` in this folder)
and served from here: a shop page never loads it from a CDN at run time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Optional

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic, response
from sanic.request import Request

from bot import logs
from bot import photos
from bot.channels.identity import identity_secret
from bot.web import desk, desk_analytics, outreach_routes, storefront
from bot.web.pages import STATIC, TEMPLATES, WIDGET_BUNDLE, WIDGET_URL, widget_bundle

DEFAULT_PORT = 8080

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebConfig:
    socket_url: str  # where the widget's browser connects: Rasa's socket.io channel
    identity_secret: Optional[str]  # signs the identity of a signed-in customer (bot.channels.identity)

    @classmethod
    def from_env(cls, socket_url: Optional[str] = None) -> "WebConfig":
        """PORTER_SOCKET_URL (a public URL behind a proxy), else the local Rasa server on RASA_PORT."""
        url = (
            socket_url
            or os.environ.get("PORTER_SOCKET_URL")
            or f"http://localhost:{os.environ.get('RASA_PORT', '5005')}"
        )
        return cls(socket_url=url.rstrip("/"), identity_secret=identity_secret())


def create_app(config: WebConfig, name: str = "porter_web") -> Sanic:
    app = Sanic(name, configure_logging=False)  # Sanic's lines go through Porter's logging (bot.logs)
    app.config.FALLBACK_ERROR_FORMAT = "text"
    # The largest request this server takes is a shopper's photo (bot/photos.py); Sanic answers 413 to a larger
    # body before reading it all.
    app.config.REQUEST_MAX_SIZE = photos.max_bytes() + 64 * 1024
    app.ctx.porter = config
    app.ctx.templates = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app.static("/static", str(STATIC), name="static")

    @app.get(WIDGET_URL)
    async def serve_widget(_: Request):
        if not WIDGET_BUNDLE.exists():
            return response.text("The chat widget is not installed: run `make install-web`.\n", status=503)
        return response.raw(
            widget_bundle(),
            content_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @app.get("/healthz")
    async def health(_: Request):
        return response.json({"status": "ok", "widget_installed": WIDGET_BUNDLE.exists()})

    @app.on_response
    async def security_headers(_: Request, resp) -> None:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")

    app.blueprint(storefront.blueprint)
    app.blueprint(desk.blueprint)
    outreach_routes.mount(app)
    desk_analytics.keep_index_fresh(app)
    return app


def run(port: int, host: str = "127.0.0.1", socket_url: Optional[str] = None) -> int:
    logs.install()
    config = WebConfig.from_env(socket_url)
    if not WIDGET_BUNDLE.exists():
        print(f"warning: {WIDGET_BUNDLE} is missing; run `make install-web`", flush=True)
    if not config.identity_secret:
        print(
            "note: PORTER_IDENTITY_SECRET is not set, so signed-in customers are not vouched for "
            "(`python -m bot serve` sets one)",
            flush=True,
        )
    print(
        f"storefront at http://localhost:{port}/ (widget connects to {config.socket_url}), "
        f"agent desk at http://localhost:{port}/desk",
        flush=True,
    )
    create_app(config).run(host=host, port=port, access_log=False, motd=False)
    return 0
