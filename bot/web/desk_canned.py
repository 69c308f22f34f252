"""Canned replies for the desk: each language catalog's, or a shop's own file (``PORTER_CANNED_REPLIES``), reread
when it changes; a broken file is logged and offers none."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from bot.catalogs import catalog
from bot.languages import supported_languages

logger = logging.getLogger(__name__)

_canned_cache: Dict[str, Any] = {"key": None, "replies": {}}


def canned_replies(path: Optional[Path]) -> Dict[str, List[Dict[str, str]]]:
    """{language: [{title, text}]}: the language catalogs' (languages/<code>.yml), or those of the merchant's own
    file when PORTER_CANNED_REPLIES names one, read again when it changes; {} when that file is broken."""
    if path is None:
        return {
            code: list(catalog(code).get("canned_replies") or [])
            for code in supported_languages()
            if catalog(code).get("canned_replies")
        }
    try:
        stat = path.stat()
    except OSError:
        return {}
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if _canned_cache["key"] == key:
        return _canned_cache["replies"]
    replies: Dict[str, List[Dict[str, str]]] = {}
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(document, dict):
            raise ValueError("the file must map languages to lists of replies")
        for language, entries in document.items():
            if not isinstance(entries, list):
                raise ValueError(f"{language}: expected a list of replies")
            for number, entry in enumerate(entries, start=1):
                if not (
                    isinstance(entry, dict)
                    and isinstance(entry.get("title"), str)
                    and isinstance(entry.get("text"), str)
                    and entry["text"].strip()
                ):
                    raise ValueError(f"{language}, reply {number}: needs a title and a text")
            replies[str(language)] = [{"title": e["title"], "text": e["text"]} for e in entries]
    except (ValueError, yaml.YAMLError) as exc:
        logger.error("desk: canned replies not loaded from %s: %s", path, exc)
        replies = {}
    _canned_cache.update(key=key, replies=replies)
    return replies


def canned_for(path: Optional[Path], language: Optional[str], agent: str) -> Dict[str, Any]:
    replies = canned_replies(path)
    chosen = language if language in replies else "en"
    return {
        "language": chosen if chosen in replies else None,
        "replies": [
            {"title": r["title"], "text": r["text"].replace("{agent}", agent)} for r in replies.get(chosen, [])
        ],
    }
