"""After verification: the situation with evidence, the policy's offer, and the fix carried out once."""

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.address import ActionApplyAddressChange, ValidateAddressForm, looks_like_address
from actions.fallback import ActionHandleFallback
from actions.handoff import ActionRequestHandoff
from actions.resolution import ActionCarryOutFix, ValidateResolutionForm, chosen_fix
from actions.resolve_order import ActionResolveOrder
from actions.session import ActionSessionStart
from bot.decisions.cases import CaseBook
from tests.conftest import make_tracker, offer_fixes


def run(action, **tracker_args):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, make_tracker(**tracker_args), {}))
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return dispatcher.messages, slots, events


@pytest.mark.parametrize(
    "order, problem, response, next_step, offer",
    [
        ("A10023", "where_is_my_order", "utter_situation_in_transit", "choose_fix", "utter_ask_fix_notify"),
        ("A10024", "parcel_not_received", "utter_situation_stalled", "choose_fix", "utter_ask_fix_refund_reship"),
        (
            "#1001",
            "parcel_not_received",
            "utter_situation_untracked_overdue",
            "choose_fix",
            "utter_ask_fix_refund_reship",
        ),
        (
            "PO-88812",
            "parcel_not_received",
            "utter_situation_delivered_claim",
            "choose_fix",
            "utter_ask_fix_refund_reship",
        ),
        ("A10025", "parcel_not_received", "utter_situation_delivered_wait", "done", None),
        ("123456789", "delivery_failed", "utter_situation_failed_attempt", "done", None),
        ("A10026", "where_is_my_order", "utter_situation_pickup", "done", None),
        ("A10027", "delivery_failed", "utter_situation_address_problem", "collect_address", None),
        ("A10028", "where_is_my_order", "utter_situation_customs_duties", "choose_fix", "utter_ask_fix_person_customs"),
        ("A10029", "parcel_not_received", "utter_situation_lost", "choose_fix", "utter_ask_fix_refund_reship"),
        ("A10030", "where_is_my_order", "utter_situation_not_shipped", "done", None),
        ("A10032", "parcel_not_received", "utter_situation_stalled", "choose_fix", "utter_ask_fix_person_above_limit"),
        ("A10030", "change_address", "utter_address_change_before_shipping", "collect_address", None),
        ("A10023", "change_address", "utter_address_change_reship", "collect_address", None),
        ("A10031", "change_address", "utter_address_change_too_late", "choose_fix", "utter_ask_fix_discount"),
    ],
)
def test_each_situation_is_explained_and_offered(actions_env, order, problem, response, next_step, offer):
    messages, slots, _ = run(ActionResolveOrder(), slots={"verified_order": order, "problem": problem})
    assert messages[0]["response"] == response
    assert slots["next_step"] == next_step
    assert slots.get("offer") == offer


def test_evidence_shows_scans_with_date_and_place_in_the_shoppers_language(actions_env):
    messages, _, _ = run(ActionResolveOrder(), slots={"verified_order": "A10024", "problem": "parcel_not_received"})
    assert "Los Angeles, US: in transit" in messages[0]["scans"] and messages[0]["days"] == 12
    messages, _, _ = run(
        ActionResolveOrder(), slots={"verified_order": "A10024", "problem": "parcel_not_received", "language": "zh"}
    )
    assert "Los Angeles, US：运输中" in messages[0]["scans"] and "年" in messages[0]["promised_by"]


def test_unverified_shoppers_are_handed_over_with_a_case(actions_env):
    messages, slots, _ = run(ActionResolveOrder(), slots={"verified_order": None, "problem": "where_is_my_order"})
    assert messages[0]["response"] == "utter_verification_handoff"
    [case] = CaseBook().list(type="handoff_request")
    assert case.details["reason"] == "verification_failed" and slots["case_reference"] == case.reference


