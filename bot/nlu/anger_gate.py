"""Rasa component: a message with strong anger in its wording becomes a request for a person.

The wording is matched against the lexicon of the message's language (bot/handoff/anger.py). A match sets
the intent to ``human_handoff``, whose rules hand over from anywhere, inside every form too; the entity
``anger`` carries the words that matched, so the handoff action tells the shopper (and the agent) why, and
the original intents stay in the ranking below it. Order numbers, emails and other identifiers are not read.
Runs last, after the FallbackClassifier and the UnsupportedLanguageGate, like them changing only the intent.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.handoff.anger import find_anger
from bot.nlu.language_detector import DETECTED_LANGUAGE

HANDOFF_INTENT = "human_handoff"
ANGER_ENTITY = "anger"
IDENTIFIERS = ("order_number", "email", "phone", "tracking_number")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class AngerGate(GraphComponent):
    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "AngerGate":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            entities = message.get(ENTITIES) or []
            ignore = [
                (e["start"], e["end"])
                for e in entities
                if e.get("entity") in IDENTIFIERS and "start" in e and "end" in e
            ]
            anger = find_anger(text, message.get(DETECTED_LANGUAGE), ignore)
            if anger is None:
                continue
            entity = {
                "entity": ANGER_ENTITY,
                "value": anger.text,
                "start": anger.start,
                "end": anger.end,
                "confidence_entity": 1.0,
                "extractor": self.__class__.__name__,
            }
            message.set(ENTITIES, entities + [entity], add_to_output=True)
            ranking = [r for r in message.data.get(INTENT_RANKING_KEY) or [] if r.get("name") != HANDOFF_INTENT]
            message.data[INTENT] = {"name": HANDOFF_INTENT, "confidence": 1.0}
            message.data[INTENT_RANKING_KEY] = [{"name": HANDOFF_INTENT, "confidence": 1.0}] + ranking
        return messages
