"""Dialogue that bends: inside the choice of a fix a paraphrase picks, a question is answered and the choice asked
again below it; an off-topic message in a form gets a short answer; an order already refunded or reshipped says
so before anything is offered, and is never offered the same money twice."""

import asyncio
import re

import pytest
from rasa_sdk.executor import CollectingDispatcher

from bot.domain_files import domain_dict
from actions.address import ValidateAddressForm
from actions.fixes import carry_out
from actions.resolution import ActionAskFix, ValidateResolutionForm, chosen_fix
from actions.resolve_order import ActionResolveOrder
from bot.decisions.cases import FAILED, UNKNOWN, CaseBook
from tests.conftest import make_tracker, offer_fixes

REFUND_RESHIP = ["refund", "reship"]
ITEM_PROBLEM = ["replace", "partial_refund", "refund"]
KEEP_OR_RETURN = ["partial_refund", "return", "none"]
NOTIFY = ["notify", "none"]

# What bot/nlu/choice_matcher.py puts on these messages (`fix_candidates`): measured with the multilingual
# sentence encoder against the domain's button titles, rounded.
MEASURED = {
    "a new one please": "replace .74 reship .59 person .37 discount .37 return .35 refund .32 none .32",
    "can you send a new one instead?": "replace .64 reship .57 return .36 cancel .28 refuse .24 refund .21 person .19",
    "just give me my money back": "refund .68 return .60 refuse .50 partial_refund .45 cancel .42 none .40 "
    "replace .35 reship .35 person .28",
    "schicken Sie es neu": "replace .75 reship .58 return .50 none .41 person .35 refund .33",
    "envoyez-m'en un nouveau": "replace .74 reship .55 return .47 none .39 refund .31 person .28",
    "补发": "reship .56 replace .56 partial_refund .35 return .34 refund .29 person .24 none .24",
    "верните деньги": "refund .89 partial_refund .63 return .62 none .40 cancel .38 replace .37 reship .30 person .28",
    "quero o reembolso": "refund .88 return .66 refuse .56 partial_refund .54 cancel .53 none .44 person .35 "
    "replace .32 reship .31",
    "prefiero el reembolso": "refund .75 partial_refund .52 return .51 refuse .50 none .38 person .32 reship .25 "
    "replace .24",
    "uno nuevo por favor": "replace .78 reship .54 return .50 discount .40 person .39 partial_refund .37 refund .37",
    "замените на новый": "replace .74 reship .53 none .41 return .36 person .32 refund .28 partial_refund .26",
    "quero um novo": "replace .65 return .45 reship .44 refund .40 none .40 person .38 partial_refund .19",
    "给我换个新的": "replace .69 reship .54 return .49 none .43 refund .43 person .39 partial_refund .27",
    "nah keep it, partial is fine": "none .54 cancel .35 refuse .34 partial_refund .34 person .32 return .32 "
    "refund .31 replace .11",
    "je le garde, remboursement partiel": "refund .61 partial_refund .55 none .50 return .48 person .27 replace .26",
    "ich behalte es, Teilerstattung passt": "none .47 refund .44 partial_refund .41 return .41 person .34 replace .23",
    "оставлю себе, частичный возврат": "partial_refund .61 none .59 return .58 refund .56 person .32 replace .24",
    "fico com ele, reembolso parcial": "refund .61 partial_refund .58 return .42 none .34 person .27 replace .19",
    "我留着，部分退款就行": "partial_refund .77 refund .72 return .61 none .40 person .33 replace .18",
    "me lo quedo con el reembolso parcial": "partial_refund .71 refund .61 return .44 none .30 replace .21 person .18",
    "renvoyez-le moi": "return .71 refuse .54 refund .52 none .48 replace .47 person .40 partial_refund .40 reship .37",
    "yes": "return .67 discount .64 person .64 notify .59 none .57 refund .55 replace .14 reship .13",
    "sure, go ahead": "discount .73 person .73 notify .72 refund .64 none .59 return .57 replace .19 reship .08",
    "no, I don't want a refund": "refund .81 return .66 none .63 person .43 replace .24 reship .24",
    "it still hasn't arrived": "none .54 return .29 reship .25 refund .24 notify .12 person .10",
    "where is my refund?": "refund .70 return .48 partial_refund .45 none .28 reship .18 person .17 replace .16",
    "what does partial refund mean?": "partial_refund .56 refund .51 return .30 none .16 replace .16 person .13",
}


def candidates(text):
    words = MEASURED[text].split()
    return [{"fix": fix, "score": float(score)} for fix, score in zip(words[::2], words[1::2])]


def message(text, intent="inform", measured=True, **tracker_args):
    tracker = make_tracker(text=text, intent=intent, **tracker_args)
    if measured and text in MEASURED:
        tracker.latest_message["fix_candidates"] = candidates(text)
    return tracker


