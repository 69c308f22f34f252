"""Everything a language needs besides its NLU training data, one file per language: ``languages/<code>.yml``.

A catalog holds the language's names, its date and label formats, every reply of the domain (generated into
``domain/replies.yml`` by ``python -m bot replies``), the tracking wording, the anger lexicon, the notices a
channel sends on its own, the widget's labels and the desk's canned replies. Adding a language is its NLU file,
its catalog and its code in config.yml's ``supported_languages`` (bot/languages.py reads that list).

English is the last resort: whatever a catalog leaves out is said in English.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from bot.paths import PROJECT_ROOT

FOLDER = PROJECT_ROOT / "languages"
FALLBACK = "en"


class CatalogError(ValueError):
    """A catalog file is missing or malformed: raised at start-up rather than mid-conversation."""


def path_of(language: str) -> Path:
    return FOLDER / f"{language}.yml"


@lru_cache(maxsize=None)
def catalog(language: str) -> Dict[str, Any]:
    """The catalog of ``language``, or {} when there is none (an unsupported language falls back to English)."""
    if not language or not language.isalpha() or len(language) > 3:
        return {}
    path = path_of(language.lower())
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise CatalogError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(data, dict) or data.get("language") != language.lower():
        raise CatalogError(f"{path} must be a mapping whose `language` is {language.lower()!r}")
    return data


def section(name: str, language: Optional[str]) -> Dict[str, Any]:
    """One section of a language's catalog (``notices``, ``tracking``...), English keys filling its gaps."""
    english = catalog(FALLBACK).get(name) or {}
    own = catalog(_code(language)).get(name) or {}
    if isinstance(english, dict) and isinstance(own, dict):
        return {**english, **own}
    return own or english


def entry(section_name: str, key: str, language: Optional[str]) -> Any:
    """One entry of a section in ``language``, or in English when that language has none."""
    return section(section_name, language).get(key)


def _code(language: Optional[str]) -> str:
    """The catalog a language tag reads: 'pt-BR' and 'PT' read pt."""
    return str(language or FALLBACK)[:2].lower()
