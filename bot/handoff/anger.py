"""Strong anger in a shopper's wording: a small lexicon per language, so Porter hands over to a person.

What counts as *strong* anger (and so a person right away, even in the middle of a form):
- swearing and insults ("what the fuck", "this sucks", "блять", "他妈的", "merde", "Scheiße");
- calling the shop a cheat ("scam", "thieves", "мошенники", "骗子", "arnaque", "Betrug", "golpe");
- threats of a complaint with consequences (a lawyer, a chargeback, the consumer office: "12315", "Procon");
- saying outright that one is furious or fed up ("I'm furious", "fed up", "气死我了", "j'en ai marre").

What does *not* count: impatience, worry and plain disappointment ("this is killing me, where is my parcel?",
"I'm disappointed", "this is taking ages", "unacceptable"). Porter can still help there, and a shopper who is
misunderstood twice or comes back on several days reaches a person anyway. Negation is not analysed: the lexicon
avoids words that are often negated ("angry"), and a phrase like "not a scam, right?" still hands over (a person
reassuring a worried shopper does no harm).

Matching is done on *folded* text (lower case, no accents, ё as е, full-width as half-width). Entries are
whole words or phrases; a trailing ``*`` on a word matches any ending (Russian and German inflect:
``мошенни*`` finds мошенники, мошенничество). Chinese has no spaces, so its entries are substrings, written
to avoid innocent words (垃圾 alone is rubbish, as in 垃圾桶 the bin or 垃圾邮件 the spam folder: only "垃圾"
aimed at the shop counts). Words that are rude in one language and innocent in another (French "con" is
Spanish "with") are only looked for in the message's own language; ``COMMON`` is looked for everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Pattern, Sequence, Tuple

from bot.catalogs import catalog
from bot.identifiers import EMAIL_RE
from bot.languages import supported_languages

# Looked for in every message, whatever its language: English swearing travels.
COMMON = ["fuck*", "motherfuck*", "wtf", "stfu", "f*ck*", "f**k*", "f***", "f***ing"]

# Each language's entries are in its catalog (languages/<code>.yml, `anger`): words or phrases (a trailing * on a
# word matches any ending); "re:" starts a regular expression on the folded text, for the few entries that need
# a context (Chinese, digits).
LEXICON: Dict[str, List[str]] = {code: list(catalog(code).get("anger") or []) for code in supported_languages()}


_NOT_WORDS = re.compile(EMAIL_RE.pattern + r"|https?://\S+|www\.\S+")


def fold(text: str) -> str:
    """Lower case, full-width as half-width, accents removed (й kept, ё read as е)."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) != "Mn" or c == "\u0306")
    return unicodedata.normalize("NFC", kept)


def _word(word: str) -> str:
    """One lexicon word as a regex: a trailing * matches any ending; * inside a word stands for a masked
    letter as shoppers type them (f*ck, f**k)."""
    stem, any_ending = (word[:-1], True) if word.endswith("*") and not word.endswith("**") else (word, False)
    parts = [r"[*#@$%!]" if c == "*" else re.escape(c) for c in fold(stem)]
    return "".join(parts) + (r"\w*" if any_ending else "")


def _entry_regex(entry: str, spaced: bool) -> str:
    if entry.startswith("re:"):
        return entry[3:]
    if not spaced:  # Chinese: a substring
        return re.escape(fold(entry))
    words = [_word(w) for w in entry.split()]
    return r"(?<!\w)" + r"[\s\-]+".join(words) + r"(?![\w*])"


@lru_cache(maxsize=None)
def _patterns(language: str) -> Tuple[Tuple[str, Pattern[str]], ...]:
    entries = LEXICON.get(language, [])
    return tuple((entry, re.compile(_entry_regex(entry, spaced=language != "zh"))) for entry in entries)


@lru_cache(maxsize=None)
def _common() -> Tuple[Tuple[str, Pattern[str]], ...]:
    return tuple((entry, re.compile(_entry_regex(entry, spaced=True))) for entry in COMMON)


@dataclass(frozen=True)
class Anger:
    language: str  # the lexicon that matched ("common" for COMMON)
    entry: str  # the lexicon entry
    start: int  # where it is in the text
    end: int
    text: str  # what the shopper wrote there


def _languages_for(language: Optional[str]) -> Sequence[str]:
    if language in LEXICON:
        return (language,)
    return tuple(LEXICON)  # unknown or unsupported language: every lexicon (merda is Portuguese and Catalan alike)


def find_anger(text: str, language: Optional[str] = None, ignore: Iterable[Tuple[int, int]] = ()) -> Optional[Anger]:
    """The first sign of strong anger in ``text`` written in ``language``, or None.

    ``ignore`` lists (start, end) spans of the original text not to read, such as order numbers; emails and
    links are never read ("scammer@example.com" is an address, not an accusation).
    """
    if not text:
        return None
    masked = list(text)
    spans = list(ignore) + [m.span() for m in _NOT_WORDS.finditer(text)]
    for start, end in spans:
        for i in range(max(0, start), min(len(masked), end)):
            masked[i] = " "
    # Folded one character at a time, so a match maps back to what the shopper wrote ("Scheiße": "scheisse").
    pieces = [fold(c) for c in unicodedata.normalize("NFC", "".join(masked))]
    folded = "".join(pieces)
    origin = [i for i, piece in enumerate(pieces) for _ in piece]
    for lexicon, patterns in [("common", _common())] + [(lang, _patterns(lang)) for lang in _languages_for(language)]:
        for entry, pattern in patterns:
            match = pattern.search(folded)
            if match:
                start, end = origin[match.start()], origin[match.end() - 1] + 1
                return Anger(lexicon, entry, start, end, text[start:end])
    return None
