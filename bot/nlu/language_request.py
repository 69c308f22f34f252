"""Spotting a shopper asking for a language ("can you speak Spanish?", "en français svp", "能说中文吗").

A short message naming one language is taken as a request for it: in after-sales chats that is what such a
message almost always means, and the cost of a wrong guess is one reply in a language the shopper named.
"""

from __future__ import annotations

import re
import unicodedata
from typing import List, Optional

from bot.catalogs import catalog

MAX_WORDS = 7


def _names(code: str, supported) -> List[str]:
    """The words that name language ``code``: its own catalog's ``names.requested_as`` (its name in many
    languages) and what the other catalogs call it (``names.others``), so a new language brings both its own
    names and its words for the languages already there."""
    names = list((catalog(code).get("names") or {}).get("requested_as") or [])
    for other in supported:
        names += ((catalog(other).get("names") or {}).get("others") or {}).get(code) or []
    return names


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
    named = {code for code in supported if any(_fold(name) in folded for name in _names(code, supported))}
    return named.pop() if len(named) == 1 else None
