"""A shop backend that is down: the shopper is told plainly and handed to a person; nothing crashes.

The real Shopify adapter talks to a local server that answers 503, as Shopify does during an outage.
"""

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.resolution import ActionCarryOutFix
from actions.resolve_order import ActionResolveOrder
from bot.decisions.cases import CaseBook
from bot.handoff.tickets import TicketStore
from tests.conftest import make_tracker
from tests.support.recorder import Recorder


@pytest.fixture
def shopify_down(var, monkeypatch):
    server = Recorder()
    server.route("/", lambda request: (503, {"errors": "Service Unavailable"}))
    monkeypatch.setenv("PORTER_ORDER_BACKEND", "shopify")
    monkeypatch.setenv("SHOPIFY_SHOP_URL", server.url)
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_test")
    monkeypatch.setenv("PORTER_BACKEND_ATTEMPTS", "2")
    monkeypatch.setenv("PORTER_BACKEND_BACKOFF", "0.01")
    for cached in (services.store, services.cases, services.policy):
        cached.cache_clear()
    yield server
    for cached in (services.store, services.cases, services.policy):
        cached.cache_clear()
    server.close()


@pytest.mark.parametrize(
    "action, slots",
    [
        (ActionResolveOrder(), {"verified_order": "A10024", "problem": "parcel_not_received"}),
        (ActionCarryOutFix(), {"verified_order": "A10024", "problem": "parcel_not_received", "fix": "refund"}),
    ],
)
def test_a_backend_outage_gets_an_apology_a_person_and_a_case(shopify_down, action, slots):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, make_tracker(slots=slots, sender="outage-1"), {}))
    assert [m["response"] for m in dispatcher.messages][0] == "utter_backend_down"
    assert len(dispatcher.messages) == 2  # then the place in the queue, or when the team is back
    [case] = CaseBook().list(type="handoff_request")
    assert case.details["reason"] == "backend_down" and dispatcher.messages[0]["case_reference"] == case.reference
    slots_set = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots_set["next_step"] == "handoff" and any(e["event"] == "pause" for e in events)
    [ticket] = TicketStore().queue()  # a person takes over, with the conversation so far
    assert (ticket.reason, ticket.conversation_id) == ("backend_down", "outage-1")
    assert len(shopify_down.received("/admin/api")) == 2  # retried once, then gave up
    assert not CaseBook().list(type="refund")
