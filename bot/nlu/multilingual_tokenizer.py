"""Rasa tokenizer for one model serving many languages.

Chinese has no spaces, so Han runs are segmented with jieba (what spaCy's Chinese pipeline uses);
everything else goes through spaCy's blank rule-based tokenizer for the message's detected language,
which knows each language's punctuation and elisions ("l'adresse" -> "l'", "adresse"). Identifiers
(order numbers, emails, tracking numbers) become one placeholder token naming their kind
(``__order_number__``), at the identifier's place in the text: which order it is says nothing about what the
shopper wants, and the featurizers must not learn that "A10023" means `inform`.
"""

from __future__ import annotations

import logging
import os
import re
from functools import lru_cache
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.identifiers import find_identifiers
from bot.nlu.language_detector import DETECTED_LANGUAGE

_HAN_RUN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]+")
_SPACY_LANGUAGES = ("en", "es", "fr", "de", "ru", "pt", "it", "nl", "pl", "tr")


@lru_cache(maxsize=None)
def _spacy_tokenizer(language: str):
    import spacy

    return spacy.blank(language if language in _SPACY_LANGUAGES else "xx").tokenizer


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    cache_dir = os.environ.get("PORTER_VAR_DIR")
    if cache_dir:
        jieba.dt.tmp_dir = cache_dir
    return jieba


def _spans(text: str, language: Optional[str]) -> List[Tuple[str, int]]:
    """(token text, start offset) for one stretch of text that holds no identifier."""
    spans: List[Tuple[str, int]] = []
    position = 0
    for han in _HAN_RUN.finditer(text):
        spans.extend(_latin_spans(text[position : han.start()], position, language))
        offset = han.start()
        for word in _jieba().lcut(han.group(), HMM=True):
            spans.append((word, offset))
            offset += len(word)
        position = han.end()
    spans.extend(_latin_spans(text[position:], position, language))
    return spans


def _latin_spans(text: str, offset: int, language: Optional[str]) -> List[Tuple[str, int]]:
    if not text.strip():
        return []
    return [(t.text, offset + t.idx) for t in _spacy_tokenizer(language or "xx")(text) if not t.is_space]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MultilingualTokenizer(Tokenizer):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return None  # every language: segmentation is chosen per message

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute) or ""
        language = message.get(DETECTED_LANGUAGE)
        tokens: List[Token] = []
        position = 0
        for found in find_identifiers(text):
            tokens.extend(
                Token(t, position + start) for t, start in _spans(text[position : found.start], language) if t.strip()
            )
            tokens.append(Token(f"__{found.entity}__", found.start, found.end))
            position = found.end
        # offsets from _spans are relative to the slice it was given
        tokens.extend(Token(t, position + start) for t, start in _spans(text[position:], language) if t.strip())
        return self._apply_token_pattern(tokens)
