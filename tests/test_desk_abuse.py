"""The desk and the handoff queue under abuse (issue 10, item 9): password guessing at the sign-in, notes on
tickets that are not the agent's, and one shopper queueing the same order from several conversations.

The web server runs in this process on a free localhost port, over real HTTP and a real SQLite file, so the
sign-in throttle can be given a clock the test moves instead of waiting. Rasa's HTTP API, which the desk calls
to deliver replies, is stood in by the local recorder (`remote_api`): what it receives is what Rasa would send
on to the shopper.
"""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import unquote

import pytest
import requests
from rasa_sdk.executor import CollectingDispatcher
from requests.adapters import HTTPAdapter
from sanic import Sanic

from actions import services
from actions.handoff import ActionRequestHandoff
from bot.handoff.agents import AgentStore
from bot.handoff.tickets import TicketStore
from bot.web.app import WebConfig, create_app
from bot.web.sign_in_throttle import ACCOUNT, ADDRESS_FREE_FAILURES, MAX_KEYS, Pause, SignInThrottle
from tests.conftest import make_tracker
from tests.support.desk import Desk, timeline_texts
from tests.support.sanic_thread import ServedApp
from tests.test_handoff_replies import TUESDAY_MORNING

pytestmark = pytest.mark.timeout(300)  # a hang guard: the slowest test here checks about 100 passwords

PROXY = "127.0.0.2"  # PORTER_TRUSTED_PROXIES for these tests; 127.0.0.1 is an untrusted peer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FromAddress(HTTPAdapter):
    """Connects from a chosen loopback address, as a client or a proxy on another machine would."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class DeskServer(ServedApp):
    def __init__(self, app, clock: Clock) -> None:
        self.clock = clock
        self.throttle = app.ctx.sign_in_throttle = SignInThrottle(clock=clock)
        super().__init__(app)

    def sign_in(
        self, name: str, password: str, source: str = "127.0.0.1", forwarded_for: str | None = None
    ) -> requests.Response:
        http = requests.Session()
        http.mount("http://", FromAddress(source))
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        with http:
            return http.post(
                f"{self.url}/desk/sign-in",
                data={"name": name, "password": password},
                headers=headers,
                allow_redirects=False,
                timeout=30,
            )


@pytest.fixture
def rasa_api(remote_api):
    """Rasa's HTTP API as the desk uses it: the tracker (empty) and appended events (accepted)."""
    remote_api.route("/conversations/", lambda request: (200, {"events": []} if request.method == "GET" else {}))
    return remote_api


@pytest.fixture
def desk(var, monkeypatch, rasa_api):
    monkeypatch.setattr(Sanic, "test_mode", True)  # else Sanic's start-up rewrite of its classes runs twice
    monkeypatch.setenv("PORTER_TRUSTED_PROXIES", PROXY)
    monkeypatch.setenv("PORTER_RASA_URL", rasa_api.url)
    monkeypatch.setenv("RASA_AUTH_TOKEN", "desk-abuse-token")
    app = create_app(
        WebConfig(socket_url="http://localhost:1", identity_secret=None), name=f"desk_abuse_{secrets.token_hex(4)}"
    )
    server = DeskServer(app, Clock())
    yield server
    server.stop()


def agent(role: str = "agent") -> tuple[str, str]:
    name, password = f"{role}-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    AgentStore().add(name, password, role=role)
    return name, password


def random_name() -> str:
    return f"guess-{secrets.token_hex(4)}"


def signed_in(answer: requests.Response) -> bool:
    return answer.status_code == 303 and "porter_desk=" in answer.headers.get("Set-Cookie", "")


# --- the sign-in throttle ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_thirty_wrong_sign_ins_with_random_names_from_one_address_do_not_stop_an_agent(desk):
    name, password = agent()
    answers = [desk.sign_in(random_name(), "Summer2026!").status_code for _ in range(30)]
    assert answers == [401] * 30
    assert signed_in(desk.sign_in(name, password))


