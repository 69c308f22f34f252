"""Rasa component: detects each message's language and exposes a confident result as the entity ``language``.

The entity appears only when the detection is good enough to switch the conversation's language:
a script that settles it (Han, Cyrillic, ...) or a statistical detection that leads the runner-up
language by ``min_margin``, on at least ``min_words`` words. "ok", an order number or an email never produce it, so they never switch
the reply language. The detected language is also stored on the message for the tokenizer.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.language_id import LanguageIdentifier

DETECTED_LANGUAGE = "detected_language"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class LanguageDetector(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"supported_languages": ["en", "zh"], "detector": "lingua", "min_margin": 0.2, "min_words": 2}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = config
        self.identifier = LanguageIdentifier(config["supported_languages"], config["detector"])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LanguageDetector":
        return cls(config)

    def _is_confident(self, detection) -> bool:
        if detection.language is None:
            return False
        return detection.words >= self.config["min_words"] and detection.margin >= self.config["min_margin"]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            if example.get(TEXT):
                example.set(DETECTED_LANGUAGE, self.identifier.detect(example.get(TEXT)).language)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            detection = self.identifier.detect(text)
            message.set(DETECTED_LANGUAGE, detection.language)
            if self._is_confident(detection):
                entity = {"entity": "language", "value": detection.language, "start": 0, "end": len(text),
                          "confidence_entity": round(detection.confidence, 3), "extractor": self.__class__.__name__}
                message.set(ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True)
        return messages
