"""What every page of the web server shares: where templates, static files and the widget bundle are, and how a
template is rendered. The pages (storefront, desk) and the app that mounts them import it, never each other."""

from __future__ import annotations

from pathlib import Path

from sanic.request import Request

WEB_ROOT = Path(__file__).resolve().parent
TEMPLATES = WEB_ROOT / "templates"
STATIC = WEB_ROOT / "static"
WIDGET_BUNDLE = WEB_ROOT / "node_modules" / "rasa-webchat" / "lib" / "index.js"
WIDGET_URL = "/widget/webchat.js"


def render(request: Request, template: str, **context) -> str:
    """``template`` rendered with the app's Jinja environment (autoescaped; set up by bot.web.app.create_app)."""
    return request.app.ctx.templates.get_template(template).render(**context)
