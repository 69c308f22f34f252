"""Which language a short chat message is in, among the languages the shop supports.

Script decides first (Han means Chinese, Cyrillic means Russian when Russian is supported, kana means
Japanese and so on); a statistical detector restricted to the supported languages decides the rest.
Identifiers (order numbers, emails) and digits are removed before judging, because "A10023" says nothing
about the shopper's language.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from bot.identifiers import find_identifiers

# Scripts that settle the language on their own. Only those whose language is supported are used for
# a supported answer; the others mark the message as written in an unsupported language.
_SCRIPT_LANGUAGE = (
    (re.compile(r"[\u3040-\u30ff]"), "ja"),
    (re.compile(r"[\uac00-\ud7af\u1100-\u11ff]"), "ko"),
    (re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]"), "zh"),
    (re.compile(r"[\u0400-\u04ff]"), "ru"),
    (re.compile(r"[\u0600-\u06ff]"), "ar"),
    (re.compile(r"[\u0590-\u05ff]"), "he"),
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
    (re.compile(r"[\u0900-\u097f]"), "hi"),
    (re.compile(r"[\u0370-\u03ff]"), "el"),
)
_LETTER_RUN = re.compile(r"[^\W\d_]+")

_LINGUA_NAMES = {"en": "ENGLISH", "zh": "CHINESE", "es": "SPANISH", "fr": "FRENCH", "de": "GERMAN",
                 "ru": "RUSSIAN", "pt": "PORTUGUESE", "it": "ITALIAN", "nl": "DUTCH", "pl": "POLISH",
                 "tr": "TURKISH", "ja": "JAPANESE", "ko": "KOREAN", "ar": "ARABIC"}


@dataclass(frozen=True)
class Detection:
    language: Optional[str]
    confidence: float
    words: int          # letter runs (Han characters count one each) left after removing identifiers
    by_script: bool
    margin: float = 0.0  # lead of the best language over the runner-up (1.0 when the script decides)


def strip_identifiers(text: str) -> str:
    for found in reversed(find_identifiers(text)):
        text = text[:found.start] + " " + text[found.end:]
    return re.sub(r"https?://\S+", " ", text)


def _word_count(text: str) -> int:
    han = len(re.findall(r"[\u4e00-\u9fff\u3400-\u4dbf\u3040-\u30ff\uac00-\ud7af]", text))
    other = len(_LETTER_RUN.findall(re.sub(r"[\u4e00-\u9fff\u3400-\u4dbf\u3040-\u30ff\uac00-\ud7af]", " ", text)))
    return han + other


class _Lingua:
    def __init__(self, languages: Sequence[str]):
        from lingua import Language, LanguageDetectorBuilder

        self._by_name = {getattr(Language, _LINGUA_NAMES[code]): code for code in languages}
        self._detector = LanguageDetectorBuilder.from_languages(*self._by_name).build()

    def scores(self, text: str) -> Dict[str, float]:
        return {self._by_name[v.language]: v.value for v in self._detector.compute_language_confidence_values(text)}


class _Langdetect:
    def __init__(self, languages: Sequence[str]):
        from langdetect import detector_factory

        detector_factory.init_factory()
        detector_factory.DetectorFactory.seed = 0  # langdetect is random unless seeded
        self._factory = detector_factory._factory
        code = {"zh": "zh-cn"}
        self._codes = {code.get(lang, lang): lang for lang in languages}
        self._prior = {c: (1.0 if c in self._codes else 0.0) for c in self._factory.get_lang_list()}

    def scores(self, text: str) -> Dict[str, float]:
        from langdetect.lang_detect_exception import LangDetectException

        detector = self._factory.create()
        detector.set_prior_map(self._prior)
        detector.append(text)
        try:
            probabilities = detector.get_probabilities()
        except LangDetectException:
            return {}
        return {self._codes[p.lang]: p.prob for p in probabilities if p.lang in self._codes}


BACKENDS = {"lingua": _Lingua, "langdetect": _Langdetect}


class LanguageIdentifier:
    def __init__(self, supported: Sequence[str], backend: str = "lingua"):
        if backend not in BACKENDS:
            raise ValueError(f"language detector {backend!r} is unknown (choose from {', '.join(BACKENDS)})")
        unknown = [code for code in supported if code not in _LINGUA_NAMES]
        if unknown:
            raise ValueError(f"language {unknown[0]!r} is not supported by Porter's detector")
        self.supported: List[str] = list(supported)
        self._detector = BACKENDS[backend](self.supported)

    def detect(self, text: str) -> Detection:
        text = unicodedata.normalize("NFC", strip_identifiers(text or ""))
        words = _word_count(text)
        if words == 0:
            return Detection(None, 0.0, 0, False)
        for pattern, language in _SCRIPT_LANGUAGE:
            if pattern.search(text):
                return Detection(language, 1.0, words, True, 1.0)
        scores = sorted(self._detector.scores(text).items(), key=lambda item: item[1], reverse=True)
        if not scores:
            return Detection(None, 0.0, words, False)
        runner_up = scores[1][1] if len(scores) > 1 else 0.0
        return Detection(scores[0][0], float(scores[0][1]), words, False, float(scores[0][1] - runner_up))
