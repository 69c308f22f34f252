"""Strong anger in the wording, in every language Porter speaks, and what must not count as anger."""

import pytest
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.handoff.anger import COMMON, LEXICON, find_anger
from bot.languages import supported_languages
from bot.nlu.anger_gate import AngerGate
from bot.nlu.language_detector import DETECTED_LANGUAGE


@pytest.mark.parametrize(
    "text, language, words",
    [
        ("where is my fucking parcel??", "en", "fucking"),
        ("This is a SCAM, you took my money", "en", "SCAM"),
        ("I'm sick and tired of waiting", "en", "sick and tired"),
        ("refund me now or I'm filing a chargeback", "en", "chargeback"),
        ("wtf, still nothing", "en", "wtf"),
        ("where's my f*cking order", "en", "f*cking"),
        ("你们就是骗子，钱都收了还不发货", "zh", "骗子"),
        ("他妈的到底什么时候到", "zh", "他妈的"),
        ("你们这是什么垃圾服务", "zh", "垃圾服务"),
        ("再不退款我就打12315投诉", "zh", "12315"),
        ("气死我了，等了一个月", "zh", "气死我了"),
        ("Вы мошенники, где моя посылка?", "ru", "мошенники"),
        ("Это мошенничество, я подам в суд", "ru", "мошенничество"),
        ("Какого хрена посылки нет уже месяц", "ru", "Какого хрена"),
        ("Меня достали ваши отговорки", "ru", "Меня достали"),
        ("esto es una estafa, quiero mi dinero", "es", "estafa"),
        ("Estoy harto de esperar", "es", "Estoy harto"),
        ("c'est une arnaque, rendez-moi mon argent", "fr", "arnaque"),
        ("J'en ai marre, ça fait un mois", "fr", "en ai marre"),
        ("Das ist Betrug! Wo ist mein Paket?", "de", "Betrug"),
        ("So eine Scheiße, schon wieder nichts", "de", "Scheiße"),
        ("Ich habe die Schnauze voll", "de", "die Schnauze voll"),
        ("isso é golpe, cadê meu pedido", "pt", "é golpe"),
        ("vou reclamar no Procon", "pt", "Procon"),
        ("que palhaçada, nada chegou", "pt", "palhaçada"),
    ],
)
def test_strong_anger_is_found_in_each_language(text, language, words):
    anger = find_anger(text, language)
    assert anger is not None and anger.text == words
    assert text[anger.start : anger.end] == words


@pytest.mark.parametrize(
    "text, language",
    [
        # judgement calls: impatience, worry and disappointment are Porter's to answer, not a person's
        ("this is killing me, where is my parcel?", "en"),
        ("I'm really disappointed, it's been three weeks", "en"),
        ("this is unacceptable, where is my order", "en"),
        ("a thief took my parcel from the porch", "en"),  # theft of the parcel, not an accusation
        ("my email is scammer.hunter@example.com", "en"),  # an address is not an accusation
        ("包裹是不是在垃圾邮件里？", "zh"),  # the spam folder
        ("快递员把包裹放在垃圾桶旁边了", "zh"),  # next to the bin
        ("这是给他妈妈的生日礼物", "zh"),  # his mother's birthday present
        ("包装破了，里面的杯子也碎了", "zh"),  # broken packaging: an item problem
        ("订单号123156789", "zh"),  # digits are not the complaints hotline
        ("где моя посылка, блин", "ru"),  # mild
        ("хуже доставки не видел", "ru"),  # "worse", not a swear word
        ("курьеры достали посылку из машины", "ru"),  # "took the parcel out of the van"
        ("me da vergüenza preguntar otra vez", "es"),  # embarrassed, not angry
        ("estoy contento con mi pedido", "es"),
        ("die Anzeige zeigt zugestellt", "de"),  # the display, not a police report
        ("se não estou enganado, o pedido é A10023", "pt"),  # "if I'm not mistaken"
        ("a caixa levou um golpe no transporte", "pt"),  # a knock in transit: damage
        ("con mi pedido", "es"),
    ],
)
def test_ordinary_complaints_and_innocent_words_are_not_anger(text, language):
    assert find_anger(text, language) is None


def test_words_rude_in_one_language_are_only_read_in_it():
    assert find_anger("puta madre, no llega nada", "es") is not None
    assert find_anger("puta madre, no llega nada", "en") is None  # English lexicon only
    assert find_anger("merda", "nl") is not None  # unknown language: every lexicon
    assert find_anger("what the fuck", "de") is not None  # COMMON everywhere


def test_identifier_spans_are_not_read():
    text = "my order is WTF-1234"  # an order number with a prefix that reads like a word
    assert find_anger(text, "en").text == "WTF"
    assert find_anger(text, "en", ignore=[(12, 20)]) is None


def test_the_lexicon_covers_every_language_porter_speaks():
    assert set(LEXICON) == set(supported_languages()) and COMMON
    for language, entries in LEXICON.items():
        assert len(entries) >= 20, language


def message(text, language, entities=()):
    msg = Message(
        data={
            TEXT: text,
            INTENT: {"name": "where_is_my_order", "confidence": 0.9},
            INTENT_RANKING_KEY: [
                {"name": "where_is_my_order", "confidence": 0.9},
                {"name": "human_handoff", "confidence": 0.05},
            ],
            ENTITIES: list(entities),
        }
    )
    msg.set(DETECTED_LANGUAGE, language)
    return msg


def test_the_nlu_gate_turns_an_angry_message_into_a_request_for_a_person():
    [angry] = AngerGate().process([message("Вы мошенники, где моя посылка?", "ru")])
    assert angry.get(INTENT) == {"name": "human_handoff", "confidence": 1.0}
    assert [r["name"] for r in angry.get(INTENT_RANKING_KEY)] == ["human_handoff", "where_is_my_order"]
    [entity] = [e for e in angry.get(ENTITIES) if e["entity"] == "anger"]
    assert (entity["value"], entity["start"], entity["end"]) == ("мошенники", 3, 12)


def test_the_nlu_gate_leaves_calm_messages_and_identifiers_alone():
    [calm] = AngerGate().process([message("this is killing me, where is my parcel?", "en")])
    assert calm.get(INTENT)["name"] == "where_is_my_order" and not calm.get(ENTITIES)
    order = {"entity": "order_number", "value": "WTF-1234", "start": 9, "end": 17}
    [with_number] = AngerGate().process([message("order is WTF-1234, ok", "en", [order])])
    assert with_number.get(INTENT)["name"] == "where_is_my_order"


def test_the_gate_runs_last_in_the_pipeline_and_the_entity_is_in_the_domain():
    from tests.test_responses import CONFIG, DOMAIN

    assert CONFIG["pipeline"][-1]["name"] == "bot.nlu.anger_gate.AngerGate"
    assert "anger" in DOMAIN["entities"]
