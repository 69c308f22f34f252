"""The languages this installation speaks, read from the LanguageDetector settings in config.yml; what each is
called comes from its catalog (languages/<code>.yml)."""

from __future__ import annotations

from typing import List

from bot.catalogs import catalog
from bot.nlu_settings import component_settings

# What the desk calls a language Porter recognises without speaking it (bot/nlu/language_id.py), so an agent
# never reads a bare code. A language Porter speaks is named by its catalog.
UNSPOKEN_NAMES = {
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "tr": "Turkish",
    "sv": "Swedish",
    "da": "Danish",
    "ro": "Romanian",
    "cs": "Czech",
    "hu": "Hungarian",
    "id": "Indonesian",
    "vi": "Vietnamese",
    "fi": "Finnish",
    "ca": "Catalan",
    "ja": "Japanese",
    "ko": "Korean",
    "ar": "Arabic",
    "he": "Hebrew",
    "th": "Thai",
    "hi": "Hindi",
    "el": "Greek",
}


def supported_languages() -> List[str]:
    return list(component_settings("LanguageDetector").get("supported_languages") or ["en"])


def _names(code: str) -> dict:
    return catalog(code).get("names") or {}


def native_name(code: str) -> str:
    """'Español', '中文': how a shopper reads the language's name."""
    return _names(code).get("native") or code


def english_name(code: str) -> str:
    """'Spanish', 'Korean': how an agent reads it; the code itself only for a language nobody listed."""
    return _names(code).get("english") or UNSPOKEN_NAMES.get(code) or code


def native_list() -> str:
    return ", ".join(native_name(code) for code in supported_languages())
