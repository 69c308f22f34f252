"""Which language a short chat message is in, among the languages the shop supports.

Script decides first (Han means Chinese, Cyrillic means Russian when Russian is supported, kana means
Japanese and so on); a statistical detector restricted to the supported languages decides the rest.
Identifiers (order numbers, emails) and digits are removed before judging, because "A10023" says nothing
about the shopper's language.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

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

_LINGUA_NAMES = {
    "en": "ENGLISH",
    "zh": "CHINESE",
    "es": "SPANISH",
    "fr": "FRENCH",
    "de": "GERMAN",
    "ru": "RUSSIAN",
    "pt": "PORTUGUESE",
    "it": "ITALIAN",
    "nl": "DUTCH",
    "pl": "POLISH",
    "tr": "TURKISH",
    "ja": "JAPANESE",
    "ko": "KOREAN",
    "ar": "ARABIC",
    "sv": "SWEDISH",
    "da": "DANISH",
    "ro": "ROMANIAN",
    "cs": "CZECH",
    "hu": "HUNGARIAN",
    "id": "INDONESIAN",
    "vi": "VIETNAMESE",
    "fi": "FINNISH",
    "ca": "CATALAN",
}
# Latin-script languages shoppers of cross-border shops often write in that Porter does not speak: watched so
# that such a message gets "I speak ..." instead of a confident guess in a language it is not.
WATCHED_UNSUPPORTED = ("it", "nl", "pl", "tr", "sv", "da", "ro", "cs", "hu", "id", "vi", "fi", "ca")


@dataclass(frozen=True)
class Detection:
    language: Optional[str]
    confidence: float
    words: int  # letter runs (Han characters count one each) left after removing identifiers
    by_script: bool
    margin: float = 0.0  # lead of the best language over the runner-up (1.0 when the script decides)
    supported: bool = True


def strip_identifiers(text: str) -> str:
    for found in reversed(find_identifiers(text)):
        text = text[: found.start] + " " + text[found.end :]
    return re.sub(r"https?://\S+", " ", text)


def _word_count(text: str) -> int:
    han = len(re.findall(r"[\u4e00-\u9fff\u3400-\u4dbf\u3040-\u30ff\uac00-\ud7af]", text))
    other = len(_LETTER_RUN.findall(re.sub(r"[\u4e00-\u9fff\u3400-\u4dbf\u3040-\u30ff\uac00-\ud7af]", " ", text)))
    return han + other


class _Lingua:
    def __init__(self, languages: Sequence[str], low_accuracy: bool = False):
        from lingua import Language, LanguageDetectorBuilder

        self._by_name = {getattr(Language, _LINGUA_NAMES[code]): code for code in languages}
        builder = LanguageDetectorBuilder.from_languages(*self._by_name)
        self._detector = (builder.with_low_accuracy_mode() if low_accuracy else builder).build()

    def scores(self, text: str) -> Dict[str, float]:
        return {self._by_name[v.language]: v.value for v in self._detector.compute_language_confidence_values(text)}


class _Langdetect:
    def __init__(self, languages: Sequence[str], low_accuracy: bool = False):  # langdetect has one mode
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

_ANNOTATION = re.compile(r"\[([^\]]+)\]\([a-z_]+\)")
SHORT_WORDS = 3  # up to this many words, the chat lexicon helps the statistical detector
SHARED_MIN_COUNT = 2  # a word seen once in a language's training data is a quirk of one shopper, not a habit


def fold_accents(word: str) -> str:
    """The word as a shopper who skips accents types it: "perdón" becomes "perdon"."""
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def chat_words(text: str) -> List[str]:
    return [w.lower() for w in _LETTER_RUN.findall(strip_identifiers(text))]


def build_lexicon(folder: Path, languages: Sequence[str]) -> Dict[str, Dict[str, int]]:
    """Word counts per language from our own training files (data/nlu/<language>.yml).

    Statistical detectors are weak on one or two chat words ("merci", "valeu", "obg", "hallo"); the words
    shoppers actually type in each language, counted from the training data, settle most of them.
    """
    lexicon: Dict[str, Dict[str, int]] = {}
    for language in languages:
        path = Path(folder) / f"{language}.yml"
        if not path.exists():
            continue
        counts: Counter = Counter()
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in (block.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    counts.update(chat_words(_ANNOTATION.sub(r"\1", line.strip()[2:])))
        lexicon[language] = dict(counts)
    return lexicon


class _Lexicon:
    """Naive Bayes over chat words, combined with the detector's scores for short messages."""

    def __init__(self, counts: Dict[str, Dict[str, int]], smoothing: float = 0.5):
        self.counts = counts
        self.folded: Dict[str, Counter] = {}
        for language, words in counts.items():
            folded: Counter = Counter()
            for word, count in words.items():
                folded[fold_accents(word)] += count
            self.folded[language] = folded
        self.totals = {language: sum(words.values()) for language, words in counts.items()}
        self.vocabulary = len({word for words in counts.values() for word in words}) or 1
        self.smoothing = smoothing

    def known_share(self, text: str) -> float:
        """The largest share of the message's words that one supported language's shoppers are known to type."""
        words = chat_words(text)
        if not words:
            return 0.0
        return max(sum(w in counts for w in words) / len(words) for counts in self.counts.values())

    def _count(self, language: str, word: str) -> int:
        """How often this language's shoppers type ``word``; a word no language has as typed is looked up
        without its accents, since shoppers often leave them out ("perdon" for "perdón")."""
        if any(word in counts for counts in self.counts.values()):
            return self.counts.get(language, {}).get(word, 0)
        return self.folded.get(language, {}).get(fold_accents(word), 0)

    def shared_share(self, word: str) -> float:
        """How often the second language's shoppers type ``word`` compared with the first's (per word they type):
        0 for "hola" or "obrigado", about a fifth for "si" (Spanish and Italian), more for "no" and "ok".
        A language whose shoppers typed the word only once does not count: one Russian shopper writing
        "goodbye" does not make it a Russian word."""
        rates = sorted(
            (
                words.get(word.lower(), 0) / (self.totals[language] or 1)
                for language, words in self.counts.items()
                if words.get(word.lower(), 0) >= SHARED_MIN_COUNT
            ),
            reverse=True,
        )
        return rates[1] / rates[0] if len(rates) > 1 and rates[0] else 0.0

    def rescore(self, text: str, scores: Dict[str, float]) -> Dict[str, float]:
        words = chat_words(text)
        if not words or not any(self._count(language, w) for language in self.counts for w in words):
            return scores
        combined = {}
        for language, score in scores.items():
            total = self.totals.get(language, 0)
            likelihood = sum(
                math.log((self._count(language, w) + self.smoothing) / (total + self.smoothing * self.vocabulary))
                for w in words
            )
            combined[language] = math.log(score + 1e-3) + likelihood
        top = max(combined.values())
        exp = {language: math.exp(value - top) for language, value in combined.items()}
        norm = sum(exp.values())
        return {language: value / norm for language, value in exp.items()}