def test_a_refund_is_recorded_once_with_a_carrier_claim(actions_env):
    slots = {"verified_order": "A10024", "problem": "parcel_not_received", "situation": "stalled", "fix": "refund"}
    for conversation in ("conv-42", "conv-43", "shopper-1"):
        offer_fixes(slots, sender=conversation)
    messages, result, _ = run(ActionCarryOutFix(), slots=slots, sender="conv-42")
    said = [m["response"] for m in messages]
    assert said == ["utter_refund_done", "utter_claim_opened", "utter_anything_else"]
    assert messages[0]["amount"] == "$36.50"
    [refund] = CaseBook().list(type="refund")
    assert (refund.order_number, refund.amount, refund.currency, refund.conversation_id) == (
        "A10024",
        36.5,
        "USD",
        "conv-42",
    )
    assert result["case_reference"] == refund.reference
    [claim] = CaseBook().list(type="carrier_claim")
    assert claim.details["carrier"] == "YunExpress" and claim.details["remedy_case"] == refund.reference

    messages, _, _ = run(ActionCarryOutFix(), slots=slots, sender="conv-43")  # the same choice again
    assert [m["response"] for m in messages] == ["utter_already_done", "utter_anything_else"]
    assert len(CaseBook().list(type="refund")) == 1 and len(CaseBook().list(type="carrier_claim")) == 1

    messages, _, _ = run(ActionCarryOutFix(), slots=dict(slots, fix="reship"))  # money never goes out twice
    assert messages[0]["response"] == "utter_already_done" and CaseBook().list(type="reshipment") == []


def test_declining_records_nothing(actions_env):
    messages, _, _ = run(
        ActionCarryOutFix(), slots={"verified_order": "A10023", "situation": "in_transit", "fix": "none"}
    )
    assert messages[0]["response"] == "utter_no_fix_chosen" and CaseBook().list() == []


@pytest.mark.parametrize(
    "text, intent, entities, offered, expected",
    [
        ('/inform{"fix":"reship"}', "inform", [{"entity": "fix", "value": "reship"}], ["refund", "reship"], "reship"),
        ("refund please", "request_refund", [], ["refund", "reship"], "refund"),
        ("2", "inform", [], ["refund", "reship"], "reship"),
        ("yes", "affirm", [], ["notify", "none"], "notify"),
        ("no thanks", "deny", [], ["refund", "reship"], "none"),
        ("I want to talk to a human", "human_handoff", [], ["refund", "reship"], "person"),  # always possible
        ("yes", "affirm", [], ["refund", "reship"], None),  # ambiguous: ask again
        ('/inform{"fix":"refund"}', "inform", [{"entity": "fix", "value": "refund"}], ["notify", "none"], None),
    ],
)
def test_the_shoppers_pick_is_understood_typed_or_clicked(text, intent, entities, offered, expected):
    assert chosen_fix(make_tracker(text=text, intent=intent, entities=entities), offered) == expected


def test_an_unclear_pick_is_asked_again(actions_env):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={"offered_fixes": ["refund", "reship"], "requested_slot": "fix"}, text="hmm", intent="inform"
    )
    assert ValidateResolutionForm().validate_fix("hmm", dispatcher, tracker, {}) == {"fix": None}
    assert dispatcher.messages[0]["response"] == "utter_invalid_fix"


def test_address_change_before_shipping_updates_the_order(actions_env):
    new = "Chen Jie, Flat 3A, 12 Des Voeux Road, Central, Hong Kong"
    offer_fixes({"verified_order": "A10030", "problem": "change_address"})
    messages, slots, _ = run(
        ActionApplyAddressChange(),
        slots={"verified_order": "A10030", "situation": "not_shipped", "new_address": new, "problem": "change_address"},
    )
    assert messages[0]["response"] == "utter_address_updated" and messages[0]["new_address"] == new
    assert actions_env.get("A10030").shipping_address.line1 == new
    [case] = CaseBook().list(type="address_change")
    assert case.details["new_address"] == new and "88 Nathan Road" in case.details["old_address"]


def test_address_change_after_shipping_reships_to_the_new_address(actions_env):
    new = "Ana Souza, Rua do Ouro 25, 1100-060 Lisboa"
    offer_fixes({"verified_order": "A10023", "problem": "change_address"})
    messages, _, _ = run(
        ActionApplyAddressChange(),
        slots={"verified_order": "A10023", "situation": "in_transit", "new_address": new, "problem": "change_address"},
    )
    assert messages[0]["response"] == "utter_reship_done" and messages[0]["address"] == new
    assert actions_env.get("A10023").shipping_address.line1 == "Rua Augusta 10"  # the parcel on its way is unchanged
    [case] = CaseBook().list(type="reshipment")
    assert case.details["address"] == new


def test_addresses_are_checked_and_read_back():
    assert looks_like_address("Rua do Ouro 25, 1100-060 Lisboa")
    assert looks_like_address("香港九龙弥敦道99号15楼")
    assert not looks_like_address("Lisboa")
    dispatcher = CollectingDispatcher()
    form = ValidateAddressForm()
    assert form.validate_new_address("home", dispatcher, make_tracker(), {}) == {"new_address": None}
    assert dispatcher.messages[0]["response"] == "utter_invalid_new_address"
    assert form.validate_address_confirmed(False, dispatcher, make_tracker(), {}) == {
        "address_confirmed": None,
        "new_address": None,
    }