@pytest.mark.slow
def test_an_address_past_its_budget_is_slowed_but_an_agent_who_signed_in_there_still_gets_in(desk):
    name, password = agent()
    assert signed_in(desk.sign_in(name, password))  # the office's agent, on a normal morning
    for _ in range(ADDRESS_FREE_FAILURES + 1):  # the failure after the free ones starts the waiting
        assert desk.sign_in(random_name(), "Summer2026!").status_code == 401
    slowed = desk.sign_in(random_name(), "Summer2026!")
    assert slowed.status_code == 429 and "from your network" in slowed.text
    assert int(slowed.headers["Retry-After"]) >= 1
    assert signed_in(desk.sign_in(name, password))  # the same address, the right password


def test_an_account_under_attack_waits_longer_after_each_failure_then_lets_the_right_password_in(desk):
    name, password = agent()
    colleague = agent()
    for _ in range(4):  # three typos are free; the fourth failure starts the waiting
        assert desk.sign_in(name, "not the password").status_code == 401

    refused = desk.sign_in(name, password)  # even the right password waits: else the wait stops no guess
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"
    assert "Too many failed sign-ins for this name. Try again in 2 seconds." in refused.text
    assert "Set-Cookie" not in refused.headers
    assert signed_in(desk.sign_in(*colleague))  # the attack on one name does not touch the others

    desk.clock.advance(2)
    assert desk.sign_in(name, "still not it").status_code == 401
    longer = desk.sign_in(name, password)
    assert longer.status_code == 429 and longer.headers["Retry-After"] == "4"
    desk.clock.advance(3)
    assert desk.sign_in(name, password).headers["Retry-After"] == "1"

    desk.clock.advance(1)
    assert signed_in(desk.sign_in(name, password))
    assert desk.sign_in(name, "a typo after signing in").status_code == 401  # the slate is clean again


@pytest.mark.slow
def test_a_client_behind_a_trusted_proxy_is_told_apart_and_an_untrusted_peers_forwarded_for_is_ignored(desk):
    for _ in range(ADDRESS_FREE_FAILURES + 1):  # the failure after the free ones starts the waiting
        assert desk.sign_in(random_name(), "x", source=PROXY, forwarded_for="203.0.113.7").status_code == 401
    assert desk.sign_in(random_name(), "x", source=PROXY, forwarded_for="203.0.113.7").status_code == 429
    # another client of the same proxy is not slowed by the first one's guesses
    assert desk.sign_in(random_name(), "x", source=PROXY, forwarded_for="198.51.100.9").status_code == 401

    # a peer that is not a trusted proxy cannot dodge the count by naming a new client each time
    for n in range(ADDRESS_FREE_FAILURES + 1):
        assert desk.sign_in(random_name(), "x", forwarded_for=f"192.0.2.{n}").status_code == 401
    assert desk.sign_in(random_name(), "x", forwarded_for="192.0.2.250").status_code == 429


def test_the_throttle_memory_stays_bounded_after_100000_distinct_names(desk):
    name, password = agent()
    for n in range(100_000):  # from as many addresses: one address alone would be slowed long before
        desk.throttle.attempt(f"guess-{n}", f"10.{n >> 16}.{n >> 8 & 255}.{n & 255}")
    assert len(desk.throttle) <= 2 * MAX_KEYS
    # the newest failures are the ones kept: the last name guessed still counts its first failure
    last = ("guess-99999", "10.1.134.159")
    assert [desk.throttle.attempt(*last) for _ in range(3)] == [None, None, None]  # failures 2 to 4
    assert desk.throttle.attempt(*last) == Pause(2, ACCOUNT)  # forgotten, it would have had a free try left
    assert signed_in(desk.sign_in(name, password))


# --- notes follow the reply rule -----------------------------------------------------------------------------