class LanguageIdentifier:
    """Chooses among the supported languages at lingua's high accuracy; a separate, light detector over the
    supported and watched languages only says whether a message is in a language Porter does not speak."""

    def __init__(
        self,
        supported: Sequence[str],
        backend: str = "lingua",
        watch_unsupported: bool = True,
        unsupported_min_words: int = 3,
        unsupported_min_margin: float = 0.5,
        unsupported_max_known_share: float = 2 / 3,
        lexicon: Optional[Dict[str, Dict[str, int]]] = None,
    ):
        if backend not in BACKENDS:
            raise ValueError(f"language detector {backend!r} is unknown (choose from {', '.join(BACKENDS)})")
        unknown = [code for code in supported if code not in _LINGUA_NAMES]
        if unknown:
            raise ValueError(f"language {unknown[0]!r} is not supported by Porter's detector")
        self.supported: List[str] = list(supported)
        self.watched = [c for c in WATCHED_UNSUPPORTED if c not in supported] if watch_unsupported else []
        self.unsupported_min_words = unsupported_min_words
        self.unsupported_min_margin = unsupported_min_margin
        self.unsupported_max_known_share = unsupported_max_known_share
        self._detector = BACKENDS[backend](self.supported)
        self._watcher = BACKENDS[backend](self.supported + self.watched, low_accuracy=True) if self.watched else None
        self._lexicon = _Lexicon(lexicon) if lexicon else None

    def word_shared(self, text: str, share: float) -> bool:
        """Whether a one-word message is a word the shoppers of two languages both type (``share`` of the first's
        rate at least): "si" is Spanish and Italian, so it says nothing about which one the shopper writes."""
        words = chat_words(text)
        return bool(self._lexicon) and len(words) == 1 and self._lexicon.shared_share(words[0]) >= share

    def detect(self, text: str) -> Detection:
        text = unicodedata.normalize("NFC", strip_identifiers(text or ""))
        words = _word_count(text)
        if words == 0:
            return Detection(None, 0.0, 0, False)
        for pattern, language in _SCRIPT_LANGUAGE:
            if pattern.search(text):
                return Detection(language, 1.0, words, True, 1.0, language in self.supported)
        unsupported = self._unsupported(text, words)
        if unsupported:
            return unsupported
        scores = self._detector.scores(text)
        if not scores:
            return Detection(None, 0.0, words, False)
        ranked = sorted(((scores.get(code, 0.0), code) for code in self.supported), reverse=True)
        best_score, best = ranked[0]
        # Among the supported languages only: a watched language never blurs the choice between them.
        if self._lexicon and words <= SHORT_WORDS:
            rescored = self._lexicon.rescore(text, {code: score for score, code in ranked})
            ranked = sorted(((score, code) for code, score in rescored.items()), reverse=True)
            best_score, best = ranked[0]
        total = sum(score for score, _ in ranked) or 1.0
        runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
        return Detection(best, best_score / total, words, False, (best_score - runner_up) / total)

    def _unsupported(self, text: str, words: int) -> Optional[Detection]:
        """A watched language, when it clearly leads the supported ones and the shoppers' words don't say otherwise.

        The watcher runs lingua's low-accuracy mode (trigrams only, 35 MB for twenty languages against 560 MB
        at high accuracy), which alone mistakes short supported messages for a watched language ("tell me a
        joke": Finnish). A message whose words are mostly ones our shoppers type in one supported language
        (the chat lexicon) is never called unsupported. Measured by `make eval` on tests/langid/unsupported.txt.
        """
        if not self._watcher or words < self.unsupported_min_words:
            return None
        scores = self._watcher.scores(text)
        if not scores:
            return None
        best_score = max(scores.get(code, 0.0) for code in self.supported)
        watched_score, watched = max((scores.get(code, 0.0), code) for code in self.watched)
        if watched_score - best_score < self.unsupported_min_margin:
            return None
        if self._lexicon and self._lexicon.known_share(text) >= self.unsupported_max_known_share:
            return None
        return Detection(watched, float(watched_score), words, False, float(watched_score - best_score), False)
