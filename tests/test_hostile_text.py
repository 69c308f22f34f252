"""What a hostile message cannot do before it reaches Rasa: stall the identifier patterns, smuggle control
characters or broken Unicode, or carry metadata of the wrong shape (bot/identifiers.py, bot/channels/inbound.py).

The timeouts are hang guards, not speed goals: the patterns as they were took 13 s on 40 KB and minutes on a
megabyte; bounded, a megabyte takes a fraction of a second (`make fuzz` prints the real figures).
"""

import pytest

from bot.channels import inbound
from bot.identifiers import find_identifiers

MEGABYTE_SHAPES = {
    "letters": "a" * 1_000_000,
    "local parts without a domain": ("a" * 70 + "@") * 14_000,
    "one endless domain": "a@" + "b." * 500_000,
    "digits": "1" * 1_000_000,
    "spaced digits": "1 " * 500_000,
    "plus signs and digits": "+1 " * 330_000,
    "tracking-like": "AB" + "1" * 1_000_000,
    "brackets": "(0" * 500_000,
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("shape", MEGABYTE_SHAPES)
def test_a_megabyte_of_any_shape_is_searched_in_one_pass(shape):
    found = find_identifiers(MEGABYTE_SHAPES[shape])
    assert isinstance(found, list)


def test_real_identifiers_are_still_found_next_to_hostile_text():
    text = "x" * 50_000 + " order A10024, mail ana.souza@example.com " + "@" * 50_000
    kinds = {(f.entity, f.value) for f in find_identifiers(text)}
    assert ("order_number", "A10024") in kinds and ("email", "ana.souza@example.com") in kinds


def test_control_characters_and_broken_unicode_are_removed_on_entry():
    assert inbound.clean_text("where\x00 is\x1b[31m my\ud800 parcel\r\n?\u200b") == "where is[31m my parcel\n?\u200b"
    assert inbound.clean_text(None) == "" and inbound.clean_text(["a"]) == ""
    assert inbound.clean_text("cafe\u0301") == "café"  # one form of every accented letter (NFC)


def test_a_message_over_the_limit_is_answered_in_the_shoppers_language(monkeypatch):
    monkeypatch.setenv("PORTER_MAX_MESSAGE_CHARS", "100")
    assert not inbound.too_long("x" * 100) and inbound.too_long("x" * 101)
    assert "100" in inbound.too_long_notice("es", 5000) and "mensaje" in inbound.too_long_notice("es", 5000)
    assert inbound.guess_language("x" * 200, known=None, hint="pt-BR") == "pt"
    assert inbound.guess_language("我的包裹" * 100) == "zh" and inbound.guess_language("посылка " * 100) == "ru"
    assert inbound.guess_language("??? " * 100, known="de") == "de"


@pytest.mark.parametrize("metadata", ["locale=fr", ["fr"], 42, {"x": "y" * 10_000}])
def test_metadata_that_is_not_a_small_object_is_refused(metadata):
    with pytest.raises(inbound.BadMetadata):
        inbound.checked_metadata(metadata)


def test_small_object_metadata_passes():
    assert inbound.checked_metadata(None) == {}
    assert inbound.checked_metadata({"locale": "fr-FR"}) == {"locale": "fr-FR"}