def test_notes_on_a_ticket_claimed_by_another_agent_or_closed_are_refused_except_as_replies_allow(desk):
    store = TicketStore()
    claimed, _ = store.open_ticket(conversation_id="rest:notes-claimed", reason="shopper_asked")
    waiting, _ = store.open_ticket(conversation_id="rest:notes-waiting", reason="shopper_asked")
    closed, _ = store.open_ticket(conversation_id="rest:notes-closed", reason="shopper_asked")
    owner_name, owner_password = agent()
    owner, other, admin = (
        Desk(desk.url, *account) for account in ((owner_name, owner_password), agent(), agent("admin"))
    )
    assert owner.claim(claimed.id).status_code == 200
    assert owner.claim(closed.id).status_code == 200 and owner.resolve(closed.id).status_code == 200

    refused = other.note(claimed.id, "I'll take this one.")
    assert refused.status_code == 409 and refused.json() == {"error": f"ticket {claimed.id} is claimed by {owner_name}"}
    assert other.note(waiting.id, "Looks easy.").json() == {"error": f"claim ticket {waiting.id} first"}
    for anyone in (owner, admin):
        late = anyone.note(closed.id, "Afterthought.")
        assert late.status_code == 409 and late.json() == {"error": f"ticket {closed.id} is closed (resolved)"}
    assert admin.note(claimed.id, "Admin: refund approved.").status_code == 200
    assert owner.note(claimed.id, "Carrier called.").status_code == 200

    assert timeline_texts(owner.ticket(claimed.id), "note") == ["Admin: refund approved.", "Carrier called."]
    assert [m.text for m in store.messages(waiting.id)] == [] and [m.text for m in store.messages(closed.id)] == []


# --- one order, one place in the queue ------------------------------------------------------------------------


@pytest.fixture
def tuesday_morning(monkeypatch):
    monkeypatch.setattr(services, "now", lambda: TUESDAY_MORNING)


def ask_for_a_person(sender: str, order: str | None = None, verified: bool = True) -> list[dict]:
    """A shopper asks for a person in conversation ``sender``, having verified ``order`` in it (or only
    claiming it, with ``verified=False``); what Porter told them."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={"verified_order": order} if order else None,
        text="I want a person",
        intent="human_handoff",
        sender=sender,
        verified_by_lookup=verified,
    )
    asyncio.run(ActionRequestHandoff().run(dispatcher, tracker, {}))
    return dispatcher.messages


def place(messages: list[dict]) -> int | None:
    return next((m["position"] for m in messages if m["response"] == "utter_handoff_queue"), None)


def test_two_conversations_about_the_same_order_give_one_place_in_the_queue_and_the_agent_answers_both(
    actions_env, tuesday_morning, desk, rasa_api
):
    assert place(ask_for_a_person("web:tab-one", "A10024")) == 1
    assert place(ask_for_a_person("rest:someone-else")) == 2
    assert place(ask_for_a_person("whatsapp:34600111222", "A10024")) == 1  # the order's place, not a new one
    # a conversation that only claims the order (never verified it here) is not put with the shopper's
    assert place(ask_for_a_person("rest:stranger", "A10024", verified=False)) == 3

    store = TicketStore()
    first, second = store.open_for("web:tab-one"), store.open_for("whatsapp:34600111222")
    ana = Desk(desk.url, *agent())
    queue = ana.queue()["waiting"]
    # the stranger's claim is not shown as an order at all: an agent would take it for the shopper's
    assert [(t["order_number"], t["position"]) for t in queue] == [("A10024", 1), (None, 2), (None, 3)]
    assert queue[0]["id"] == first.id and second.id not in [t["id"] for t in queue]

    assert ana.claim(first.id).status_code == 200  # the order's other conversation comes with it
    assert sorted(t["id"] for t in ana.queue()["mine"]) == [first.id, second.id]
    assert any(
        f"Ticket {second.id} is another conversation about order A10024" in text
        for text in timeline_texts(ana.ticket(first.id), "note")
    )

    since = rasa_api.requests[-1].at if rasa_api.requests else 0.0
    assert ana.reply(second.id, "Hi, Ana here: I see you wrote on the website too.").status_code == 200
    assert ana.reply(first.id, "I'll answer you on WhatsApp, where you wrote last.").status_code == 200
    sent = {unquote(r.path): r.json[0]["text"] for r in rasa_api.received("/tracker/events", since)}
    assert sent == {
        "/conversations/whatsapp:34600111222/tracker/events": "Hi, Ana here: I see you wrote on the website too.",
        "/conversations/web:tab-one/tracker/events": "I'll answer you on WhatsApp, where you wrote last.",
    }

    # a third conversation about the order, now that Ana has it, goes straight to her: no queue to tell about
    told = ask_for_a_person("web:tab-two", "A10024")
    assert [m["response"] for m in told] == ["utter_handoff_requested"]
    assert store.open_for("web:tab-two").agent == ana.name
    assert [t["order_number"] for t in ana.queue()["waiting"]] == [None, None]
