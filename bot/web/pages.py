"""What every page of the web server shares: where templates, static files and the widget bundle are, and how a
template is rendered. The pages (storefront, desk) and the app that mounts them import it, never each other."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sanic.request import Request

WEB_ROOT = Path(__file__).resolve().parent
TEMPLATES = WEB_ROOT / "templates"
STATIC = WEB_ROOT / "static"
WIDGET_BUNDLE = WEB_ROOT / "node_modules" / "rasa-webchat" / "lib" / "index.js"
WIDGET_URL = "/widget/webchat.js"
# rasa-webchat's stylesheets each import the Inter font from Google's CDN. The shop's page talks to the shop and to
# Porter only (its Content-Security-Policy refuses anything else), so every import failed with a console error;
# the bundle is served without them and the widget uses the page's own fonts.
CDN_FONT_IMPORT = "@import url(https://fonts.googleapis.com/css?family=Inter:400,500,700&display=swap);"


@lru_cache(maxsize=2)
def _widget_bundle(modified: float) -> bytes:
    return WIDGET_BUNDLE.read_text(encoding="utf-8").replace(CDN_FONT_IMPORT, "").encode("utf-8")


def widget_bundle() -> bytes:
    """The widget's JavaScript as the page loads it: the installed bundle without its CDN font imports (read
    again when `make install-web` replaces it)."""
    return _widget_bundle(WIDGET_BUNDLE.stat().st_mtime)


def render(request: Request, template: str, **context) -> str:
    """``template`` rendered with the app's Jinja environment (autoescaped; set up by bot.web.app.create_app)."""
    return request.app.ctx.templates.get_template(template).render(**context)
