"""The order lookup form: verify before revealing, and give up safely after too many wrong answers."""

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.order_lookup import ValidateOrderLookupForm
from tests.conftest import make_tracker

FORM = ValidateOrderLookupForm()


def validate(slot, value, **slots):
    dispatcher = CollectingDispatcher()
    result = getattr(FORM, f"validate_{slot}")(value, dispatcher, make_tracker(slots=slots, text=str(value)), {})
    return result, [m["response"] for m in dispatcher.messages], dispatcher.messages


def test_order_number_is_found_in_what_the_shopper_typed(actions_env):
    result, said, _ = validate("order_number", "it's #1001")
    assert result == {"order_number": "#1001", "verified_order": None} and said == []
    result, said, _ = validate("order_number", "订单号123456789")
    assert result["order_number"] == "123456789"


def test_something_that_is_not_an_order_number_is_asked_again(actions_env):
    result, said, _ = validate("order_number", "I don't know")
    assert result == {"order_number": None} and said == ["utter_invalid_order_number"]


def test_the_right_email_verifies_the_order(actions_env):
    result, said, _ = validate("email", "James.Miller@example.com", order_number="a10024")
    assert result["verified_order"] == "A10024" and result["verification_failures"] == 0 and said == []


def test_a_wrong_email_reveals_nothing_and_counts(actions_env):
    result, said, messages = validate("email", "someone@example.com", order_number="A10024")
    assert result["email"] is None and result["verified_order"] is None and result["verification_failures"] == 1
    assert said == ["utter_verification_failed"]
    revealed = {k: v for k, v in messages[0].items() if v and k not in ("response", "order_number")}
    assert revealed.keys() <= {"template", "attachment", "buttons", "elements", "custom", "image", "text"}


def test_an_unknown_order_gets_the_same_answer_as_a_wrong_email(actions_env):
    _, said_unknown, unknown = validate("email", "someone@example.com", order_number="A99999")
    _, said_wrong, wrong = validate("email", "someone@example.com", order_number="A10024")
    assert said_unknown == said_wrong == ["utter_verification_failed"]
    assert unknown[0].keys() == wrong[0].keys()


def test_an_earlier_email_is_checked_against_a_new_order_number(actions_env):
    # verified for A10024, then the shopper names another order: the old email must not unlock it
    result, said, _ = validate("order_number", "A10023", email="james.miller@example.com", verified_order="A10024")
    assert result["email"] is None and result["verified_order"] is None and said == ["utter_verification_failed"]


def test_after_too_many_wrong_emails_the_form_stops_asking(actions_env):
    tracker = make_tracker(slots={"verification_failures": 3})
    required = asyncio.run(FORM.required_slots(["order_number", "email"], CollectingDispatcher(), tracker, {}))
    assert required == []
    tracker = make_tracker(slots={"verification_failures": 2})
    assert asyncio.run(FORM.required_slots(["order_number", "email"], CollectingDispatcher(), tracker, {})) == [
        "order_number",
        "email",
    ]


def test_after_a_mismatch_the_email_is_asked_for_briefly():
    from actions.order_lookup import ActionAskEmail

    for failures, expected in ((0, "utter_ask_email"), (1, "utter_ask_email_again")):
        dispatcher = CollectingDispatcher()
        asyncio.run(ActionAskEmail().run(dispatcher, make_tracker(slots={"verification_failures": failures}), {}))
        assert dispatcher.messages[0]["response"] == expected


def _from_channel(kind, value, secret="s3cret", conversation="shopper-1", ttl=900):
    from bot.channels.identity import signed

    claim = signed(kind, value, conversation, ttl=ttl, secret=secret)
    return [{"event": "user", "text": "A10023", "metadata": {"identity": claim}}]


def test_a_whatsapp_number_on_the_order_verifies_it_without_the_email(actions_env, monkeypatch):
    monkeypatch.setenv("PORTER_IDENTITY_SECRET", "s3cret")
    tracker = make_tracker(text="A10023", events=_from_channel("phone", "351912345678"))  # wa_id has no '+'
    result = FORM.validate_order_number("A10023", CollectingDispatcher(), tracker, {})
    assert result["verified_order"] == "A10023"
    tracker.add_slots([{"event": "slot", "name": k, "value": v} for k, v in result.items()])
    assert asyncio.run(FORM.required_slots(["order_number", "email"], CollectingDispatcher(), tracker, {})) == [
        "order_number"
    ]


def test_a_signed_in_storefront_customer_is_not_asked_for_the_email(actions_env, monkeypatch):
    monkeypatch.setenv("PORTER_IDENTITY_SECRET", "s3cret")
    tracker = make_tracker(text="A10024", events=_from_channel("email", "James.Miller@example.com"))
    assert FORM.validate_order_number("A10024", CollectingDispatcher(), tracker, {})["verified_order"] == "A10024"


