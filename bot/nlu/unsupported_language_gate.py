"""Rasa component: a message confidently written in a language Porter does not speak becomes nlu_fallback.

Intent models trained on the languages Porter speaks still give a confident guess for Dutch or Japanese text; acting
on it would answer a question nobody asked. Marking the message as not understood lets the fallback action
reply in English with the languages Porter speaks. Runs after the FallbackClassifier.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.language_detector import LANGUAGE_SUPPORTED

FALLBACK_INTENT = "nlu_fallback"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class UnsupportedLanguageGate(GraphComponent):
    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "UnsupportedLanguageGate":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if message.get(LANGUAGE_SUPPORTED) is False:
                message.data[INTENT] = {"name": FALLBACK_INTENT, "confidence": 1.0}
                ranking = message.data.get(INTENT_RANKING_KEY) or []
                message.data[INTENT_RANKING_KEY] = [{"name": FALLBACK_INTENT, "confidence": 1.0}] + ranking
        return messages