def responses(messages):
    return [m["response"] for m in messages]


@pytest.mark.parametrize(
    "text, intent, offered, expected",
    [
        ("a new one please", "inform", REFUND_RESHIP, "reship"),
        ("can you send a new one instead?", "parcel_not_received", REFUND_RESHIP, "reship"),
        ("just give me my money back", "request_refund", REFUND_RESHIP, "refund"),
        ("schicken Sie es neu", "inform", REFUND_RESHIP, "reship"),
        ("envoyez-m'en un nouveau", "nlu_fallback", REFUND_RESHIP, "reship"),
        ("补发", "inform", REFUND_RESHIP, "reship"),
        ("верните деньги", "request_refund", REFUND_RESHIP, "refund"),
        ("quero o reembolso", "inform", REFUND_RESHIP, "refund"),
        ("prefiero el reembolso", "nlu_fallback", REFUND_RESHIP, "refund"),
        ("a new one please", "inform", ITEM_PROBLEM, "replace"),
        ("uno nuevo por favor", "inform", ITEM_PROBLEM, "replace"),
        ("замените на новый", "damaged_item", ITEM_PROBLEM, "replace"),
        ("quero um novo", "inform", ITEM_PROBLEM, "replace"),
        ("给我换个新的", "inform", ITEM_PROBLEM, "replace"),
        ("just give me my money back", "request_refund", ITEM_PROBLEM, "refund"),  # not the partial one
    ],
)
def test_a_paraphrase_of_an_option_picks_it_in_every_language(text, intent, offered, expected):
    assert chosen_fix(message(text, intent), offered) == expected


@pytest.mark.parametrize(
    "text",
    [
        "nah keep it, partial is fine",
        "je le garde, remboursement partiel",
        "ich behalte es, Teilerstattung passt",
        "оставлю себе, частичный возврат",
        "fico com ele, reembolso parcial",
        "我留着，部分退款就行",
        "me lo quedo con el reembolso parcial",
    ],
)
@pytest.mark.parametrize("offered", [ITEM_PROBLEM, KEEP_OR_RETURN])
def test_the_partial_refund_is_picked_by_its_name_where_the_encoder_blurs_it_with_the_full_one(text, offered):
    """The encoder puts the full refund (or "no, thanks") first for most of these; the word settles it."""
    assert chosen_fix(message(text, "inform"), offered) == "partial_refund"


@pytest.mark.parametrize(
    "text, intent, offered, expected",
    [
        ("renvoyez-le moi", "inform", REFUND_RESHIP, None),  # full refund 0.52, only 0.15 ahead: ask again
        ("yes", "affirm", REFUND_RESHIP, None),  # "Yes, refund me" is a title: still ambiguous
        ("sure, go ahead", "affirm", REFUND_RESHIP, None),
        ("sure, go ahead", "inform", REFUND_RESHIP, None),  # misread as inform: a person scores as high
        ("no, I don't want a refund", "deny", REFUND_RESHIP, "none"),  # the encoder misses the "no"
        ("it still hasn't arrived", "parcel_not_received", NOTIFY, None),  # reads like "No, thanks": never declines
        ("where is my refund?", "request_refund", REFUND_RESHIP, None),  # a question is not a pick
        ("what does partial refund mean?", "request_refund", ITEM_PROBLEM, None),
        ("a new one please", "inform", ["notify", "none"], None),  # not on offer
    ],
)
def test_an_unsure_or_wrong_reading_never_picks(text, intent, offered, expected):
    assert chosen_fix(message(text, intent), offered) == expected


def test_a_paraphrase_never_overrides_a_button_or_its_number():
    tracker = message("just give me my money back", "inform")
    tracker.latest_message.update(text="2")
    assert chosen_fix(tracker, REFUND_RESHIP) == "reship"
    tracker.latest_message.update(text='/inform{"fix":"reship"}', entities=[{"entity": "fix", "value": "reship"}])
    assert chosen_fix(tracker, REFUND_RESHIP) == "reship"


def test_without_scores_from_the_model_a_paraphrase_is_asked_again_as_before():
    assert chosen_fix(message("a new one please", "inform", measured=False), REFUND_RESHIP) is None
    assert chosen_fix(message("refund please", "request_refund", measured=False), REFUND_RESHIP) == "refund"


