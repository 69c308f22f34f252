"""An agent's reply to a widget shopper who has closed the chat window also goes by email, in their language,
with the way back to the chat: otherwise it would wait unseen until they happen to come back.

Only to the email of the order the conversation verified (never an address typed in the chat), never to a
shopper who asked for no more messages, and only when the shop set an SMTP server (PORTER_SMTP_HOST).
"""

from __future__ import annotations

import asyncio
import logging
from functools import lru_cache
from typing import Optional

from bot.backends import open_store
from bot.channels.conversation_ids import channel_of
from bot.channels.widget_presence import WidgetPresence
from bot.handoff.tickets import Ticket
from bot.identifiers import mask_email
from bot.outreach import letters, mailer
from bot.outreach.settings import OutreachSettings
from bot.outreach.stops import StopList, email_contact

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _store():
    return open_store()


async def email_if_window_closed(ticket: Ticket, agent: str, text: str) -> Optional[str]:
    """Emails the reply when the shopper's chat window is closed; the masked address it went to, or None."""
    if channel_of(ticket.conversation_id) != "socketio" or not ticket.verified_order:
        return None
    try:
        smtp = mailer.SmtpSettings.from_env()
        if smtp is None or await asyncio.to_thread(WidgetPresence().is_open, ticket.conversation_id):
            return None
        order = await asyncio.to_thread(_store().get, ticket.verified_order)
        if order is None or not order.email or StopList().stopped(ticket.conversation_id, email_contact(order.email)):
            return None
        letter = letters.reply_letter(
            order, agent, text, ticket.language or order.language or "en", OutreachSettings.from_env()
        )
        await asyncio.to_thread(mailer.send, letter, smtp)
    except (mailer.MailConfigError, mailer.MailUnavailable, ValueError) as exc:
        logger.error("desk: the reply on ticket %s could not be emailed: %s", ticket.id, exc)
        return None
    logger.info("desk: the chat window of ticket %s was closed; the reply was emailed", ticket.id)
    return mask_email(order.email)
