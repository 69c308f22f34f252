"""Who the channel says the shopper is, when our own channel code signed it (bot/channels/identity.py).

A WhatsApp number, or a storefront's signed-in customer, verifies an order on its own: the shopper is not
asked for an email the shop already knows they own. The claim counts only when it was signed for this very
conversation and has not expired.
"""

from __future__ import annotations

from typing import Dict

from rasa_sdk import Tracker

from bot.channels import identity


def trusted_identity(tracker: Tracker) -> Dict[str, str]:
    """The signed identity on the shopper's latest message, else on the session start; {} when none."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            found = identity.trusted(event.get("metadata"), tracker.sender_id)
            if found:
                return found
            break
    return identity.trusted(tracker.get_slot("session_started_metadata"), tracker.sender_id)