def in_the_choice(order, problem, text, intent, sender="shopper-1", **slots):
    """Porter offers the fixes for the order, the shopper writes `text`; what Porter says next, in order, and what
    was picked. When nothing is picked, Rasa's form asks again: action_ask_fix, the offer with its buttons."""
    events = offer_fixes({"verified_order": order, "problem": problem, **slots}, sender=sender)
    offered = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    state = {
        "verified_order": order,
        "problem": offered["problem"],
        "offered_fixes": offered["offered_fixes"],
        "offer": offered["offer"],
        "requested_slot": "fix",
        **slots,
    }
    tracker = message(text, intent, slots=state, sender=sender)
    dispatcher = CollectingDispatcher()
    picked = ValidateResolutionForm().validate_fix(text, dispatcher, tracker, {})["fix"]
    if picked is None:
        asyncio.run(ActionAskFix().run(dispatcher, tracker, {}))
    return picked, dispatcher.messages


def test_how_much_longer_is_answered_with_the_scans_then_the_choice_comes_again(actions_env):
    picked, said = in_the_choice("A10024", "parcel_not_received", "how much longer?", "where_is_my_order")
    assert picked is None
    assert responses(said) == ["utter_situation_stalled", "utter_ask_fix_refund_reship"]  # buttons below the answer
    assert "Los Angeles, US: in transit" in said[0]["scans"] and said[0]["days"] == 12
    assert CaseBook().list() == []


def test_where_is_my_refund_is_answered_and_never_taken_as_asking_for_one(actions_env):
    picked, said = in_the_choice("A10024", "parcel_not_received", "where is my refund?", "refund_status")
    assert picked is None and responses(said) == ["utter_refund_status_none", "utter_ask_fix_refund_reship"]
    picked, said = in_the_choice("A10024", "parcel_not_received", "where is my refund?", "request_refund")
    assert picked is None and responses(said)[-1] == "utter_ask_fix_refund_reship"
    assert CaseBook().list(type="refund") == []


def test_are_you_a_bot_and_an_off_topic_message_get_a_short_answer_and_the_choice_again(actions_env):
    _, said = in_the_choice("A10024", "parcel_not_received", "are you a bot?", "bot_challenge", language="es")
    assert responses(said) == ["utter_iamabot", "utter_ask_fix_refund_reship"]
    _, said = in_the_choice("A10024", "parcel_not_received", "what's the weather tomorrow", "out_of_scope")
    assert responses(said) == ["utter_only_orders", "utter_ask_fix_refund_reship"]
    _, said = in_the_choice("A10024", "parcel_not_received", "hmm", "inform")
    assert responses(said) == ["utter_invalid_fix", "utter_ask_fix_refund_reship"]


@pytest.mark.parametrize(
    "text, intent, language",
    [
        ("what does partial refund mean?", "request_refund", "en"),
        ("was bedeutet Teilerstattung?", "nlu_fallback", "de"),
        ("部分退款是什么意思？", "refund_status", "zh"),
        ("¿qué significa reembolso parcial?", "out_of_scope", "es"),
        ("что значит частичный возврат?", "nlu_fallback", "ru"),
        ("o que é reembolso parcial?", "request_refund", "pt"),
        ("qu'est-ce qu'un remboursement partiel ?", "inform", "fr"),
    ],
)
def test_what_an_option_means_is_explained_with_the_amounts_then_asked_again(actions_env, text, intent, language):
    picked, said = in_the_choice("A10025", "damaged_item", text, intent, photo="whatsapp:MEDIA1", language=language)
    assert picked is None
    assert responses(said) == ["utter_item_problem_options_return", "utter_ask_fix_item_problem"]
    assert said[0]["partial_percent"] == "30" and "8.40" in said[0]["partial_amount"].replace(",", ".")
    assert CaseBook().list() == []


def test_a_paraphrase_in_the_choice_is_carried_out_like_a_click(actions_env):
    picked, said = in_the_choice("A10024", "parcel_not_received", "a new one please", "inform")
    assert picked == "reship" and said == []


def test_no_reply_points_up_to_buttons_that_are_sent_again_below():
    domain = domain_dict()
    up = re.compile(r"\babove\b|上面|上方|\barriba\b|ci-dessus|\boben\b|\bвыше\b|\bacima\b|\bsopra\b", re.IGNORECASE)
    pointing_up = [
        name
        for name, variations in domain["responses"].items()
        for variation in variations
        if up.search(variation["text"])
    ]
    assert pointing_up == []
    below = {
        "en": "below",
        "zh": "下面",
        "es": "abajo",
        "fr": "ci-dessous",
        "de": "unten",
        "ru": "ниже",
        "pt": "abaixo",
        "it": "sotto",
    }
    for variation in domain["responses"]["utter_invalid_fix"]:
        language = next((c["value"] for c in variation.get("condition") or []), "en")
        assert below[language] in variation["text"]


def resolve(order, problem, sender, **slots):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(
        ActionResolveOrder().run(
            dispatcher, make_tracker(slots={"verified_order": order, "problem": problem, **slots}, sender=sender), {}
        )
    )
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def carry(order, problem, fix, sender, **slots):
    dispatcher = CollectingDispatcher()
    carry_out(
        fix, dispatcher, make_tracker(slots={"verified_order": order, "problem": problem, **slots}, sender=sender)
    )
    return dispatcher.messages


