"""The details form: the one answer a decision still needs (a photo, why cancel, is the item unused).

action_resolve_order names the slot in `detail_needed`; the form asks only that, then the order is decided
again with the answer. A shopper who cannot send a photo says so and goes on: the photo helps the team,
it is never a condition for help.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.form_validation import DomainFileFormValidation
from bot import photos
from bot.decisions import remedies
from bot.photos import PhotoStore

NO_PHOTO = "none"


def latest_attachment(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The first image attached to the shopper's latest message that is really theirs: a photo the widget
    uploaded for this very conversation (bot/photos.py), or one WhatsApp or Telegram delivered on the channel
    this conversation uses. Metadata is the sender's to write, so a claim of either is checked, never trusted."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            for attachment in (event.get("metadata") or {}).get("attachments") or []:
                if isinstance(attachment, dict) and attachment.get("type") == "image" and attachment.get("id"):
                    return attachment if _belongs(attachment, tracker) else None
            return None
    return None


def _belongs(attachment: Dict[str, Any], tracker: Tracker) -> bool:
    channel = attachment.get("channel")
    if channel == photos.WIDGET:
        return PhotoStore().of(str(attachment["id"]), tracker.sender_id) is not None
    return bool(channel) and channel == tracker.get_latest_input_channel()


class ValidateDetailsForm(DomainFileFormValidation):
    def name(self) -> Text:
        return "validate_details_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        needed = tracker.get_slot("detail_needed")
        return [needed] if needed in domain_slots else []

    async def extract_photo(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != remedies.PHOTO:
            return {}
        attachment = latest_attachment(tracker)
        text = (tracker.latest_message.get("text") or "").strip()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if not attachment and intent in ("human_handoff", "cancel_order"):
            return {}  # not an answer: the rules hand over or leave the form
        if attachment:
            caption = text if text and text != "[image]" else None
            return {"photo": f"{attachment.get('channel', 'chat')}:{attachment['id']}", "photo_caption": caption}
        # Anything else ("I can't", "no camera", a description) means: go on without a photo.
        return {"photo": NO_PHOTO, "photo_caption": text or None}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        # rasa_sdk keeps only the required slot (photo) of what extract_photo returned; keep its caption too.
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if any(event.get("name") == "photo" for event in events):
            events.append(SlotSet("photo_caption", tracker.get_slot("photo_caption")))
        return events
