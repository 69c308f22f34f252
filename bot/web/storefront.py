"""The storefront demo: a small shop page with Porter's chat bubble, as a real shop would embed it.

What the page hands the widget (customData, sent with every message as the message metadata):
- `locale`: the shopper's language, from the browser (navigator.language) unless the page says otherwise
  (here `?lang=fr`); Porter starts the conversation in it (actions/session.py).
- `identity`: only when the shop knows the shopper (here `?customer=<email>` plays a signed-in customer),
  `bot.channels.identity.signed("email", ...)`, computed on the server with PORTER_IDENTITY_SECRET so the
  action server can trust it. A browser cannot forge it: it never sees the secret.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlencode

from sanic import Blueprint, response
from sanic.request import Request

from bot.channels.identity import signed
from bot.identifiers import EMAIL_RE, normalize_email
from bot.web.app import WIDGET_URL, render

blueprint = Blueprint("storefront")

LOCALE_RE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}")
DEMO_CUSTOMERS = ("james.miller@example.com", "claire.dubois@example.fr", "li.wei@example.com")
DEMO_LANGUAGES = (("en", "English"), ("zh", "中文"), ("es", "Español"), ("fr", "Français"), ("de", "Deutsch"),
                  ("ru", "Русский"), ("pt", "Português"))

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
    value = (value or "").strip()
    return normalize_email(value) if EMAIL_RE.fullmatch(value) else None


@blueprint.get("/")
async def storefront(request: Request):
    config = request.app.ctx.porter
    locale = requested_locale(request.args.get("lang"))
    customer = signed_in_customer(request.args.get("customer"))
    identity = signed("email", customer, config.identity_secret) if customer and config.identity_secret else None
    widget = {
        "socketUrl": config.socket_url,
        "locale": locale,        # null: the browser's language (navigator.language)
        "identity": identity,    # null: an anonymous shopper, who verifies with the order's email
        "customer": customer,    # whose conversation the browser keeps; another customer starts afresh
        "storage": "local",      # the conversation survives reloads and new tabs
    }
    query = {"lang": locale, "customer": customer}
    html = render(request, "storefront.html", widget=widget, widget_url=WIDGET_URL, customer=customer,
                  products=PRODUCTS, keep_query=_query(query), sign_out_href="/" + _query(query, customer=None),
                  customer_links=[(email, "/" + _query(query, customer=email)) for email in DEMO_CUSTOMERS],
                  language_links=[(name, "/" + _query(query, lang=code)) for code, name in DEMO_LANGUAGES])
    # The page carries a per-customer signature: never cache it, never let another site frame it.
    return response.html(html, headers={
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": _content_security_policy(config.socket_url),
    })


def _query(current: Dict[str, Optional[str]], **changes: Optional[str]) -> str:
    merged = {**current, **changes}
    pairs: List[Tuple[str, str]] = [(key, value) for key, value in merged.items() if value]
    return "?" + urlencode(pairs) if pairs else ""


def _content_security_policy(socket_url: str) -> str:
    websocket = re.sub(r"^http", "ws", socket_url)
    # The widget injects its own stylesheet and data: fonts and images; its request for a web font from a
    # CDN is refused on purpose: the shopper's browser talks to the shop and to Porter, nobody else.
    return ("default-src 'self'; script-src 'self'; img-src 'self' data:; font-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; "
            f"connect-src 'self' {socket_url} {websocket}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
