"""When the shop's order system or the tracking service is down, the shopper hears it plainly and gets a
person, never a stack trace or silence. Every action that reads or writes the shop goes through this."""

from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import hand_over
from bot.handoff import reasons
from bot.http_client import BackendUnavailable

logger = logging.getLogger(__name__)

Run = Callable[[Any, CollectingDispatcher, Tracker, Dict[Text, Any]], Awaitable[List[Dict[Text, Any]]]]


def guard_backend(run: Run) -> Run:
    """Wraps an action's `run`: on BackendUnavailable, apologise, record a handoff and end any form."""

    @functools.wraps(run)
    async def guarded(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        try:
            return await run(self, dispatcher, tracker, domain)
        except BackendUnavailable as exc:
            logger.warning("%s: %s; handing over to a person", self.name(), exc)
            # The conversation is paused by the handoff, so nothing runs after the form until a person
            # hands it back.
            return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("next_step", "handoff")] + hand_over(
                tracker, dispatcher, reasons.BACKEND_DOWN, response="utter_backend_down"
            )

    return guarded
