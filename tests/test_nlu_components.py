"""The custom NLU components, run directly on messages (no trained model needed)."""
import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.identifier_extractor import IdentifierExtractor
from bot.nlu.language_detector import LanguageDetector
from bot.nlu.language_id import LanguageIdentifier
from bot.nlu.multilingual_tokenizer import MultilingualTokenizer
from bot.paths import PROJECT_ROOT

LANGUAGES = ["en", "zh", "es", "fr", "de", "ru", "pt"]


@pytest.fixture(scope="module")
def detector():
    return LanguageDetector({**LanguageDetector.get_default_config(), "supported_languages": LANGUAGES})


def parse(detector, text):
    message = Message({"text": text})
    detector.process([message])
    MultilingualTokenizer(MultilingualTokenizer.get_default_config()).process([message])
    IdentifierExtractor(IdentifierExtractor.get_default_config()).process([message])
    return message


def entities(message):
    return {e["entity"]: e["value"] for e in message.get("entities", [])}


@pytest.mark.parametrize("text, language", [
    ("my parcel never came", "en"),
    ("我的包裹一直没到", "zh"),
    ("¿dónde está mi pedido?", "es"),
    ("mon colis n'est jamais arrivé", "fr"),
    ("wo bleibt mein Paket", "de"),
    ("где моя посылка", "ru"),
    ("cadê minha encomenda", "pt"),
])
def test_a_confident_language_is_exposed_as_an_entity(detector, text, language):
    assert entities(parse(detector, text))["language"] == language


@pytest.mark.parametrize("text", ["ok", "A10023", "ana.souza@example.com", "👍", "yes", "hola"])
def test_short_replies_and_identifiers_never_carry_a_language(detector, text):
    assert "language" not in entities(parse(detector, text))


def test_scripts_settle_the_language_even_for_unsupported_ones():
    identifier = LanguageIdentifier(["en", "zh"])
    assert identifier.detect("荷物はどこですか").language == "ja"
    assert identifier.detect("посылка").language == "ru"
    assert identifier.detect("A10023").language is None


def test_chinese_is_segmented_into_words_and_keeps_identifiers_whole(detector):
    message = parse(detector, "订单号123456789还没到，邮箱是wang.fang@example.com")
    tokens = [t.text for t in message.get("text_tokens")]
    assert "123456789" in tokens and "wang.fang@example.com" in tokens
    assert "订单号" in tokens or "订单" in tokens
    assert "".join(tokens) == "订单号123456789还没到，邮箱是wang.fang@example.com"
    assert entities(message)["order_number"] == "123456789"
    assert entities(message)["email"] == "wang.fang@example.com"


def test_token_offsets_point_into_the_original_text(detector):
    text = "hi, my order A10023 and l'adresse rue 5"
    for token in parse(detector, text).get("text_tokens"):
        assert text[token.start:token.end] == token.text


def test_french_elisions_are_split(detector):
    tokens = [t.text for t in parse(detector, "je veux changer l'adresse de livraison").get("text_tokens")]
    assert "l'" in tokens and "adresse" in tokens


def test_entities_inside_sentences_in_several_languages(detector):
    assert entities(parse(detector, "mi pedido PO-88812 no llegó"))["order_number"] == "PO-88812"
    assert entities(parse(detector, "посылка RR123456789CN застряла"))["tracking_number"] == "RR123456789CN"
    assert entities(parse(detector, "运单号LP00123456789012查不到"))["tracking_number"] == "LP00123456789012"


def test_an_invalid_order_number_pattern_is_rejected_at_start():
    from rasa.shared.exceptions import InvalidConfigException

    with pytest.raises(InvalidConfigException, match="order_number_pattern"):
        IdentifierExtractor({"order_number_pattern": "(unclosed"})


@pytest.mark.parametrize("text, language", [
    ("can you speak Spanish?", "es"),
    ("en français svp", "fr"),
    ("能说中文吗", "zh"),
    ("sprechen Sie Deutsch?", "de"),
    ("можно по-русски?", "ru"),
    ("fala português?", "pt"),
    ("in English please", "en"),
])
def test_asking_for_a_language_switches_to_it(detector, text, language):
    [entity] = [e for e in parse(detector, text).get("entities") if e["entity"] == "language"]
    assert (entity["value"], entity["role"]) == (language, "requested")


def test_the_role_says_how_the_language_is_known(detector):
    roles = {text: next(e.get("role") for e in parse(detector, text).get("entities") if e["entity"] == "language")
             for text in ("我的包裹一直没到", "где моя посылка", "my parcel never came")}
    assert roles == {"我的包裹一直没到": "script", "где моя посылка": "script", "my parcel never came": None}


@pytest.mark.parametrize("text, language", [
    ("dove si trova il mio pacco per favore", "it"),
    ("ik heb mijn bestelling nog niet ontvangen", "nl"),
    ("nie otrzymałem jeszcze zamówienia", "pl"),
    ("荷物がまだ届いていません", "ja"),
])
def test_unsupported_languages_become_not_understood(detector, text, language):
    from bot.nlu.unsupported_language_gate import UnsupportedLanguageGate

    message = parse(detector, text)
    message.set("intent", {"name": "where_is_my_order", "confidence": 0.9})
    UnsupportedLanguageGate().process([message])
    assert entities(message)["language"] == language
    assert message.get("intent")["name"] == "nlu_fallback"


def test_supported_languages_pass_the_gate(detector):
    from bot.nlu.unsupported_language_gate import UnsupportedLanguageGate

    message = parse(detector, "wo ist mein Paket")
    message.set("intent", {"name": "where_is_my_order", "confidence": 0.9})
    UnsupportedLanguageGate().process([message])
    assert message.get("intent")["name"] == "where_is_my_order"


def test_the_chat_lexicon_is_learned_and_kept_in_the_model(tmp_path):
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.training_data import TrainingData

    storage = LocalModelStorage(tmp_path)
    resource = Resource("language_detector")
    config = {**LanguageDetector.get_default_config(), "supported_languages": LANGUAGES,
              "lexicon_data": str(PROJECT_ROOT / "data" / "nlu")}
    trained = LanguageDetector.create(config, storage, resource, None)
    trained.train(TrainingData())
    loaded = LanguageDetector.load(config, storage, resource, None)
    for word, language in (("merci", "fr"), ("valeu", "pt"), ("hallo", "de"), ("gracias", "es")):
        assert loaded.identifier.detect(word).language == language


def test_one_word_is_enough_when_the_script_settles_the_language(detector):
    assert entities(parse(detector, "здравствуйте"))["language"] == "ru"
    assert entities(parse(detector, "好"))["language"] == "zh"
