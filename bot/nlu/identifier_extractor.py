"""Rasa entity extractor for order numbers, emails, phones and tracking numbers.

These have shapes, not meanings, so patterns find them more reliably than a trained model, in any
language and inside Chinese sentences. The order-number pattern is the shop's setting
(``order_number_pattern``); the action server reads the same setting from config.yml.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.identifiers import DEFAULT_ORDER_NUMBER_PATTERN, find_identifiers


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class IdentifierExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"order_number_pattern": DEFAULT_ORDER_NUMBER_PATTERN}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.pattern = config["order_number_pattern"]
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise InvalidConfigException(
                f"IdentifierExtractor: order_number_pattern is not a valid regex: {exc}"
            ) from exc

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "IdentifierExtractor":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            entities = [
                {"entity": f.entity, "value": f.value, "start": f.start, "end": f.end, "confidence_entity": 1.0}
                for f in find_identifiers(text, self.pattern)
            ]
            message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name(entities), add_to_output=True)
        return messages
