"""The custom NLU components, run directly on messages (no trained model needed)."""

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.languages import supported_languages
from bot.nlu.identifier_extractor import IdentifierExtractor
from bot.nlu.language_detector import LanguageDetector
from bot.nlu.language_id import LanguageIdentifier
from bot.nlu.multilingual_tokenizer import MultilingualTokenizer
from bot.paths import PROJECT_ROOT

LANGUAGES = supported_languages()


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


@pytest.mark.parametrize(
    "text, language",
    [
        ("my parcel never came", "en"),
        ("我的包裹一直没到", "zh"),
        ("¿dónde está mi pedido?", "es"),
        ("mon colis n'est jamais arrivé", "fr"),
        ("wo bleibt mein Paket", "de"),
        ("где моя посылка", "ru"),
        ("cadê minha encomenda", "pt"),
        ("il mio pacco non è mai arrivato", "it"),
    ],
)
def test_a_confident_language_is_exposed_as_an_entity(detector, text, language):
    assert entities(parse(detector, text))["language"] == language


@pytest.mark.parametrize("text", ["ok", "A10023", "ana.souza@example.com", "👍", "no", "si"])
def test_short_replies_and_identifiers_never_carry_a_language(detector, text):
    assert "language" not in entities(parse(detector, text))


def test_scripts_settle_the_language_even_for_unsupported_ones():
    identifier = LanguageIdentifier(["en", "zh"])
    assert identifier.detect("荷物はどこですか").language == "ja"
    assert identifier.detect("посылка").language == "ru"
    assert identifier.detect("A10023").language is None


def test_chinese_is_segmented_into_words_and_identifiers_become_one_placeholder_each(detector):
    text = "订单号123456789还没到，邮箱是wang.fang@example.com"
    message = parse(detector, text)
    tokens = message.get("text_tokens")
    words = [t.text for t in tokens]
    assert "__order_number__" in words and "__email__" in words  # the kind, never the value
    assert "123456789" not in words and "wang.fang@example.com" not in words
    assert "订单号" in words or "订单" in words
    placeholder = next(t for t in tokens if t.text == "__email__")
    assert text[placeholder.start : placeholder.end] == "wang.fang@example.com"
    assert entities(message)["order_number"] == "123456789"
    assert entities(message)["email"] == "wang.fang@example.com"


def test_token_offsets_point_into_the_original_text(detector):
    text = "hi, my order A10023 and l'adresse rue 5"
    for token in parse(detector, text).get("text_tokens"):
        assert token.text.startswith("__") or text[token.start : token.end] == token.text


def test_the_sentence_vector_sees_the_kind_of_identifier_not_its_value():
    from bot.nlu.sentence_encoder import with_placeholders

    assert with_placeholders("where is A10024, mail ana@x.com") == "where is ORDER, mail EMAIL"


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


@pytest.mark.parametrize(
    "text, language",
    [
        ("can you speak Spanish?", "es"),
        ("en français svp", "fr"),
        ("能说中文吗", "zh"),
        ("sprechen Sie Deutsch?", "de"),
        ("можно по-русски?", "ru"),
        ("fala português?", "pt"),
        ("in English please", "en"),
        ("parli italiano?", "it"),
        ("puoi scrivermi in inglese?", "en"),  # Italian's word for English, from the Italian catalog
    ],
)
def test_asking_for_a_language_switches_to_it(detector, text, language):
    [entity] = [e for e in parse(detector, text).get("entities") if e["entity"] == "language"]
    assert (entity["value"], entity["role"]) == (language, "requested")


def test_the_role_says_how_the_language_is_known(detector):
    roles = {
        text: next(e.get("role") for e in parse(detector, text).get("entities") if e["entity"] == "language")
        for text in ("我的包裹一直没到", "где моя посылка", "my parcel never came")
    }
    assert roles == {"我的包裹一直没到": "script", "где моя посылка": "script", "my parcel never came": None}


@pytest.mark.parametrize(
    "text, language",
    [
        ("jag har fortfarande inte fått mitt paket", "sv"),
        ("ik heb mijn bestelling nog niet ontvangen", "nl"),
        ("nie otrzymałem jeszcze zamówienia", "pl"),
        ("荷物がまだ届いていません", "ja"),
    ],
)
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
    config = {
        **LanguageDetector.get_default_config(),
        "supported_languages": LANGUAGES,
        "lexicon_data": str(PROJECT_ROOT / "data" / "nlu"),
    }
    trained = LanguageDetector.create(config, storage, resource, None)
    trained.train(TrainingData())
    loaded = LanguageDetector.load(config, storage, resource, None)
    for word, language in (("merci", "fr"), ("valeu", "pt"), ("hallo", "de"), ("gracias", "es")):
        assert loaded.identifier.detect(word).language == language
    # a shopper's one-word first message is their language; "ok", "no", "si" say nothing about it
    for word, language in (("hola", "es"), ("bonjour", "fr"), ("olá", "pt"), ("obrigado", "pt"), ("grazie", "it")):
        message = Message({"text": word})
        loaded.process([message])
        assert entities(message)["language"] == language
    for word in ("ok", "no", "si", "taxi"):
        message = Message({"text": word})
        loaded.process([message])
        assert "language" not in entities(message)


def test_a_word_typed_without_its_accents_is_still_known_to_the_lexicon():
    # lingua alone reads "perdon" as Italian; Spanish shoppers type "perdón" and often leave the accent out
    assert LanguageIdentifier(["es", "it"]).detect("perdon").language == "it"
    lexicon = {"es": {"perdón": 6, "pedido": 40}, "it": {"scusa": 6, "ordine": 40}}
    assert LanguageIdentifier(["es", "it"], lexicon=lexicon).detect("perdon").language == "es"


