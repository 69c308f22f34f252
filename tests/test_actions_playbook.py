"""The rest of the playbook as the shopper meets it: item problems with a photo, cancellations, returns,
refund questions, customs, tracking numbers instead of order numbers, questions and "stop" inside a form."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.details import ValidateDetailsForm
from actions.fixes import carry_out
from actions.form_control import ActionStopForm
from actions.order_lookup import ValidateOrderLookupForm
from actions.resolve_order import ActionResolveOrder
from bot.decisions.cases import CaseBook
from tests.conftest import make_tracker, offer_fixes


def resolve(order, problem, **slots):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(
        ActionResolveOrder().run(
            dispatcher, make_tracker(slots={"verified_order": order, "problem": problem, **slots}), {}
        )
    )
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def fix(order, problem, choice, **slots):
    offer_fixes({"verified_order": order, "problem": problem, **slots})
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"verified_order": order, "problem": problem, **slots})
    carry_out(choice, dispatcher, tracker)
    return [m["response"] for m in dispatcher.messages], dispatcher.messages


def responses(messages):
    return [m["response"] for m in messages]


def test_a_damaged_item_asks_for_a_photo_then_offers_three_fixes(actions_env):
    said, slots = resolve("A10025", "damaged_item")
    assert responses(said) == ["utter_item_problem_intro"]
    assert (slots["next_step"], slots["detail_needed"]) == ("collect_details", "photo")
    said, slots = resolve("A10025", "damaged_item", photo="whatsapp:MEDIA1")
    assert responses(said) == ["utter_item_problem_options_return"]  # 28 GBP is worth sending back
    assert said[0]["partial_amount"] == "£8.40" and said[0]["partial_percent"] == "30"
    assert slots["offer"] == "utter_ask_fix_item_problem"


def test_a_cheap_item_is_not_sent_back(actions_env):
    said, _ = resolve("A10034", "wrong_item", photo="none", language="es")
    assert responses(said) == ["utter_item_problem_options_keep"]
    said_fix, _ = fix("A10034", "wrong_item", "refund", photo="none", language="es")
    assert said_fix == ["utter_refund_done", "utter_no_return_needed", "utter_anything_else"]
    [refund] = CaseBook().list(order_number="A10034", type="refund")
    assert refund.amount == 12.5 and refund.details["return_required"] is False


def test_the_photo_is_taken_from_the_channels_attachment_and_kept_on_the_case(actions_env):
    form = ValidateDetailsForm()
    events = [
        {
            "event": "user",
            "text": "here, the box was crushed",
            "input_channel": "whatsapp",
            "metadata": {"attachments": [{"type": "image", "channel": "whatsapp", "id": "MEDIA77"}]},
        }
    ]
    tracker = make_tracker(
        text="here, the box was crushed", events=events, slots={"requested_slot": "photo", "detail_needed": "photo"}
    )
    extracted = asyncio.run(form.extract_photo(CollectingDispatcher(), tracker, {}))
    assert extracted == {"photo": "whatsapp:MEDIA77", "photo_caption": "here, the box was crushed"}
    without = make_tracker(
        text="sorry I can't take a photo", events=[{"event": "user", "metadata": {}}], slots={"requested_slot": "photo"}
    )
    assert asyncio.run(form.extract_photo(CollectingDispatcher(), without, {}))["photo"] == "none"
    said, _ = fix("A10025", "damaged_item", "replace", photo="whatsapp:MEDIA77", situation="delivered")
    assert said == ["utter_replace_done", "utter_return_needed", "utter_anything_else"]  # no carrier claim
    [case] = CaseBook().list(order_number="A10025", type="reshipment")
    assert case.details["photo"] == "whatsapp:MEDIA77" and case.details["replacement"] is True


def test_the_details_form_asks_only_what_the_decision_needs(actions_env):
    tracker = make_tracker(slots={"detail_needed": "cancel_reason"})
    required = asyncio.run(
        ValidateDetailsForm().required_slots(
            ["photo", "cancel_reason", "item_unused"], CollectingDispatcher(), tracker, {}
        )
    )
    assert required == ["cancel_reason"]


def test_a_partial_refund_keeps_the_item_and_refunds_the_policy_share(actions_env):
    said, messages = fix("A10025", "quality_issue", "partial_refund", photo="none")
    assert said == ["utter_partial_refund_done", "utter_anything_else"] and messages[0]["amount"] == "£8.40"
    [refund] = CaseBook().list(order_number="A10025", type="refund")
    assert refund.amount == 8.4 and refund.details["keeps_item"] is True


def test_cancelling_before_shipping_refunds_in_full(actions_env):
    said, slots = resolve("A10030", "cancel_order", language="zh")
    assert responses(said) == ["utter_cancel_not_shipped"] and slots["offer"] == "utter_ask_fix_cancel"
    said, messages = fix("A10030", "cancel_order", "cancel", language="zh")
    assert said == ["utter_cancel_done", "utter_anything_else"] and "320" in messages[0]["amount"]
    assert sorted(c.type for c in CaseBook().list(order_number="A10030")) == ["cancellation", "refund"]


def test_cancelling_a_parcel_sent_by_post_means_refusing_it(actions_env):
    said, slots = resolve("A10023", "cancel_order")
    assert responses(said) == ["utter_cancel_postal"] and said[0]["carrier"] == "China Post"
    said, _ = fix("A10023", "cancel_order", "refuse")
    assert said == ["utter_refuse_done", "utter_anything_else"]
    [case] = CaseBook().list(order_number="A10023", type="cancellation")
    assert case.details["refund_on_return"] is True


def test_cancelling_an_express_parcel_asks_why_then_offers_to_keep_it(actions_env):
    said, slots = resolve("A10033", "cancel_order", language="fr")
    assert said == [] and slots["detail_needed"] == "cancel_reason"
    said, slots = resolve("A10033", "cancel_order", language="fr", cancel_reason="trouvé moins cher")
    assert responses(said) == ["utter_cancel_express_options"]
    assert slots["offer"] == "utter_ask_fix_keep_or_return"
    said, messages = fix("A10033", "cancel_order", "return", cancel_reason="trouvé moins cher")
    assert said == ["utter_return_steps", "utter_anything_else"]
    [case] = CaseBook().list(order_number="A10033", type="return")
    assert case.details["postage_paid_by"] == "shopper" and case.details["cancel_reason"] == "trouvé moins cher"
    assert messages[0]["return_address"] == services.policy().return_address


@pytest.mark.parametrize(
    "order, slots, expected, offer",
    [
        ("A10034", {}, [], None),  # asks: unused?
        ("A10034", {"item_unused": True}, ["utter_return_options"], "utter_ask_fix_return"),
        ("A10034", {"item_unused": False}, ["utter_return_condition_refused"], "utter_ask_fix_person_exception"),
        ("A10035", {}, ["utter_return_window_closed"], "utter_ask_fix_person_exception"),
        ("A10023", {}, ["utter_return_not_delivered_yet", "utter_anything_else"], None),
    ],
)
def test_returns_follow_the_window_and_the_items_condition(actions_env, order, slots, expected, offer):
    said, got = resolve(order, "return_item", **slots)
    assert responses(said) == expected and got.get("offer") == offer


def test_refund_status_reads_the_refund_case(actions_env):
    said, _ = resolve("A10024", "refund_status")
    assert responses(said) == ["utter_refund_status_none", "utter_anything_else"]
    fix("A10024", "parcel_not_received", "refund", situation="stalled")
    said, _ = resolve("A10024", "refund_status")
    assert responses(said) == ["utter_refund_status", "utter_anything_else"]
    assert said[0]["amount"] == "$36.50" and said[0]["bank_days"] == 7 and said[0]["case_reference"].startswith("PC-")


def test_a_customs_question_is_explained_recorded_and_escalated_when_stuck(actions_env, monkeypatch):
    said, slots = resolve("A10028", "customs_issue", language="pt")
    assert responses(said) == ["utter_situation_customs_duties", "utter_customs_case_opened"]
    assert slots["offer"] == "utter_ask_fix_person_customs"
    assert len(CaseBook().list(order_number="A10028", type="customs_assist")) == 1
    later = datetime.now(timezone.utc) + timedelta(days=2)  # held 6 days: over the policy's 5
    monkeypatch.setattr(services, "now", lambda: later)
    said, slots = resolve("A10028", "customs_issue", language="pt")
    assert responses(said)[:2] == ["utter_situation_customs_duties", "utter_customs_handoff"]
    assert responses(said)[2] in ("utter_handoff_queue", "utter_handoff_queue_closing", "utter_handoff_after_hours")
    assert slots["next_step"] == "handoff" and said[1]["days"] == 6
    [handoff] = CaseBook().list(order_number="A10028", type="handoff_request")
    assert handoff.details["reason"] == "customs_stuck"
    assert len(CaseBook().list(order_number="A10028", type="customs_assist")) == 1  # recorded once


def test_a_refund_request_before_shipping_becomes_a_cancellation(actions_env):
    said, slots = resolve("A10030", "request_refund")
    assert responses(said) == ["utter_cancel_not_shipped"] and slots["problem"] == "cancel_order"


def test_a_tracking_number_finds_the_order_but_reveals_nothing_before_the_email(actions_env):
    form = ValidateOrderLookupForm()
    tracker = make_tracker(text="LX987654321CN", intent="inform")
    result = form.validate_order_number("LX987654321CN", CollectingDispatcher(), tracker, {})
    assert result == {"order_number": "LX987654321CN", "verified_order": None}
    wrong = form.validate_email(
        "x@example.com", CollectingDispatcher(), make_tracker(slots={"order_number": "LX987654321CN"}), {}
    )
    assert wrong["verified_order"] is None and wrong["order_number"] == "LX987654321CN"
    right = form.validate_email(
        "noah.wilson@example.com", CollectingDispatcher(), make_tracker(slots={"order_number": "LX987654321CN"}), {}
    )
    assert (right["verified_order"], right["order_number"]) == ("A10035", "A10035")


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("why do you need my email?", "nlu_fallback", "utter_why_email"),
        ("why do you need that", "deny", "utter_why_email"),  # a "no" to the question gets the reason too
        ("¿para qué necesitas mi correo?", "out_of_scope", "utter_why_email"),
        ("为什么要我的邮箱？", "nlu_fallback", "utter_why_email"),
        ("james at example", "inform", "utter_invalid_email"),
    ],
)
def test_a_question_inside_the_form_gets_an_answer_and_the_question_again(actions_env, text, intent, expected):
    dispatcher = CollectingDispatcher()
    result = ValidateOrderLookupForm().validate_email(
        text, dispatcher, make_tracker(text=text, intent=intent, slots={"order_number": "A10024"}), {}
    )
    assert result == {"email": None} and responses(dispatcher.messages) == [expected]


@pytest.mark.parametrize(
    "text, stops",
    [
        ("cancel that", True),
        ("stop", True),
        ("cancel my order A10030", False),
        ("cancel, it's chen.jie@example.hk", False),
    ],
)
def test_stop_in_the_lookup_ends_the_form_but_a_cancellation_with_details_goes_on(actions_env, text, stops):
    tracker = make_tracker(
        text=text, intent="cancel_order", slots={"requested_slot": "email", "order_number": "A10030"}
    )
    result = ValidateOrderLookupForm().validate_email(text, CollectingDispatcher(), tracker, {})
    assert (result.get("form_exit") == "stopped") is stops
    if stops:
        assert result["requested_slot"] is None
        said, slots = resolve(None, "cancel_order", form_exit="stopped")
        assert responses(said) == ["utter_form_stopped"] and slots["next_step"] == "done"


def test_stop_leaves_the_form_and_forgets_half_given_answers(actions_env):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"requested_slot": "email", "order_number": "A10024", "problem": "cancel_order"})
    events = asyncio.run(ActionStopForm().run(dispatcher, tracker, {}))
    assert responses(dispatcher.messages) == ["utter_form_stopped"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots["order_number"] is None and slots["requested_slot"] is None and slots["problem"] is None


@pytest.mark.parametrize("intent", ["human_handoff", "cancel_order"])
def test_asking_for_a_person_or_to_stop_is_not_taken_as_no_photo(actions_env, intent):
    tracker = make_tracker(
        text="stop", intent=intent, events=[{"event": "user", "metadata": {}}], slots={"requested_slot": "photo"}
    )
    assert asyncio.run(ValidateDetailsForm().extract_photo(CollectingDispatcher(), tracker, {})) == {}


def test_the_photo_caption_survives_the_forms_validation(actions_env):
    """Extraction and validation as rasa_sdk runs them: the caption is not a required slot but is kept."""
    events = [
        {
            "event": "user",
            "text": "the box was crushed",
            "input_channel": "telegram",
            "metadata": {"attachments": [{"type": "image", "channel": "telegram", "id": "FILE9"}]},
        }
    ]
    tracker = make_tracker(
        text="the box was crushed", events=events, slots={"requested_slot": "photo", "detail_needed": "photo"}
    )
    domain = {
        "slots": {
            name: {"type": "text", "mappings": [{"type": "custom"}]}
            for name in ("photo", "photo_caption", "cancel_reason", "item_unused")
        },
        "forms": {"details_form": {"required_slots": ["photo", "cancel_reason", "item_unused"]}},
    }
    dispatcher = CollectingDispatcher()
    form = ValidateDetailsForm()
    extracted = asyncio.run(form.get_extraction_events(dispatcher, tracker, domain))
    tracker.add_slots(extracted)
    tracker.events.extend(extracted)
    validated = {e["name"]: e["value"] for e in asyncio.run(form.get_validation_events(dispatcher, tracker, domain))}
    assert validated == {"photo": "telegram:FILE9", "photo_caption": "the box was crushed"}


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_a_photo_is_taken_only_from_the_conversation_and_channel_it_really_came_from(actions_env):
    from bot.photos import PhotoStore

    mine = PhotoStore().keep("widget-shopper", PNG)
    theirs = PhotoStore().keep("someone-else", PNG)

    def extracted(attachment, channel="socketio", sender="widget-shopper"):
        events = [
            {"event": "user", "text": "[image]", "input_channel": channel, "metadata": {"attachments": [attachment]}}
        ]
        tracker = make_tracker(text="[image]", events=events, sender=sender, slots={"requested_slot": "photo"})
        return asyncio.run(ValidateDetailsForm().extract_photo(CollectingDispatcher(), tracker, {}))["photo"]

    assert extracted({"type": "image", "channel": "widget", "id": mine.token}) == f"widget:{mine.token}"
    # a token of another conversation, a made-up one, or a WhatsApp media id claimed from the widget: no photo
    assert extracted({"type": "image", "channel": "widget", "id": theirs.token}) == "none"
    assert extracted({"type": "image", "channel": "widget", "id": "made-up-token-123"}) == "none"
    assert extracted({"type": "image", "channel": "whatsapp", "id": "MEDIA77"}) == "none"
