"""The storefront demo: a small shop page with Porter's chat bubble, as a real shop would embed it.

Before the widget starts, the page asks this server for its chat session (``POST /widget/session``): the
handle the browser already keeps, if it is still valid, or a new one (bot/channels/widget_sessions.py). What
the widget then sends with every message (customData, the message metadata):
- `locale`: the shopper's language, from the browser (navigator.language) unless the page says otherwise
  (here `?lang=fr`); Porter starts the conversation in it (actions/session.py).
- `identity`: only when the shop knows the shopper, signed on the server for that very conversation and for a
  few hours (bot/channels/identity.py), so the action server can trust it and a copy is worth nothing
  elsewhere. A browser cannot forge it: it never sees the secret. Here `?customer=<email>` plays a signed-in
  customer, and only in demo mode (PORTER_DEMO=1, which `make run` sets): a real shop signs in its customers
  itself and signs their identity the same way on its own server.
"""

from __future__ import annotations

import logging
import re
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlencode

from sanic import Blueprint, response
from sanic.request import Request

from bot import photos, run_mode
from bot.channels import widget_sessions
from bot.channels.identity import PAGE_TTL, signed
from bot.channels.rate_limit import RateLimits
from bot.client_address import of_request
from bot.handoff.tickets import CLAIMED
from bot.identifiers import EMAIL_RE, normalize_email
from bot.catalogs import section
from bot.languages import native_name, supported_languages
from bot.web import desk
from bot.web.pages import WIDGET_URL, render
from bot.web.widget_history import widget_messages

blueprint = Blueprint("storefront")
logger = logging.getLogger(__name__)

LOCALE_RE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}")
DEMO_CUSTOMERS = ("james.miller@example.com", "claire.dubois@example.fr", "li.wei@example.com")

PRODUCTS = (
    ("Linen throw, sage", "Stonewashed Lithuanian linen, 130 × 180 cm", "$64.00", "sage"),
    ("Stoneware mug set", "Four hand-glazed mugs in harbour blue", "$36.50", "harbour"),
    ("Beeswax candle trio", "Slow-burning, unscented, 40 hours each", "$22.00", "honey"),
    ("Walnut serving board", "Oiled American walnut, 45 cm", "$48.00", "walnut"),
    ("Wool cushion cover", "Herringbone weave, 50 × 50 cm", "$29.00", "oat"),
    ("Brass table lamp", "Dimmable, with a linen shade", "$118.00", "brass"),
)


def requested_locale(value: Optional[str]) -> Optional[str]:
    """A BCP 47-looking tag from the query (?lang=fr, ?lang=pt-BR); anything else is ignored."""
    value = (value or "").strip()
    return value.replace("_", "-") if LOCALE_RE.fullmatch(value) else None


def signed_in_customer(value: Optional[str]) -> Optional[str]:
    """The demo's signed-in customer: an email given in the query, honoured only in demo mode."""
    value = (value or "").strip() if isinstance(value, str) else ""
    if not run_mode.demo() or len(value) > 254:
        return None
    return normalize_email(value) if EMAIL_RE.fullmatch(value) else None


_limits: Optional[RateLimits] = None


def _new_sessions() -> RateLimits:
    global _limits
    if _limits is None:
        _limits = RateLimits.from_env()
    return _limits


NOT_OURS = "not a chat session of this shop"


def _session_conversation(request: Request, handle: object) -> Optional[str]:
    """The conversation of a chat-session handle Porter issued; None for any other value (or no secret set)."""
    config = request.app.ctx.porter
    return widget_sessions.conversation_of(handle, config.identity_secret) if config.identity_secret else None


def _json_session(request: Request) -> Optional[str]:
    """The conversation of the handle in a JSON body ``{"session": handle}``, as the widget's reads send it."""
    body = request.json if (request.headers.get("content-type") or "").startswith("application/json") else None
    return _session_conversation(request, body.get("session") if isinstance(body, dict) else None)


@blueprint.post("/widget/history")
async def widget_history(request: Request):
    """The conversation of a chat session Porter issued, as the widget shows it (bot/web/widget_history.py):
    the page puts it in place before the widget starts, so nothing Porter or an agent sent is ever missing."""
    conversation = _json_session(request)
    if conversation is None:
        return response.json({"error": NOT_OURS}, status=404)
    try:
        events = await desk.conversations(request.app).events(conversation)
    except desk.RasaUnavailable as exc:
        logger.warning("widget history not read: %s", exc)
        return response.json({"error": "the conversation cannot be read right now"}, status=503)
    return response.json({"messages": widget_messages(events)}, headers={"Cache-Control": "no-store"})


@blueprint.post("/widget/status")
async def widget_status(request: Request):
    """Who answers the shopper now, for the widget's header: Porter, a person they are waiting for (with their
    place in the queue, which moves as agents take tickets) or the agent who has the conversation."""
    conversation = _json_session(request)
    if conversation is None:
        return response.json({"error": NOT_OURS}, status=404)
    store = desk.ticket_store()
    ticket = store.open_for(conversation)
    if ticket is None:
        status = {"talking": "porter", "agent": None, "position": None}
    elif ticket.status == CLAIMED:
        status = {"talking": "agent", "agent": ticket.agent, "position": None}
    else:
        status = {"talking": "waiting", "agent": None, "position": store.position(ticket.id)}
    return response.json(status, headers={"Cache-Control": "no-store"})


