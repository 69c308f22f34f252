"""The domain's replies, generated from the language catalogs into ``domain/replies.yml``.

Rasa picks a reply's variation by the ``language`` slot; writing those 7-way conditions by hand repeated the
same condition hundreds of times and scattered a language over one huge file. The catalogs (languages/) hold
each language's texts together; this module turns them into the variations Rasa expects: one per supported
language, and English unconditioned as the last resort for a language Porter does not speak.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import yaml

from bot.catalogs import FALLBACK, CatalogError, catalog
from bot.languages import supported_languages
from bot.paths import PROJECT_ROOT

REPLIES_FILE = PROJECT_ROOT / "domain" / "replies.yml"
HEADER = (
    "# Generated from languages/<code>.yml by `python -m bot replies`: edit the catalogs, not this file.\n"
    "# One variation per supported language (a condition on the `language` slot); English comes last,\n"
    "# unconditioned, for a language Porter does not speak. Channel-specific variations, if ever added,\n"
    "# must repeat the language condition.\n"
)


def _variation(value: Any, language: str, reply: str) -> Dict[str, Any]:
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return dict(value)
    raise CatalogError(f"languages/{language}.yml: reply {reply} must be a text or a mapping with `text`")


def responses(languages: Sequence[str] | None = None) -> Dict[str, List[Dict[str, Any]]]:
    """Every reply of the English catalog, with a variation per language. A supported language that lacks a
    reply, or has one English does not, is an error: a shopper would otherwise read English mid-conversation."""
    languages = list(languages or supported_languages())
    english = catalog(FALLBACK).get("replies") or {}
    problems = []
    for language in languages:
        own = catalog(language).get("replies") or {}
        if not own and language != FALLBACK:
            problems.append(f"languages/{language}.yml has no replies")
            continue
        problems += [f"languages/{language}.yml lacks reply {name}" for name in english if name not in own]
        problems += [
            f"languages/{language}.yml has reply {name}, which English does not" for name in own if name not in english
        ]
    if problems:
        raise CatalogError("; ".join(problems))
    result: Dict[str, List[Dict[str, Any]]] = {}
    for name, text in english.items():
        variations = []
        for language in languages:
            if language == FALLBACK:
                continue
            variation = _variation(catalog(language)["replies"][name], language, name)
            variation["condition"] = [{"type": "slot", "name": "language", "value": language}]
            variations.append(variation)
        variations.append(_variation(text, FALLBACK, name))
        result[name] = variations
    return result


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as literal blocks, so the generated file reads like the catalogs."""


_Dumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None),
)


def render() -> str:
    body = yaml.dump(
        {"responses": responses()},
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=100000,
        default_flow_style=False,
    )
    return 'version: "3.1"\n\n' + HEADER + "\n" + body


def write() -> bool:
    """Writes domain/replies.yml; True when it changed."""
    text = render()
    if REPLIES_FILE.exists() and REPLIES_FILE.read_text(encoding="utf-8") == text:
        return False
    REPLIES_FILE.write_text(text, encoding="utf-8")
    return True


def say(reply: str, language: str | None, **values: Any) -> str:
    """One reply's text in ``language`` (English when Porter does not speak it), placeholders filled: for
    what is said to a shopper outside Rasa's actions, such as a fix an agent carried out from the desk."""
    code = str(language or "")[:2].lower()
    code = code if code in supported_languages() else FALLBACK
    value = (catalog(code).get("replies") or {}).get(reply) or (catalog(FALLBACK).get("replies") or {}).get(reply)
    if value is None:
        raise CatalogError(f"there is no reply {reply} in languages/{FALLBACK}.yml")
    return _variation(value, code, reply)["text"].format(**values)
