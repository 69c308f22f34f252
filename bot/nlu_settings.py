"""Settings of our NLU components as config.yml gives them, for code outside Rasa (the action server, the CLI)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

import yaml

from bot.paths import nlu_config_path


@lru_cache(maxsize=None)
def component_settings(class_name: str) -> Dict[str, Any]:
    """The pipeline entry whose name ends with ``class_name`` ({} when config.yml has none)."""
    try:
        config = yaml.safe_load(nlu_config_path().read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    for component in config.get("pipeline") or []:
        if str(component.get("name", "")).endswith(class_name):
            return dict(component)
    return {}
