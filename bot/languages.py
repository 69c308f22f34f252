"""The languages this installation speaks, read from the LanguageDetector settings in config.yml."""
from __future__ import annotations

from typing import List

from bot.nlu_settings import component_settings

NATIVE_NAMES = {"en": "English", "zh": "中文", "es": "Español", "fr": "Français", "de": "Deutsch",
                "ru": "Русский", "pt": "Português"}


# What the desk calls a shopper's language: the ones Porter speaks and the ones it recognises without speaking
# them (bot/nlu/language_id.py), so an agent never reads a bare code.
ENGLISH_NAMES = {"en": "English", "zh": "Chinese", "es": "Spanish", "fr": "French", "de": "German",
                 "ru": "Russian", "pt": "Portuguese", "it": "Italian", "nl": "Dutch", "pl": "Polish",
                 "tr": "Turkish", "sv": "Swedish", "da": "Danish", "ro": "Romanian", "cs": "Czech",
                 "hu": "Hungarian", "id": "Indonesian", "vi": "Vietnamese", "fi": "Finnish", "ca": "Catalan",
                 "ja": "Japanese", "ko": "Korean", "ar": "Arabic", "he": "Hebrew", "th": "Thai", "hi": "Hindi",
                 "el": "Greek"}


def supported_languages() -> List[str]:
    return list(component_settings("LanguageDetector").get("supported_languages") or ["en"])


def native_list() -> str:
    return ", ".join(NATIVE_NAMES.get(code, code) for code in supported_languages())
