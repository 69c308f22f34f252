"""The languages this installation speaks, read from the LanguageDetector settings in config.yml."""
from __future__ import annotations

from typing import List

from bot.nlu_settings import component_settings

NATIVE_NAMES = {"en": "English", "zh": "中文", "es": "Español", "fr": "Français", "de": "Deutsch",
                "ru": "Русский", "pt": "Português"}


def supported_languages() -> List[str]:
    return list(component_settings("LanguageDetector").get("supported_languages") or ["en"])


def native_list() -> str:
    return ", ".join(NATIVE_NAMES.get(code, code) for code in supported_languages())
