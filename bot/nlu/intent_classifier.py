"""Rasa intent classifier: a logistic regression over what a message means and how it is written.

Three views of each message, side by side: its multilingual sentence vector (bot/nlu/sentence_encoder.py:
close for paraphrases and translations, so "I'd like a reimbursement" lands near "refund me" without the word),
TF-IDF character n-grams of its text (for the chat words, slang and typos the encoder has never seen) and
TF-IDF words and word pairs ("refund status", "get a refund").
Identifiers are replaced by their kind first in both, so no order number decides an intent. Measured against
DIET on these features and on Rasa's default features (README "Measured: make eval"), it generalised best to
text nobody on the team wrote, and it trains in a minute or two instead of tens.

The probabilities it gives are calibrated enough for the FallbackClassifier's threshold that follows it.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.nlu.sentence_encoder import vectors, with_placeholders

logger = logging.getLogger(__name__)

MODEL_FILE = "intent_classifier.joblib"


def _written(text: str) -> str:
    return with_placeholders(text).lower()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SentenceIntentClassifier(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 16.0,
            "min_ngram": 1,
            "max_ngram": 4,
            "max_word_ngram": 2,
            "min_df": 2,
            "max_iter": 3000,
            "ranking_length": 10,
            "dense_weight": 1.0,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage, self._resource = model_storage, resource
        self.tfidf: Optional[TfidfVectorizer] = model["tfidf"] if model else None
        self.words: Optional[TfidfVectorizer] = model["words"] if model else None
        self.classifier: Optional[LogisticRegression] = model["classifier"] if model else None
        if self.classifier is not None:
            # scikit-learn multiplies each message by ``coef_.T``, which scipy copies into a C-ordered array
            # first (intents x n-grams, 10 MB) on every call: stored column-major, the transpose is used as it is.
            # The same numbers in the same order, so the same probabilities to the last bit; 1 ms less a message.
            self.classifier.coef_ = np.asfortranarray(self.classifier.coef_)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceIntentClassifier":
        return cls(config, model_storage, resource)

    def _features(self, texts: List[str]) -> csr_matrix:
        written = [_written(t) for t in texts]
        dense = csr_matrix(vectors(texts) * float(self.config["dense_weight"]))
        return hstack([self.tfidf.transform(written), self.words.transform(written), dense]).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        texts, intents = [e.get(TEXT) for e in examples], [e.get(INTENT) for e in examples]
        self.tfidf = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(self.config["min_ngram"], self.config["max_ngram"]),
            min_df=self.config["min_df"],
            sublinear_tf=True,
        )
        # A run of Han text (no spaces) is one "word" here; the character n-grams see inside it
        self.words = TfidfVectorizer(
            analyzer="word",
            ngram_range=(1, self.config["max_word_ngram"]),
            min_df=self.config["min_df"],
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
        )
        written = [_written(t) for t in texts]
        self.tfidf.fit(written)
        self.words.fit(written)
        self.classifier = LogisticRegression(C=self.config["C"], max_iter=self.config["max_iter"])
        self.classifier.fit(self._features(texts), intents)
        # The n-grams min_df dropped (about 90,000 strings): kept by scikit-learn for inspection only, never used
        # to transform, so they are not saved into the model or held in Rasa's memory.
        self.tfidf.stop_words_ = self.words.stop_words_ = None
        with self._storage.write_to(self._resource) as folder:
            joblib.dump({"tfidf": self.tfidf, "words": self.words, "classifier": self.classifier}, folder / MODEL_FILE)
        logger.info(
            "trained on %d examples, %d intents, %d n-grams", len(texts), len(set(intents)), len(self.tfidf.vocabulary_)
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
    ) -> "SentenceIntentClassifier":
        try:
            with model_storage.read_from(resource) as folder:
                model = joblib.load(folder / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("no trained intent classifier in the model; every message will be nlu_fallback")
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: List[Message]) -> List[Message]:
        todo = [m for m in messages if m.get(TEXT)]
        if self.classifier is None or not todo:
            return messages
        probabilities = self.classifier.predict_proba(self._features([m.get(TEXT) for m in todo]))
        labels = self.classifier.classes_
        for message, row in zip(todo, probabilities):
            order = np.argsort(-row)[: int(self.config["ranking_length"])]
            ranking = [{"name": str(labels[i]), "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