@blueprint.post("/widget/photo")
async def widget_photo(request: Request):
    """A photo the shopper attaches in the widget (multipart: ``session``, the handle; ``photo``, the file).
    Checked and kept (bot/photos.py); the answer's token is what the widget's next message carries."""
    if not (request.content_type or "").startswith("multipart/form-data"):
        return response.json({"error": "send the photo as multipart/form-data"}, status=415)
    conversation = _session_conversation(request, request.form.get("session") if request.form else None)
    if conversation is None:
        return response.json({"error": NOT_OURS}, status=404)
    upload = request.files.get("photo") if request.files else None
    if upload is None:
        return response.json({"error": "no photo in the request (field `photo`)"}, status=400)
    try:
        photo = photos.PhotoStore().keep(conversation, upload.body)
    except photos.PhotoRefused as refused:
        return response.json({"error": str(refused)}, status=refused.status)
    logger.info("widget: a photo of %d bytes kept (%s)", photo.size, photo.content_type)
    return response.json({"token": photo.token}, headers={"Cache-Control": "no-store"})


@blueprint.post("/widget/session")
async def widget_session(request: Request):
    """The widget's chat session: the one the browser shows if Porter issued it and it is still valid, else a
    new one; with the demo's signed-in customer, their identity signed for that conversation."""
    config = request.app.ctx.porter
    if not config.identity_secret:
        return response.json({"error": "PORTER_IDENTITY_SECRET is not set on the web server"}, status=503)
    if (request.headers.get("content-type") or "").split(";")[0].strip() != "application/json":
        return response.json({"error": 'send JSON: {"session": <handle or null>}'}, status=415)
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - sanic's own error for a body that is not JSON
        body = None
    if not isinstance(body, dict):
        return response.json({"error": 'send JSON: {"session": <handle or null>}'}, status=400)
    handle = body.get("session")
    conversation = widget_sessions.conversation_of(handle, config.identity_secret)
    if conversation is None:
        refused = _new_sessions().new_conversation(of_request(request))
        if refused:
            return response.json(
                {"error": "too many new chats from this address; try again later"},
                status=429,
                headers={"Retry-After": str(max(1, round(refused.retry_after)))},
            )
        handle = widget_sessions.issue(config.identity_secret)
        conversation = widget_sessions.conversation_of(handle, config.identity_secret)
    customer = signed_in_customer(body.get("customer"))
    identity = (
        signed("email", customer, conversation, ttl=PAGE_TTL, secret=config.identity_secret) if customer else None
    )
    return response.json({"session": handle, "identity": identity}, headers={"Cache-Control": "no-store"})


def _language_choices():
    return [(code, native_name(code)) for code in supported_languages()]


@blueprint.get("/")
async def storefront(request: Request):
    config = request.app.ctx.porter
    locale = requested_locale(request.args.get("lang"))
    customer = signed_in_customer(request.args.get("customer"))
    widget = {
        "socketUrl": config.socket_url,
        "historyUrl": "/widget/history",  # the conversation so far, read back from Rasa
        "statusUrl": "/widget/status",  # who answers now: Porter, a person being waited for, or the agent
        "photoUrl": "/widget/photo",  # where the attachment button sends a photo
        "photoMaxBytes": photos.max_bytes(),
        "sessionUrl": "/widget/session",  # where the page gets its chat session (and signed identity)
        "locale": locale,  # null: the browser's language (navigator.language)
        "customer": customer,  # null: an anonymous shopper, who verifies with the order's email
        "storage": "local",  # the conversation survives reloads and new tabs
        # The widget's own labels in every language Porter speaks (languages/<code>.yml, `widget`).
        "labels": {code: section("widget", code) for code in supported_languages()},
    }
    query = {"lang": locale, "customer": customer}
    html = render(
        request,
        "storefront.html",
        widget=widget,
        widget_url=WIDGET_URL,
        customer=customer,
        demo=run_mode.demo(),
        products=PRODUCTS,
        keep_query=_query(query),
        sign_out_href="/" + _query(query, customer=None),
        customer_links=[(email, "/" + _query(query, customer=email)) for email in DEMO_CUSTOMERS],
        language_links=[(name, "/" + _query(query, lang=code)) for code, name in _language_choices()],
    )
    # The page carries a per-customer signature: never cache it, never let another site frame it.
    return response.html(
        html,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": _content_security_policy(config.socket_url),
        },
    )


def _query(current: Dict[str, Optional[str]], **changes: Optional[str]) -> str:
    merged = {**current, **changes}
    pairs: List[Tuple[str, str]] = [(key, value) for key, value in merged.items() if value]
    return "?" + urlencode(pairs) if pairs else ""


def _content_security_policy(socket_url: str) -> str:
    websocket = re.sub(r"^http", "ws", socket_url)
    # The widget injects its own stylesheet and data: fonts and images; its request for a web font from a
    # CDN is refused on purpose: the shopper's browser talks to the shop and to Porter, nobody else.
    return (
        "default-src 'self'; script-src 'self'; img-src 'self' data:; font-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; "
        f"connect-src 'self' {socket_url} {websocket}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