def test_a_channel_identity_that_does_not_match_or_is_forged_still_asks_for_the_email(actions_env, monkeypatch):
    monkeypatch.setenv("PORTER_IDENTITY_SECRET", "s3cret")
    other_number = make_tracker(text="A10023", events=_from_channel("phone", "+4915112345678"))
    assert FORM.validate_order_number("A10023", CollectingDispatcher(), other_number, {})["verified_order"] is None
    forged = make_tracker(text="A10023", events=_from_channel("phone", "+351912345678", secret="guessed"))
    assert FORM.validate_order_number("A10023", CollectingDispatcher(), forged, {})["verified_order"] is None
    unsigned = make_tracker(
        text="A10023", events=[{"event": "user", "metadata": {"identity": {"phone": "+351912345678"}}}]
    )
    assert FORM.validate_order_number("A10023", CollectingDispatcher(), unsigned, {})["verified_order"] is None


def test_a_signed_identity_from_another_conversation_or_expired_verifies_nothing(actions_env, monkeypatch):
    monkeypatch.setenv("PORTER_IDENTITY_SECRET", "s3cret")
    copied = make_tracker(text="A10023", events=_from_channel("phone", "351912345678", conversation="shopper-2"))
    assert FORM.validate_order_number("A10023", CollectingDispatcher(), copied, {})["verified_order"] is None
    expired = make_tracker(text="A10023", events=_from_channel("phone", "351912345678", ttl=-1))
    assert FORM.validate_order_number("A10023", CollectingDispatcher(), expired, {})["verified_order"] is None


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("what's the weather tomorrow?", "out_of_scope", "utter_only_orders"),
        ("subscribe me to your newsletter", "out_of_scope", "utter_only_orders"),
        ("blue bananas fly over the moon", "nlu_fallback", "utter_only_orders"),
        ("蓝色香蕉飞过月亮", "nlu_fallback", "utter_only_orders"),
        ("why do you need it?", "out_of_scope", "utter_why_order_number"),  # a real "why?" keeps its answer
        ("¿por qué?", "nlu_fallback", "utter_why_order_number"),
        ("зачем вам номер заказа", "nlu_fallback", "utter_why_order_number"),
        ("wozu brauchen Sie das", "out_of_scope", "utter_why_order_number"),
        ("no", "deny", "utter_why_order_number"),
        ("where is my order?", "where_is_my_order", "utter_why_order_number"),  # a question about the question
        ("I don't know", "inform", "utter_invalid_order_number"),
    ],
)
def test_off_topic_gets_a_short_answer_and_why_gets_the_reason(actions_env, text, intent, expected):
    dispatcher = CollectingDispatcher()
    result = FORM.validate_order_number(text, dispatcher, make_tracker(text=text, intent=intent), {})
    assert result == {"order_number": None} and [m["response"] for m in dispatcher.messages] == [expected]


def test_off_topic_while_the_email_is_asked_gets_the_short_answer_too(actions_env):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text="tell me a joke", intent="out_of_scope", slots={"order_number": "A10024"})
    assert FORM.validate_email("tell me a joke", dispatcher, tracker, {}) == {"email": None}
    assert [m["response"] for m in dispatcher.messages] == ["utter_only_orders"]


def test_the_form_checks_the_email_when_rasa_sends_no_domain(actions_env):
    """endpoints.yml turns Rasa's selective domain on: calls carry no domain, and the form still knows it asks
    for the order number, then the email (from domain/)."""
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_action(FORM)
    tracker = make_tracker(
        slots={
            "order_number": "A10024",
            "email": "James.Miller@example.com",
            "requested_slot": "email",
            "active_loop": "order_lookup_form",
        },
        text="James.Miller@example.com",
    )
    state = {
        "sender_id": tracker.sender_id,
        "slots": tracker.slots,
        "latest_message": tracker.latest_message,
        "events": tracker.events,
        "active_loop": {"name": "order_lookup_form"},
        "paused": False,
        "followup_action": None,
        "latest_event_time": None,
        "latest_action_name": "action_listen",
    }
    state["slots"]["requested_slot"] = "email"
    state["events"] = list(state["events"]) + [{"event": "slot", "name": "email", "value": "James.Miller@example.com"}]
    answer = asyncio.run(executor.run({"next_action": FORM.name(), "sender_id": tracker.sender_id, "tracker": state}))
    slots = {e["name"]: e["value"] for e in answer["events"] if e["event"] == "slot"}
    assert slots.get("verified_order") == "A10024" and answer["responses"] == []
