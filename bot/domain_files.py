"""The domain as Rasa reads it: a file, or every file of a folder (``domain/``), merged.

For code that needs the domain's plain data (the action server's forms, the fix matcher's buttons, tests,
benchmarks) without loading Rasa. Lists are joined and mappings merged, as Rasa's own merge does for a folder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import yaml

from bot.paths import PROJECT_ROOT

DOMAIN_DIR = PROJECT_ROOT / "domain"


@lru_cache(maxsize=None)
def domain_dict(domain: Path = DOMAIN_DIR) -> Dict[str, Any]:
    files = sorted(domain.glob("*.yml")) if domain.is_dir() else [domain]
    merged: Dict[str, Any] = {}
    for path in files:
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, value in part.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            elif isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
            else:
                merged.setdefault(key, value)
    return merged
