"""Every reply exists in every language the assistant answers in, with the same placeholders and buttons."""

import re

import pytest
import yaml

from bot.domain_files import domain_dict
from bot.paths import PROJECT_ROOT

DOMAIN = domain_dict()
CONFIG = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
REPLY_LANGUAGES = next(c for c in CONFIG["pipeline"] if c["name"].endswith("LanguageDetector"))["supported_languages"]


def variations_by_language(variations):
    by_language = {}
    for variation in variations:
        conditions = variation.get("condition") or []
        assert not variation.get("channel"), "channel variations would override the language (README, Replies)"
        language = next((c["value"] for c in conditions if c.get("name") == "language"), "en")
        by_language.setdefault(language, []).append(variation)
    return by_language


def placeholders(text):
    return set(re.findall(r"{(\w+)}", text or ""))


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_reply_exists_in_every_language_with_the_same_placeholders_and_buttons(name):
    by_language = variations_by_language(DOMAIN["responses"][name])
    assert set(REPLY_LANGUAGES) <= set(by_language), f"{name} lacks {set(REPLY_LANGUAGES) - set(by_language)}"
    english = by_language["en"][0]
    for language in REPLY_LANGUAGES:
        for variation in by_language[language]:
            assert placeholders(variation["text"]) == placeholders(english["text"]), (name, language)
            payloads = [b["payload"] for b in variation.get("buttons", [])]
            assert payloads == [b["payload"] for b in english.get("buttons", [])], (name, language)


def test_english_is_the_last_resort_variation():
    for name, variations in DOMAIN["responses"].items():
        assert any(not v.get("condition") for v in variations), f"{name} has no unconditioned variation"


def test_replies_never_shout():
    for name, variations in DOMAIN["responses"].items():
        for variation in variations:
            words = re.findall(r"\b[A-Z]{4,}\b", re.sub(r"{\w+}", "", variation["text"]))
            assert not words, f"{name} uses capitals for emphasis: {words}"
