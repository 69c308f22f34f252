"""Spotting a shopper asking for a language ("can you speak Spanish?", "en français svp", "能说中文吗").

A short message naming one language is taken as a request for it: in after-sales chats that is what such a
message almost always means, and the cost of a wrong guess is one reply in a language the shopper named.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

_NAMES = {
    "en": ["english", "ingles", "anglais", "englisch", "английск", "по-английски", "英语", "英文"],
    "zh": ["chinese", "mandarin", "chino", "chinois", "chinesisch", "китайск", "chines", "中文", "汉语", "普通话",
           "華語", "华语", "國語"],
    "es": ["spanish", "espanol", "espagnol", "spanisch", "испанск", "по-испански", "espanhol", "西班牙语", "西语"],
    "fr": ["french", "frances", "francais", "franzosisch", "французск", "по-французски", "法语", "法文"],
    "de": ["german", "aleman", "allemand", "deutsch", "немецк", "по-немецки", "alemao", "德语", "德文"],
    "ru": ["russian", "ruso", "russe", "russisch", "русск", "по-русски", "russo", "俄语", "俄文"],
    "pt": ["portuguese", "portugues", "portugais", "portugiesisch", "португальск", "по-португальски",
           "葡萄牙语", "葡语"],
}
MAX_WORDS = 7


def _fold(text: str) -> str:
    """Lowercase without accents, so 'Français', 'francais' and 'FRANCÊS' compare alike."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn" or c == "\u0306")  # keep й


def requested_language(text: str, supported) -> Optional[str]:
    folded = _fold(text or "")
    words = re.findall(r"[^\W\d_]+", folded)
    han = re.findall(r"[\u4e00-\u9fff]", folded)
    if len(words) - len(han and [0]) > MAX_WORDS or len(han) > 12:
        return None
    named = {code for code, names in _NAMES.items() if code in supported
             and any(_fold(name) in folded for name in names)}
    return named.pop() if len(named) == 1 else None
