"""Rasa component: detects each message's language and exposes a confident result as the entity ``language``.

The entity appears only when the detection is good enough to switch the conversation's language:
a script that settles it (Han, Cyrillic, ...), a statistical detection that leads the runner-up
language by ``min_margin`` on at least ``min_words`` words, or a single word that leads by ``one_word_margin``
("hola", "bonjour") and that the shoppers of another language do not type nearly as often
(``one_word_max_shared``: "si" is Spanish and Italian). "ok", an order number or an email never produce it,
so they never switch the reply language. The entity's role says how the language is known (``script``,
``requested``, or none for a statistical detection). The detected language is also stored on the message for
the tokenizer.

Training counts the words shoppers type in each language from ``lexicon_data`` (data/nlu/<language>.yml)
and keeps them in the model, which settles most one- and two-word messages ("merci", "valeu", "hallo").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.language_id import Detection, LanguageIdentifier, build_lexicon
from bot.nlu.language_request import requested_language

DETECTED_LANGUAGE = "detected_language"
LANGUAGE_SUPPORTED = "detected_language_supported"  # False only for a confident unsupported language
# Entity roles that say how the language is known; the domain lets them switch the conversation's language
# in more situations than a statistical guess.
ROLE_SCRIPT = "script"  # the writing system settles it (Han, Cyrillic, kana...)
ROLE_REQUESTED = "requested"  # the shopper asked for it


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class LanguageDetector(GraphComponent):
    LEXICON_FILE = "lexicon.json"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "supported_languages": ["en", "zh"],
            "detector": "lingua",
            "min_margin": 0.2,
            "min_words": 2,
            "one_word_margin": 0.7,
            "one_word_max_shared": 0.1,
            "lexicon_data": "data/nlu",
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: Optional[ModelStorage] = None,
        resource: Optional[Resource] = None,
        lexicon: Optional[Dict[str, Dict[str, int]]] = None,
    ) -> None:
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self.identifier = LanguageIdentifier(config["supported_languages"], config["detector"], lexicon=lexicon)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageDetector":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        lexicon = build_lexicon(Path(self.config["lexicon_data"]), self.config["supported_languages"])
        with self._model_storage.write_to(self._resource) as folder:
            (Path(folder) / self.LEXICON_FILE).write_text(json.dumps(lexicon, ensure_ascii=False), encoding="utf-8")
        self.identifier = LanguageIdentifier(
            self.config["supported_languages"], self.config["detector"], lexicon=lexicon
        )
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "LanguageDetector":
        try:
            with model_storage.read_from(resource) as folder:
                lexicon = json.loads((Path(folder) / cls.LEXICON_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            lexicon = None
        return cls(config, model_storage, resource, lexicon)

    def _is_confident(self, detection, text: str) -> bool:
        if detection.language is None:
            return False
        # One word settles it when the script does ("здравствуйте"), or when it leads the other languages by
        # one_word_margin ("hola", "bonjour", "obrigado": a shopper's first word is often their language);
        # otherwise it takes min_words ("ok", "no", "si" never switch: the shoppers of two languages type them,
        # one_word_max_shared).
        if detection.by_script or detection.words >= self.config["min_words"]:
            return detection.margin >= self.config["min_margin"]
        return (
            detection.words == 1
            and detection.margin >= self.config["one_word_margin"]
            and not self.identifier.word_shared(text, self.config["one_word_max_shared"])
        )

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
            role = ROLE_SCRIPT if detection.by_script else None
            requested = requested_language(text, self.identifier.supported)
            if requested:  # "can you speak Spanish?" asks for Spanish, whatever language it is written in
                detection = Detection(requested, 1.0, max(detection.words, self.config["min_words"]), True, 1.0)
                role = ROLE_REQUESTED
            if self._is_confident(detection, text):
                message.set(LANGUAGE_SUPPORTED, detection.supported)
                entity = {
                    "entity": "language",
                    "value": detection.language,
                    "start": 0,
                    "end": len(text),
                    "confidence_entity": round(detection.confidence, 3),
                    "extractor": self.__class__.__name__,
                }
                if role:
                    entity["role"] = role
                message.set(ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True)
        return messages
