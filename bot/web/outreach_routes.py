"""The web server's part in Porter speaking first: the tracking services' pushes and the "stop" link of emails.

A push (AfterShip, 17TRACK; verified in bot/web/tracking_webhooks.py) is taken once: a retry of the same
delivery is answered "duplicate" and changes nothing. Its order is found by tracking number and read again
through the configured backend by the watcher, which alerts the shopper if the situation is new.

The stop link carries a signed token (bot/outreach/links.py): GET shows a one-button page (mail scanners
follow links, so a GET never stops anything); POST stops, including the one-click POST of RFC 8058 that mail
clients send from the List-Unsubscribe header.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sanic import Blueprint, response
from sanic.request import Request

from bot import catalogs
from bot.outreach.links import contact_of
from bot.outreach.settings import OutreachSettings
from bot.outreach.stops import StopList
from bot.outreach.watch_state import PushLog
from bot.tracking.webhooks import Push
from bot.web import tracking_webhooks

logger = logging.getLogger(__name__)

blueprint = Blueprint("outreach")


def _settings(app) -> OutreachSettings:
    if not hasattr(app.ctx, "outreach_settings"):
        app.ctx.outreach_settings = OutreachSettings.from_env()
    return app.ctx.outreach_settings


def _watcher(app):
    """The web server's watcher, built on the first push: the store, policy and SMTP settings as `watch` has them."""
    if not hasattr(app.ctx, "outreach_watcher"):
        from bot.backends import open_store
        from bot.decisions.policy import load_policy
        from bot.outreach.mailer import SmtpSettings
        from bot.outreach.watcher import Watcher
        from bot.web.desk import conversations

        app.ctx.outreach_watcher = Watcher(
            open_store(), load_policy(), _settings(app), conversations(app), smtp=SmtpSettings.from_env()
        )
    return app.ctx.outreach_watcher


def mount(app) -> None:
    """Adds the webhook routes and the stop page to the web server."""

    async def handle(push: Push) -> str:
        pushes = PushLog()
        if not pushes.first_time(push.service, push.delivery_id):
            return "duplicate"
        try:
            watcher = _watcher(app)
            order = watcher.store.find_by_tracking_number(push.tracking_number) if push.tracking_number else None
            if order is None:
                return "unknown shipment"
            line = await watcher.check(order.order_number)
        except Exception:
            pushes.forget(push.service, push.delivery_id)  # answered 503: the service's retry is taken
            raise
        return "alerted" if line and " sent " in line else "checked"

    app.blueprint(tracking_webhooks.blueprint(handle))
    app.blueprint(blueprint)


def _page(request: Request, token: str, done: bool):
    settings = _settings(request.app)
    language = (request.headers.get("accept-language") or "en")[:2].lower()
    words = catalogs.section("email", language)
    template = request.app.ctx.templates.get_template("alerts_stop.html")
    return response.html(
        template.render(
            language=language if catalogs.entry("email", "stop_title", language) else "en",
            title=words["stop_title"],
            question=words["stop_question"].format(shop=settings.shop_name),
            button=words["stop_button"],
            done=words["stop_done"] if done else None,
            token=token,
        ),
        headers={"Cache-Control": "no-store"},
    )


@blueprint.get("/alerts/stop")
async def stop_page(request: Request):
    token = request.args.get("t") or ""
    if contact_of(token, _settings(request.app).link_secret) is None:
        return response.text("This link is not valid: it may have been cut short. Copy the whole link.\n", status=400)
    return _page(request, token, done=False)


@blueprint.post("/alerts/stop")
async def stop(request: Request):
    token = request.args.get("t") or ""
    contact = contact_of(token, _settings(request.app).link_secret)
    if contact is None:
        return response.text("This link is not valid: it may have been cut short. Copy the whole link.\n", status=400)
    StopList().stop([contact], "email", datetime.now(timezone.utc))
    logger.info("alerts stopped from an email link")
    return _page(request, token, done=True)