def test_a_form_that_is_just_starting_does_not_complain_about_an_address_not_yet_given():
    dispatcher = CollectingDispatcher()
    assert ValidateAddressForm().validate_new_address(None, dispatcher, make_tracker(), {}) == {}
    assert dispatcher.messages == []


def test_two_misunderstandings_in_a_row_hand_over_to_a_person(actions_env):
    fallback = {"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    understood = {"event": "user", "parse_data": {"intent": {"name": "greet"}}}
    messages, _, events = run(ActionHandleFallback(), events=[understood, fallback])
    assert [m["response"] for m in messages] == ["utter_rephrase"] and not events
    messages, slots, events = run(
        ActionHandleFallback(), events=[fallback, {"event": "bot"}, fallback], sender="lost-in-translation"
    )
    assert messages[0]["response"] == "utter_misunderstood_handoff"
    assert any(e["event"] == "pause" for e in events)
    [case] = CaseBook().list(type="handoff_request")
    assert case.details["reason"] == "not_understood" and slots["case_reference"] == case.reference


def test_handoff_request_is_recorded_once_per_conversation(actions_env):
    for _ in range(2):
        messages, _, events = run(
            ActionRequestHandoff(),
            slots={"language": "zh", "verified_order": "A10024"},
            sender="conv-7",
            intent="human_handoff",
        )
    [case] = CaseBook().list(type="handoff_request")
    assert case.conversation_id == "conv-7" and case.details["language"] == "zh" and case.order_number == "A10024"
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)  # leaves any form


def test_a_new_session_keeps_the_language_but_never_the_verification():
    _, slots, _ = run(
        ActionSessionStart(),
        slots={
            "language": "zh",
            "verified_order": "A10024",
            "order_number": "A10024",
            "email": "james.miller@example.com",
        },
    )
    assert slots == {"language": "zh"}
    _, slots, _ = run(ActionSessionStart(), slots={"language": None, "session_started_metadata": {"locale": "zh-CN"}})
    assert slots == {"language": "zh"}


def test_a_new_session_ignores_metadata_that_is_not_an_object():
    _, slots, _ = run(
        ActionSessionStart(),
        slots={"language": None, "session_started_metadata": "locale=zh"},
        events=[{"event": "user", "text": "hi", "metadata": ["zh"]}],
    )
    assert slots == {}


def test_an_unsupported_language_gets_the_list_of_languages():
    messages, _, _ = run(
        ActionHandleFallback(),
        entities=[{"entity": "language", "value": "nl"}],
        intent="nlu_fallback",
        slots={"language": "nl"},
    )
    assert messages[0]["response"] == "utter_unsupported_language"
    assert messages[0]["languages"] == "English, 中文, Español, Français, Deutsch, Русский, Português, Italiano"


def test_an_explicit_language_request_is_confirmed_not_treated_as_misunderstood():
    messages, _, _ = run(
        ActionHandleFallback(),
        intent="nlu_fallback",
        slots={"language": "zh"},
        entities=[{"entity": "language", "value": "zh", "role": "requested"}],
    )
    assert messages[0]["response"] == "utter_language_switched"


def test_asking_for_a_person_queues_a_ticket_with_the_conversation_and_pauses_porter(actions_env):
    from bot.handoff.tickets import TicketStore

    events = [
        {"event": "user", "text": "my parcel never came", "timestamp": 1.0},
        {"event": "bot", "text": "What is your order number?", "timestamp": 2.0},
        {"event": "user", "text": "I want a human", "timestamp": 3.0},
    ]
    messages, slots, returned = run(
        ActionRequestHandoff(),
        events=events,
        sender="wants-a-person",
        slots={"verified_order": "A10024", "problem": "parcel_not_received", "language": "es"},
    )
    assert any(e["event"] == "pause" for e in returned)
    [ticket] = TicketStore().queue()
    assert (ticket.conversation_id, ticket.order_number, ticket.language, ticket.problem) == (
        "wants-a-person",
        "A10024",
        "es",
        "parcel_not_received",
    )
    assert [line["who"] for line in ticket.transcript] == ["shopper", "bot", "shopper"]
    assert ticket.case_reference == slots["case_reference"]
    run(ActionRequestHandoff(), events=events, sender="wants-a-person")  # asking again: same place in the queue
    assert len(TicketStore().queue()) == 1
