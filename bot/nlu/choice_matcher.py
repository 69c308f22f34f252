"""Rasa component: which of Porter's fixes a message sounds like, for the choice between offered fixes.

A shopper who is offered "Full refund" and "Send a new one free" may answer "a new one please", "can you just
resend it", "reenvíenlo" or "补发吧". The buttons' own titles, in every language of the domain, are the
anchors: at training time they are encoded with the multilingual sentence encoder (bot/nlu/sentence_encoder.py);
for each message the cosine similarity to every fix's closest title is put on the message as
``fix_candidates`` ([{"fix": "reship", "score": 0.71}, ...], best first). The action that reads the choice
(actions/resolution.py) decides whether the best offered one is close enough; this component only measures.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.domain_files import domain_dict
from bot.nlu.sentence_encoder import vectors

OUTPUT = "fix_candidates"
_FIX_PAYLOAD = re.compile(r'^/inform\{+"fix":"([a-z_]+)"\}+$')  # the domain doubles braces (templates)


def button_titles(domain_path: Path) -> List[Tuple[str, str]]:
    """(fix, title) for every button of the domain (a file, or a folder Rasa merges) whose payload chooses a
    fix, in every language."""
    pairs = set()
    for variations in (domain_dict(domain_path).get("responses") or {}).values():
        for variation in variations:
            for button in variation.get("buttons") or []:
                match = _FIX_PAYLOAD.match(str(button.get("payload", "")).replace(" ", ""))
                if match and button.get("title"):
                    pairs.add((match.group(1), str(button["title"])))
    return sorted(pairs)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class ChoiceMatcher(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"domain": "domain"}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        fixes: Optional[List[str]] = None,
        anchors: Optional[np.ndarray] = None,
    ) -> None:
        self.config, self._storage, self._resource = config, model_storage, resource
        self.fixes, self.anchors = fixes or [], anchors

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ChoiceMatcher":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        pairs = button_titles(Path(self.config["domain"]))
        if not pairs:
            raise ValueError(f"ChoiceMatcher: no fix buttons found in {self.config['domain']}")
        self.fixes = [fix for fix, _ in pairs]
        self.anchors = vectors([title for _, title in pairs])
        with self._storage.write_to(self._resource) as folder:
            np.save(folder / "anchors.npy", self.anchors)
            (folder / "fixes.json").write_text(json.dumps(self.fixes))
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "ChoiceMatcher":
        with model_storage.read_from(resource) as folder:
            return cls(
                config,
                model_storage,
                resource,
                json.loads((folder / "fixes.json").read_text()),
                np.load(folder / "anchors.npy"),
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        if self.anchors is None or not len(self.fixes):
            return messages
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            scores = self.anchors @ vectors([text])[0]
            best: Dict[str, float] = {}
            for fix, score in zip(self.fixes, scores):
                best[fix] = max(best.get(fix, -1.0), float(score))
            ranked = sorted(
                ({"fix": fix, "score": round(score, 3)} for fix, score in best.items()), key=lambda item: -item["score"]
            )
            message.set(OUTPUT, ranked, add_to_output=True)
        return messages
