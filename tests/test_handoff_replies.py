"""What the shopper is told when a person takes over, and every trigger that hands over: asked for a person,
misunderstood twice in a row, the same order raised on several days, strong anger, failed verification.

Clocks are fixed (actions.services.now); the shipped policy has the agents in Europe/Berlin, Monday to Friday,
09:00 to 18:00, 10 minutes per conversation, and a person on the third day an order is raised."""

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.fallback import ActionHandleFallback, misunderstood_in_a_row
from actions.handoff import ActionRequestHandoff
from actions.resolve_order import ActionResolveOrder, session_of
from bot.decisions.cases import CaseBook
from bot.handoff.contacts import ContactLog
from bot.handoff.tickets import TicketStore
from tests.conftest import make_tracker

BERLIN = ZoneInfo("Europe/Berlin")
TUESDAY_MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=BERLIN)
FRIDAY_LATE = datetime(2026, 11, 27, 17, 45, tzinfo=BERLIN)
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=BERLIN)


def run(action, **tracker_args):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, make_tracker(**tracker_args), {}))
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return dispatcher.messages, slots, events


def said(messages):
    return [m["response"] for m in messages]


def plain(text):
    """Babel keeps words together with no-break spaces ("9:00\u202fAM"); compare them as spaces."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


@pytest.fixture
def clock(monkeypatch):
    def set_to(moment):
        monkeypatch.setattr(services, "now", lambda: moment.astimezone(timezone.utc))

    return set_to


def queue_others(count):
    for n in range(count):
        TicketStore().open_ticket(conversation_id=f"waiting-{n}", reason="shopper_asked")


def test_while_the_team_is_in_the_shopper_hears_the_place_in_the_queue_and_the_wait(actions_env, clock):
    clock(TUESDAY_MORNING)
    queue_others(2)
    messages, slots, events = run(ActionRequestHandoff(), sender="third-in-line", intent="human_handoff")
    assert said(messages) == ["utter_handoff_requested", "utter_handoff_queue"]
    assert messages[0]["case_reference"] == slots["case_reference"]
    assert (messages[1]["position"], messages[1]["wait"]) == (3, "30 minutes")
    assert any(e["event"] == "pause" for e in events)


@pytest.mark.parametrize(
    "language, wait",
    [
        ("zh", "10分钟"),
        ("ru", "10 минут"),
        ("de", "10 Minuten"),
        ("es", "10 minutos"),
        ("fr", "10 minutes"),
        ("pt", "10 minutos"),
    ],
)
def test_the_wait_is_said_in_the_shoppers_language(actions_env, clock, language, wait):
    clock(TUESDAY_MORNING)
    messages, _, _ = run(ActionRequestHandoff(), slots={"language": language}, intent="human_handoff")
    assert messages[1]["response"] == "utter_handoff_queue" and messages[1]["wait"] == wait


@pytest.mark.parametrize(
    "language, opening",
    [
        ("en", "Monday, November 30, 2026, 9:00 AM (Berlin)"),
        ("zh", "2026年11月30日星期一 09:00（柏林）"),
        ("ru", "понедельник, 30 ноября 2026 г., 09:00 (Берлин)"),
        ("es", "lunes, 30 de noviembre de 2026, 9:00 (Berlín)"),
        ("pt", "segunda-feira, 30 de novembro de 2026 09:00 (Berlim)"),
    ],
)
def test_after_hours_the_shopper_is_told_when_the_team_opens_and_stays_queued(actions_env, clock, language, opening):
    clock(SATURDAY)
    messages, _, events = run(
        ActionRequestHandoff(), slots={"language": language}, sender="weekend", intent="human_handoff"
    )
    assert said(messages) == ["utter_handoff_requested", "utter_handoff_after_hours"]
    assert plain(messages[1]["opening"]) == opening
    assert [t.conversation_id for t in TicketStore().queue()] == ["weekend"]  # queued all the same
    assert any(e["event"] == "pause" for e in events)


def test_when_the_queue_runs_past_closing_the_shopper_hears_both(actions_env, clock):
    clock(FRIDAY_LATE)
    queue_others(1)
    messages, _, _ = run(ActionRequestHandoff(), sender="friday", intent="human_handoff")
    assert said(messages) == ["utter_handoff_requested", "utter_handoff_queue_closing"]
    assert messages[1]["position"] == 2
    assert plain(messages[1]["opening"]) == "Monday, November 30, 2026, 9:00 AM (Berlin)"


def test_an_agent_who_already_has_the_conversation_means_no_queue_message(actions_env, clock):
    clock(TUESDAY_MORNING)
    ticket, _ = TicketStore().open_ticket(conversation_id="claimed-1", reason="shopper_asked")
    TicketStore().claim(ticket.id, "agent-ana")
    messages, _, _ = run(ActionRequestHandoff(), sender="claimed-1", intent="human_handoff")
    assert said(messages) == ["utter_handoff_requested"]


def test_failed_verification_gets_its_reply_then_the_queue(actions_env, clock):
    clock(TUESDAY_MORNING)
    messages, slots, _ = run(ActionResolveOrder(), slots={"verified_order": None, "problem": "where_is_my_order"})
    assert said(messages) == ["utter_verification_handoff", "utter_handoff_queue"]
    assert slots["next_step"] == "handoff"


# --- misunderstood twice in a row --------------------------------------------------------------------------

FALLBACK = {"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}
UNDERSTOOD = {"event": "user", "parse_data": {"intent": {"name": "greet"}}}
ASKS_FOR_ENGLISH = {
    "event": "user",
    "parse_data": {
        "intent": {"name": "nlu_fallback"},
        "entities": [{"entity": "language", "value": "en", "role": "requested"}],
    },
}
DUTCH = {
    "event": "user",
    "parse_data": {"intent": {"name": "nlu_fallback"}, "entities": [{"entity": "language", "value": "nl"}]},
}


def test_the_second_misunderstanding_in_a_row_hands_over_with_the_queue(actions_env, clock):
    clock(TUESDAY_MORNING)
    messages, slots, events = run(
        ActionHandleFallback(),
        events=[FALLBACK, {"event": "bot"}, FALLBACK],
        slots={"language": "zh"},
        sender="puzzled",
        intent="nlu_fallback",
    )
    assert said(messages) == ["utter_misunderstood_handoff", "utter_handoff_queue"]
    assert any(e["event"] == "pause" for e in events)
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    [ticket] = TicketStore().queue()
    assert (ticket.conversation_id, ticket.reason, ticket.language) == ("puzzled", "not_understood", "zh")


@pytest.mark.parametrize(
    "events, count",
    [
        ([UNDERSTOOD, FALLBACK], 1),
        ([FALLBACK, {"event": "bot"}, FALLBACK], 2),
        ([FALLBACK, {"event": "pause"}, FALLBACK], 1),  # what the shopper told the agent does not count
        ([FALLBACK, {"event": "resume"}, FALLBACK], 1),  # nor what came before Porter was handed back
        ([ASKS_FOR_ENGLISH, FALLBACK], 1),  # a language request was answered, not misunderstood
        ([DUTCH, FALLBACK], 1),  # so was a message in a language Porter does not speak
    ],
)
def test_misunderstandings_are_counted_in_a_row(events, count):
    assert misunderstood_in_a_row(make_tracker(events=events)) == count


def test_a_language_request_after_a_miss_is_answered_not_handed_over(actions_env):
    messages, _, events = run(
        ActionHandleFallback(),
        events=[FALLBACK, ASKS_FOR_ENGLISH],
        intent="nlu_fallback",
        entities=ASKS_FOR_ENGLISH["parse_data"]["entities"],
    )
    assert said(messages) == ["utter_language_switched"] and not events


# --- the same order raised on several days ------------------------------------------------------------------


def resolve_on(clock, day, sender, order="A10024", session_start=None):
    clock(day)
    events = [{"event": "session_started", "timestamp": session_start}] if session_start else []
    return run(
        ActionResolveOrder(),
        slots={"verified_order": order, "problem": "parcel_not_received"},
        sender=sender,
        events=events,
    )


def test_the_third_day_an_order_is_raised_a_person_takes_over(actions_env, clock):
    now = datetime.now(timezone.utc)  # the demo orders are dated around today
    for sender in ("monday-web", "monday-whatsapp", "monday-again"):  # one day, however many conversations
        messages, slots, _ = resolve_on(clock, now, sender)
        assert "utter_repeat_contact_handoff" not in said(messages) and slots["next_step"] == "choose_fix"
    messages, slots, _ = resolve_on(clock, now + timedelta(days=1), "tuesday")
    assert "utter_repeat_contact_handoff" not in said(messages)
    messages, slots, events = resolve_on(clock, now + timedelta(days=2), "wednesday")
    assert said(messages)[0] == "utter_situation_stalled"  # where the parcel is, first
    assert said(messages)[1] == "utter_repeat_contact_handoff" and messages[1]["order_number"] == "A10024"
    assert said(messages)[2] in ("utter_handoff_queue", "utter_handoff_queue_closing", "utter_handoff_after_hours")
    assert slots["next_step"] == "handoff" and "offer" not in slots and any(e["event"] == "pause" for e in events)
    [ticket] = TicketStore().queue()
    assert (ticket.reason, ticket.order_number, ticket.problem, ticket.situation, ticket.offered) == (
        "repeat_contact",
        "A10024",
        "parcel_not_received",
        "stalled",
        ["refund", "reship"],
    )
    [case] = CaseBook().list(type="handoff_request")
    assert case.details["reason"] == "repeat_contact" and case.details["situation"] == "stalled"


def test_a_repeat_contact_hands_over_once_per_session(actions_env, clock):
    now = datetime.now(timezone.utc)
    log = ContactLog()
    for days_ago in (2, 1):
        log.record(
            "A10024",
            f"earlier-{days_ago}",
            "0",
            now - timedelta(days=days_ago),
            (now - timedelta(days=days_ago)).astimezone(BERLIN).date(),
        )
    messages, _, _ = resolve_on(clock, now, "back-again", session_start=1000.0)
    assert "utter_repeat_contact_handoff" in said(messages)
    # the agent hands back, the shopper goes on in the same session: Porter helps, no second handoff
    messages, slots, _ = resolve_on(clock, now, "back-again", session_start=1000.0)
    assert "utter_repeat_contact_handoff" not in said(messages) and slots["next_step"] == "choose_fix"
    # a new session (after the domain's session expiry) is a new contact, and the order is still over the limit
    messages, _, _ = resolve_on(clock, now + timedelta(hours=5), "back-again", session_start=2000.0)
    assert "utter_repeat_contact_handoff" in said(messages)


def test_for_item_problems_the_person_makes_the_offer(actions_env, clock):
    now = datetime.now(timezone.utc)
    for days_ago in (2, 1):
        ContactLog().record("A10023", f"earlier-{days_ago}", "0", now, (now - timedelta(days=days_ago)).date())
    clock(now)
    messages, _, _ = run(
        ActionResolveOrder(), slots={"verified_order": "A10023", "problem": "damaged_item"}, sender="broken-again"
    )
    assert said(messages)[0] == "utter_repeat_contact_handoff"  # no request for a photo first


def test_the_session_is_read_from_the_conversation():
    assert session_of(make_tracker(events=[])) == "0"
    started = [
        {"event": "session_started", "timestamp": 10.0},
        {"event": "user"},
        {"event": "session_started", "timestamp": 99.5},
    ]
    assert session_of(make_tracker(events=started)) == "99.500"


# --- strong anger ----------------------------------------------------------------------------------------------


def test_an_angry_shopper_gets_an_apology_and_a_person_with_the_problem_recorded(actions_env, clock):
    clock(TUESDAY_MORNING)
    anger = {"entity": "anger", "value": "мошенники", "start": 3, "end": 12}
    tracker = make_tracker(
        slots={"language": "ru"},
        text="Вы мошенники, где моя посылка?",
        intent="human_handoff",
        entities=[anger],
        sender="angry-ru",
    )
    tracker.latest_message["intent_ranking"] = [
        {"name": "human_handoff", "confidence": 1.0},
        {"name": "where_is_my_order", "confidence": 0.93},
    ]
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionRequestHandoff().run(dispatcher, tracker, {}))
    assert said(dispatcher.messages) == ["utter_upset_handoff", "utter_handoff_queue"]
    assert dispatcher.messages[1]["wait"] == "10 минут"
    assert any(e["event"] == "pause" for e in events)
    [ticket] = TicketStore().queue()
    assert (ticket.reason, ticket.problem, ticket.language) == ("upset", "where_is_my_order", "ru")
    [case] = CaseBook().list(type="handoff_request")
    assert case.details["anger"] == "мошенники"


def test_asking_for_a_person_calmly_is_not_recorded_as_anger(actions_env, clock):
    clock(TUESDAY_MORNING)
    messages, _, _ = run(ActionRequestHandoff(), text="I'd like to talk to a person", intent="human_handoff")
    assert said(messages)[0] == "utter_handoff_requested"
    [case] = CaseBook().list(type="handoff_request")
    assert case.details["reason"] == "shopper_asked" and "anger" not in case.details


# --- who goes first ----------------------------------------------------------------------------------------------


def test_angry_shoppers_high_value_orders_and_repeat_contacts_go_first_and_hear_their_true_place(actions_env, clock):
    clock(TUESDAY_MORNING)
    queue_others(2)  # two calm shoppers, waiting longer
    # A10031 is worth 480 EUR, above the 250 EUR the policy lets Porter settle alone
    messages, _, _ = run(
        ActionRequestHandoff(), sender="big-order", intent="human_handoff", slots={"verified_order": "A10031"}
    )
    assert said(messages)[-1] == "utter_handoff_queue" and messages[-1]["position"] == 1
    angry = make_tracker(
        slots={"language": "ru"},
        text="Вы мошенники, где моя посылка?",
        intent="human_handoff",
        entities=[{"entity": "anger", "value": "мошенники", "start": 3, "end": 12}],
        sender="angry-ru",
    )
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionRequestHandoff().run(dispatcher, angry, {}))
    assert dispatcher.messages[-1]["position"] == 1

    queue = TicketStore().queue()
    assert [(t.conversation_id, t.priority) for t in queue] == [
        ("angry-ru", ["angry"]),
        ("big-order", ["high_value"]),
        ("waiting-0", []),
        ("waiting-1", []),
    ]
    assert queue[1].shopper_name == "Anna Gruber" and queue[0].shopper_name is None  # no verified order
    assert [TicketStore().position(t.id) for t in queue] == [1, 2, 3, 4]

    # handed back, then asking again: contacted before, behind the angry shopper and ahead of the calm ones
    TicketStore().close(queue[1].id, "handed_back")
    messages, _, _ = run(
        ActionRequestHandoff(), sender="big-order", intent="human_handoff", slots={"verified_order": "A10031"}
    )
    assert messages[-1]["position"] == 2
    again = TicketStore().open_for("big-order")
    assert again.priority == ["high_value", "repeat_contact"]
