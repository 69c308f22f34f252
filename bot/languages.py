"""The languages this installation speaks, read from the LanguageDetector settings in config.yml."""
from __future__ import annotations

from functools import lru_cache
from typing import List

import yaml

from bot.paths import nlu_config_path

NATIVE_NAMES = {"en": "English", "zh": "中文", "es": "Español", "fr": "Français", "de": "Deutsch",
                "ru": "Русский", "pt": "Português"}


@lru_cache(maxsize=1)
def supported_languages() -> List[str]:
    config = yaml.safe_load(nlu_config_path().read_text(encoding="utf-8")) or {}
    for component in config.get("pipeline") or []:
        if str(component.get("name", "")).endswith("LanguageDetector"):
            return list(component.get("supported_languages") or ["en"])
    return ["en"]


def native_list() -> str:
    return ", ".join(NATIVE_NAMES.get(code, code) for code in supported_languages())