def test_a_word_another_language_s_shoppers_typed_once_is_not_shared():
    # "goodbye" written once by a Russian shopper does not stop it from switching an English chat
    def identifier(russian_goodbyes):
        lexicon = {"en": {"goodbye": 5, "parcel": 995}, "ru": {"goodbye": russian_goodbyes, "посылка": 995}}
        return LanguageIdentifier(["en", "ru"], lexicon=lexicon)

    assert not identifier(1).word_shared("goodbye", 0.1)
    assert identifier(2).word_shared("goodbye", 0.1)


def test_one_word_is_enough_when_the_script_settles_the_language(detector):
    assert entities(parse(detector, "здравствуйте"))["language"] == "ru"
    assert entities(parse(detector, "好"))["language"] == "zh"


def _storage(tmp_path, name):
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    return LocalModelStorage(tmp_path), Resource(name)


def test_the_intent_classifier_learns_meaning_across_languages_and_ignores_identifier_values(tmp_path):
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.intent_classifier import SentenceIntentClassifier

    examples = [
        ("where is my parcel", "where_is_my_order"),
        ("when will my order arrive", "where_is_my_order"),
        ("track my package please", "where_is_my_order"),
        ("has it shipped yet", "where_is_my_order"),
        ("I want my money back", "request_refund"),
        ("refund me please", "request_refund"),
        ("please give me a refund", "request_refund"),
        ("I would like a refund", "request_refund"),
        ("A10023", "inform"),
        ("my email is ana@example.com", "inform"),
        ("it's 55120934", "inform"),
        ("order number B7781234", "inform"),
    ]
    data = TrainingData([Message({"text": t, "intent": i}) for t, i in examples])
    storage, resource = _storage(tmp_path, "intents")
    config = {**SentenceIntentClassifier.get_default_config(), "min_df": 1}
    trained = SentenceIntentClassifier.create(config, storage, resource, None)
    trained.train(data)
    loaded = SentenceIntentClassifier.load(config, storage, resource, None)
    texts = ("¿dónde está mi paquete?", "devuélvanme el dinero", "where is my parcel A10024", "X55512345", "QQ7771234")
    messages = [Message({"text": t}) for t in texts]
    loaded.process(messages)
    # loaded, its weights are laid out for speed: the rankings are exactly those of the classifier as trained
    as_trained = trained.process([Message({"text": t}) for t in texts])
    assert [m.get("intent_ranking") for m in messages] == [m.get("intent_ranking") for m in as_trained]
    assert [m.get("intent")["name"] for m in messages] == [
        "where_is_my_order",
        "request_refund",
        "where_is_my_order",
        "inform",
        "inform",
    ]
    # two different order numbers are the same thing to the classifier
    for one, other in zip(messages[3].get("intent_ranking"), messages[4].get("intent_ranking")):
        assert one["name"] == other["name"] and one["confidence"] == pytest.approx(other["confidence"])
    assert all(len(m.get("intent_ranking")) == 3 for m in messages)


def test_a_paraphrase_of_a_button_scores_its_fix_highest(tmp_path):
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.choice_matcher import ChoiceMatcher

    storage, resource = _storage(tmp_path, "choices")
    config = {"domain": str(PROJECT_ROOT / "domain")}
    ChoiceMatcher.create(config, storage, resource, None).train(TrainingData())
    loaded = ChoiceMatcher.load(config, storage, resource, None)
    message = Message({"text": "talk to a person please"})
    loaded.process([message])
    candidates = message.get("fix_candidates")
    assert candidates[0]["fix"] == "person" and candidates[0]["score"] > candidates[1]["score"]


def test_shoppers_writing_a_language_porter_does_not_speak_are_told_which_it_speaks():
    """tests/langid/unsupported.txt (every watched language Porter does not speak) is called unsupported,
    tests/langid's supported messages never are: a shopper is neither answered in a wrong language nor refused
    in their own."""
    from bot.nlu.language_id import WATCHED_UNSUPPORTED, build_lexicon

    identifier = LanguageIdentifier(LANGUAGES, lexicon=build_lexicon(PROJECT_ROOT / "data" / "nlu", LANGUAGES))
    folder = PROJECT_ROOT / "tests" / "langid"
    watched = [
        line.split("\t", 1)
        for line in (folder / "unsupported.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    told = [code for code, text in watched if identifier.detect(text).supported is False]
    assert {code for code, _ in watched} == set(WATCHED_UNSUPPORTED) - set(LANGUAGES)
    assert len(told) >= 0.9 * len(watched) and len(set(told)) == len(set(WATCHED_UNSUPPORTED) - set(LANGUAGES))
    supported = [
        line
        for language in LANGUAGES
        for line in (folder / f"{language}.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and line != "---"
    ]
    assert [text for text in supported if identifier.detect(text).supported is False] == []


def test_every_training_example_reaches_rasa():
    """Rasa skips, with only a warning, any line of an examples block that is not "- example" (a blank line
    included): such a line is a sign of a broken block."""
    import yaml

    for path in sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            lines = (block.get("examples") or "").splitlines()
            skipped = [line for line in lines if not line.lstrip().startswith("- ")]
            assert skipped == [], f"{path.name}, {block.get('intent') or block.get('lookup')}: {skipped[:3]}"