def test_a_refunded_order_says_so_first_and_is_never_offered_the_money_again(actions_env):
    offer_fixes({"verified_order": "A10024", "problem": "parcel_not_received"}, sender="first-visit")
    carry("A10024", "parcel_not_received", "refund", "first-visit")
    [refund] = CaseBook().list(type="refund")

    said, slots = resolve("A10024", "parcel_not_received", "second-visit")
    assert responses(said) == ["utter_situation_stalled", "utter_refund_status"]  # where it is, then the refund
    assert said[1]["case_reference"] == refund.reference and said[1]["amount"] == "$36.50"
    assert slots["offer"] == "utter_ask_fix_person_settled" and slots["offered_fixes"] == ["person", "none"]

    tracker = make_tracker(
        text='/inform{"fix":"refund"}',
        intent="inform",
        sender="second-visit",
        entities=[{"entity": "fix", "value": "refund"}],
    )
    assert chosen_fix(tracker, slots["offered_fixes"]) is None  # an old button: not on offer any more
    said = carry("A10024", "parcel_not_received", "refund", "second-visit")  # even forced: not granted
    assert "utter_refund_done" not in responses(said) and len(CaseBook().list(type="refund")) == 1

    said = carry("A10024", "parcel_not_received", "person", "second-visit", situation="stalled")
    assert CaseBook().list(type="handoff_request")[0].order_number == "A10024"


def test_a_reshipped_order_says_where_the_new_parcel_goes(actions_env):
    offer_fixes({"verified_order": "A10029", "problem": "parcel_not_received"}, sender="first-visit")
    carry("A10029", "parcel_not_received", "reship", "first-visit")
    [reshipment] = CaseBook().list(type="reshipment")
    said, slots = resolve("A10029", "where_is_my_order", "second-visit", language="fr")
    assert responses(said) == ["utter_situation_lost", "utter_already_reshipped"]
    assert said[1]["case_reference"] == reshipment.reference and said[1]["address"] == reshipment.details["address"]
    assert slots["offered_fixes"] == ["person", "none"]


@pytest.mark.parametrize(
    "status, response", [(FAILED, "utter_refund_payment_failed"), (UNKNOWN, "utter_refund_payment_checking")]
)
def test_a_refund_whose_money_has_not_gone_out_is_told_as_it_stands(actions_env, status, response):
    book = CaseBook()
    case, _ = book.open_case(
        type="refund",
        idempotency_key="A10024:parcel_not_received:refund",
        order_number="A10024",
        amount=36.5,
        currency="USD",
    )
    book.update(case.reference, status=status)
    said, slots = resolve("A10024", "parcel_not_received", "second-visit")
    assert responses(said) == ["utter_situation_stalled", response] and said[1]["case_reference"] == case.reference
    assert slots["offered_fixes"] == ["person", "none"]


def test_an_item_problem_on_a_refunded_order_does_not_ask_for_a_photo_first(actions_env):
    offer_fixes({"verified_order": "A10025", "problem": "damaged_item", "photo": "none"}, sender="first-visit")
    carry("A10025", "damaged_item", "refund", "first-visit", photo="none")  # 28 GBP: refunded once it is back
    said, slots = resolve("A10025", "damaged_item", "second-visit")
    assert responses(said) == ["utter_refund_waits_for_return"]
    assert slots["next_step"] == "choose_fix" and slots["detail_needed"] is None


def test_an_offer_that_moves_no_money_is_made_as_usual(actions_env):
    offer_fixes({"verified_order": "A10023", "problem": "change_address"}, sender="first-visit")
    carry("A10023", "change_address", "reship", "first-visit", new_address="Rua do Ouro 25, 1100-060 Lisboa")
    said, slots = resolve("A10023", "where_is_my_order", "second-visit")
    assert responses(said) == ["utter_situation_in_transit"] and slots["offer"] == "utter_ask_fix_notify"


@pytest.mark.parametrize(
    "text, intent, expected, kept",
    [
        ("what's the weather tomorrow", "out_of_scope", "utter_only_orders", None),
        ("hmm", "inform", "utter_invalid_new_address", None),
        ("Rua do Ouro 25, 1100-060 Lisboa", "out_of_scope", None, "Rua do Ouro 25, 1100-060 Lisboa"),  # misread
    ],
)
def test_the_address_form_answers_off_topic_briefly_and_still_takes_an_address(text, intent, expected, kept):
    dispatcher = CollectingDispatcher()
    result = ValidateAddressForm().validate_new_address(text, dispatcher, make_tracker(text=text, intent=intent), {})
    assert result == {"new_address": kept} and responses(dispatcher.messages) == ([expected] if expected else [])
