"""Every language Porter speaks has a complete catalog (languages/<code>.yml), and the domain's replies are the
catalogs' replies: a language missing a word would show the shopper English in the middle of a conversation."""

import re

import pytest
import yaml

from bot import catalogs, replies
from bot.catalogs import CatalogError, catalog
from bot.languages import english_name, native_list, native_name, supported_languages
from bot.web.desk_canned import canned_for, canned_replies

LANGUAGES = supported_languages()


def test_the_committed_replies_are_the_catalogs_replies():
    assert replies.REPLIES_FILE.read_text(encoding="utf-8") == replies.render(), (
        "domain/replies.yml is out of date: run `python -m bot replies`"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_has_every_part_of_a_catalog(language):
    english, own = catalog("en"), catalog(language)
    assert own.get("language") == language
    assert own["names"]["native"] and own["names"]["english"] and own["names"]["requested_as"]
    assert own["formats"]["locale"] and own["formats"]["date"] in ("short", "medium", "long", "full")
    assert set(own["replies"]) == set(english["replies"])
    assert set(own["tracking"]["statuses"]) == set(english["tracking"]["statuses"])
    assert set(own["tracking"]["substatuses"]) == set(english["tracking"]["substatuses"])
    assert own["tracking"]["no_scans"]
    assert len(own["anger"]) >= 20
    assert set(own["notices"]) == set(english["notices"])
    for notice, text in own["notices"].items():
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", english["notices"][notice]))
    assert own["widget"]["subtitle"] and own["widget"]["hint"]
    assert own["widget"]["waiting"] and own["widget"]["agent"] and "{position}" in own["widget"]["place"]
    assert own["widget"]["photo"] and own["widget"]["photo_sent"] and "{mb}" in own["widget"]["photo_too_big"]
    assert own["widget"]["photo_type"] and own["widget"]["photo_failed"]
    assert len(own["canned_replies"]) == len(english["canned_replies"])


def test_names_come_from_the_catalogs():
    assert native_name("es") == "Español" and english_name("zh") == "Chinese"
    assert english_name("ko") == "Korean"  # recognised, not spoken: named for the desk all the same
    assert native_list().split(", ") == [native_name(code) for code in LANGUAGES]


@pytest.fixture
def catalog_folder(tmp_path, monkeypatch):
    """A languages/ folder of our own: English and a Spanish catalog the test can break."""
    for code in ("en", "es"):
        (tmp_path / f"{code}.yml").write_text(catalogs.path_of(code).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(catalogs, "FOLDER", tmp_path)
    catalog.cache_clear()
    yield tmp_path
    catalog.cache_clear()


def test_a_language_missing_a_reply_is_refused_by_name(catalog_folder):
    spanish = yaml.safe_load((catalog_folder / "es.yml").read_text(encoding="utf-8"))
    del spanish["replies"]["utter_greet"]
    spanish["replies"]["utter_made_up"] = "hola"
    (catalog_folder / "es.yml").write_text(yaml.safe_dump(spanish, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError) as error:
        replies.responses(["en", "es"])
    assert "languages/es.yml lacks reply utter_greet" in str(error.value)
    assert "utter_made_up" in str(error.value)


def test_a_malformed_catalog_is_refused_at_once(catalog_folder):
    (catalog_folder / "es.yml").write_text("language: fr\nreplies: {}\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="es.yml"):
        catalog("es")


def test_the_generated_replies_give_each_language_its_own_variation():
    greet = replies.responses()["utter_greet"]
    assert greet[-1] == {"text": catalog("en")["replies"]["utter_greet"]}  # English last, unconditioned
    spanish = next(v for v in greet if v.get("condition", [{}])[0].get("value") == "es")
    assert spanish["text"] == catalog("es")["replies"]["utter_greet"]
    assert len(greet) == len(LANGUAGES)


def test_canned_replies_come_from_the_catalogs_unless_the_shop_has_its_own(tmp_path):
    chinese = canned_for(None, "zh", "Maria")
    assert chinese["language"] == "zh" and any("Maria" in reply["text"] for reply in chinese["replies"])
    assert canned_for(None, "ko", "Maria")["language"] == "en"  # a language without replies: English
    own = tmp_path / "canned.yml"
    own.write_text("en:\n  - title: Hello\n    text: Hello from {agent}\n", encoding="utf-8")
    assert canned_for(own, "en", "Maria")["replies"] == [{"title": "Hello", "text": "Hello from Maria"}]
    own.write_text("en:\n  - title: No text\n", encoding="utf-8")
    assert canned_replies(own) == {}  # a broken file is logged and offers nothing rather than half of it
