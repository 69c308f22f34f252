"""The emails Porter writes first, in the shopper's language: what happened to the parcel, with the scans.

The words are the catalog's (``email`` section and the same situation replies the chat says), so an email and a
chat message never tell two stories. A letter names the order and the carrier's scans, never the address, the
phone number or the card of personal data; the link goes to the shop's chat, where the shopper verifies as
always before anything is shown or done.
"""

from __future__ import annotations

from typing import Optional

from bot import catalogs, replies
from bot.decisions import remedies
from bot.decisions.policy import Policy
from bot.decisions.situations import Situation
from bot.outreach.links import stop_url
from bot.outreach.mailer import Letter
from bot.outreach.settings import OutreachSettings
from bot.outreach.stops import email_contact
from bot.shop.models import Order


def _words(key: str, language: str, **values: str) -> str:
    return str(catalogs.entry("email", key, language) or "").format(**values)


def _first_name(order: Order) -> str:
    return (order.customer_name or "").split(" ")[0].strip()


def _situation_text(order: Order, situation: Situation, policy: Policy, language: str) -> str:
    # The chat's own telling of the situation (actions/resolve_order.py), imported here and not at the top:
    # it reads the policy and the store the way the action server does.
    from actions.resolve_order import situation_reply

    remedy = remedies.decide("where_is_my_order", order, situation, policy)
    response, values = situation_reply("where_is_my_order", order, situation, remedy, language)
    return replies.say(response, language, **values)


def situation_letter(
    order: Order, situation: Situation, policy: Policy, language: str, settings: OutreachSettings
) -> Letter:
    """The alert by email: hello, what the tracking says, and a link to the chat to choose what to do."""
    name = _first_name(order)
    paragraphs = [_words("hello", language, name=name)] if name else []
    paragraphs += _situation_text(order, situation, policy, language).split("\n\n")
    paragraphs.append(_words("choose", language))
    return Letter(
        to=order.email,
        subject=_words("alert_subject", language, order_number=order.order_number),
        language=language,
        paragraphs=paragraphs,
        action=(_words("open_chat", language), f"{settings.public_url}/"),
        unsubscribe=(_words("unsubscribe", language), unsubscribe_url(order.email, settings)),
        footer=_words("why", language, shop=settings.shop_name),
    )


def unsubscribe_url(address: str, settings: OutreachSettings) -> str:
    contact: Optional[str] = email_contact(address)
    if contact is None:
        raise ValueError("an order without an email address gets no letter")
    return stop_url(settings.public_url, contact, settings.link_secret)


def reply_letter(order: Order, agent: str, text: str, language: str, settings: OutreachSettings) -> Letter:
    """An agent's chat reply by email, for a shopper who closed the chat window: the words, and the way back."""
    name = _first_name(order)
    paragraphs = [_words("hello", language, name=name)] if name else []
    paragraphs += [_words("reply_intro", language, agent=agent), *[p for p in text.split("\n\n") if p.strip()]]
    return Letter(
        to=order.email,
        subject=_words("reply_subject", language, agent=agent),
        language=language,
        paragraphs=paragraphs,
        action=(_words("open_chat", language), f"{settings.public_url}/"),
        unsubscribe=(_words("unsubscribe", language), unsubscribe_url(order.email, settings)),
        footer=_words("why", language, shop=settings.shop_name),
    )
