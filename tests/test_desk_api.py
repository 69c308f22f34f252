"""The agent desk over real HTTP: the running Porter (`porter` fixture), agents created with the operator CLI,
shoppers on the REST, WhatsApp and Telegram channels (the last two answered by the `remote_api` Recorder, so
the test sees what Porter actually sent to the shopper's number or chat).

Needs the trained model, like every test using the `porter` fixture (conftest.py).
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from bot.handoff.agents import AgentStore
from bot.languages import supported_languages
from bot.outreach.ratings import RatingBook
from bot.web.app import WebConfig, create_app
from bot.web.desk_canned import canned_replies
from tests.support.desk import (
    Desk,
    DeskWeb,
    add_agent,
    agents_cli,
    private_order,
    tickets,
    timeline_texts,
    wait_for_ticket,
)
from tests.support.porter_server import TOKEN, free_port, start_porter
from tests.support.slow_rasa import SlowRasa
from tests.test_channel_telegram import API as TELEGRAM_API
from tests.test_channel_telegram import _send_message as telegram_send_message
from tests.test_channel_telegram import button_update, new_chat, text_update
from tests.test_channel_telegram import post as telegram_post
from tests.test_channel_telegram import sent as telegram_sent
from tests.test_channel_whatsapp import message as whatsapp_message
from tests.test_channel_whatsapp import notification, sent_to, words
from tests.test_channel_whatsapp import post as whatsapp_post

ASK_FOR_A_PERSON = "I want to talk to a human"
XSS = "<script>alert('xss')</script><img src=x onerror=alert(1)>"


def rest_says(porter, sender: str, text: str) -> list[dict]:
    answer = requests.post(f"{porter.base}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
    answer.raise_for_status()
    return answer.json()


def hand_over_on_rest(porter, sender: str, *before: str, ask: str = ASK_FOR_A_PERSON):
    for text in before:
        rest_says(porter, sender, text)
    rest_says(porter, sender, ask)
    return wait_for_ticket(porter.env, f"rest:{sender}")


def tracker_events(porter, conversation_id: str) -> list[dict]:
    answer = requests.get(f"{porter.base}/conversations/{conversation_id}/tracker", params={"token": TOKEN}, timeout=30)
    answer.raise_for_status()
    return answer.json()["events"]


def desk_routes() -> list[tuple[str, str]]:
    """(method, path) of every route of the desk blueprint, read from the application itself."""
    app = create_app(
        WebConfig(socket_url="http://localhost:1", identity_secret=None), name=f"desk_routes_{secrets.token_hex(4)}"
    )
    found = []
    for route in app.router.routes:
        if ".desk." in route.name:
            for method in sorted(route.methods):
                found.append((method, "/" + route.path))
    return found


PUBLIC = {("GET", "/desk/sign-in"), ("POST", "/desk/sign-in")}


@pytest.fixture(scope="module")
def agent(porter):
    return add_agent(porter.env, "ana")


@pytest.fixture(scope="module")
def handed_over(porter):
    """A REST conversation waiting for a person."""
    return hand_over_on_rest(porter, f"desk-waiting-{secrets.token_hex(3)}", "hi")


# --- accounts ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_agents_are_added_and_listed_by_the_cli_with_clear_refusals(tmp_path):
    env = dict(os.environ, PORTER_VAR_DIR=str(tmp_path), PORTER_SHOP_DB=str(tmp_path / "shop.db"))
    added = agents_cli(env, "add", "maria.silva", "--password-stdin", password="correct horse battery")
    assert added.returncode == 0, added.stderr
    assert "added agent maria.silva" in added.stdout
    assert (
        agents_cli(env, "add", "li", "--role", "admin", "--password-stdin", password="another long one").returncode == 0
    )

    listed = agents_cli(env, "list").stdout
    assert "maria.silva" in listed and "li " in listed and "admin" in listed

    refusals = {
        "Maria.Silva": ("correct horse battery", [], "already exists"),
        "bob": ("short", [], "too short: use at least 10 characters"),
        "carol": ("", [], "the password is empty"),
        "dave": ("long enough password", ["--role", "boss"], "invalid choice: 'boss'"),
        "e ve": ("long enough password", [], "no spaces"),
    }
    for name, (password, extra, said) in refusals.items():
        refused = agents_cli(env, "add", name, *extra, "--password-stdin", password=password)
        assert refused.returncode == 2, (name, refused.stdout)
        assert said in refused.stderr, (name, refused.stderr)
    assert [line.split()[0] for line in agents_cli(env, "list").stdout.splitlines()] == ["li", "maria.silva"]

    # only a salted scrypt hash is kept: no password in the database, and equal passwords hash differently
    assert agents_cli(env, "add", "twin", "--password-stdin", password="correct horse battery").returncode == 0
    with sqlite3.connect(tmp_path / "shop.db") as db:
        hashes = dict(db.execute("SELECT name, password_hash FROM agents"))
        everything = "\n".join(str(row) for row in db.execute("SELECT * FROM agents"))
    assert "correct horse battery" not in everything
    assert hashes["maria.silva"].startswith("scrypt$") and hashes["maria.silva"] != hashes["twin"]


def test_sessions_keep_no_token_in_the_database_and_expire(var):
    store = AgentStore()
    agent = store.add("nina", "a long password")
    assert store.authenticate("nina", "a long password") == agent
    assert store.authenticate("nina", "a long passworD") is None
    assert store.authenticate("nobody", "a long password") is None

    token, session = store.start_session(agent)
    assert store.session(token).agent == agent and session.csrf_token
    with sqlite3.connect(var / "shop.db") as db:
        assert token not in "\n".join(str(row) for row in db.execute("SELECT * FROM agent_sessions"))
    store.end_session(token)
    assert store.session(token) is None

    expired_token, _ = AgentStore(session_hours=-1).start_session(agent)
    assert store.session(expired_token) is None


def test_signing_in_gives_a_strict_http_only_cookie_and_a_wrong_password_gets_nothing(porter, agent):
    name, password = agent
    wrong = requests.post(
        f"{porter.web}/desk/sign-in", data={"name": name, "password": password + "x"}, allow_redirects=False, timeout=30
    )
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    assert "Set-Cookie" not in wrong.headers

    desk = Desk(porter.web, name, password)
    cookie = desk.cookie_header
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/desk" in cookie
    assert desk.queue()["agent"] == {"name": name, "role": "agent"}

    signed_out = desk.http.post(
        f"{porter.web}/desk/sign-out", data={"csrf_token": desk.csrf}, allow_redirects=False, timeout=30
    )
    assert signed_out.status_code == 303 and signed_out.headers["Location"] == "/desk/sign-in"
    # the old cookie is dead on the server too, not only forgotten by this browser
    replayed = requests.get(f"{porter.web}/desk/api/queue", timeout=30, headers={"Cookie": cookie.split(";")[0]})
    assert replayed.status_code == 401


# --- every endpoint needs a session, and state changes need the CSRF token ----------------------------------


def _concrete(path: str, ticket_id: int) -> str:
    values = {"<ticket_id:int>": str(ticket_id), "<message_id:int>": "1", "<token:str>": "x" * 24}
    for placeholder, value in values.items():
        path = path.replace(placeholder, value)
    return path


def test_every_desk_endpoint_refuses_requests_without_a_session(porter, handed_over):
    routes = desk_routes()
    # the enumeration sees the desk (so a route added later is checked too)
    assert {
        ("GET", "/desk"),
        ("GET", "/desk/api/queue"),
        ("POST", "/desk/api/tickets/<ticket_id:int>/reply"),
        ("POST", "/desk/api/tickets/<ticket_id:int>/hand-back"),
    } <= set(routes)
    protected = [r for r in routes if r not in PUBLIC]
    assert len(protected) >= 10

    forged = {"Cookie": "porter_desk=" + secrets.token_urlsafe(32)}
    for method, path in protected:
        url = porter.web + _concrete(path, handed_over.id)
        for headers in ({}, forged):
            answer = requests.request(
                method, url, json={"text": "hello"}, headers=headers, allow_redirects=False, timeout=30
            )
            if path.startswith("/desk/api/"):
                assert answer.status_code == 401, (method, path, answer.status_code)
                assert answer.json() == {"error": "sign in first"}
            else:
                assert answer.status_code == 303, (method, path, answer.status_code)
                assert answer.headers["Location"].startswith("/desk/sign-in")
            assert handed_over.conversation_id not in answer.text

    # nothing happened: still waiting, unclaimed, no message, Porter still paused
    ticket = tickets(porter.env).get(handed_over.id)
    assert (ticket.status, ticket.agent) == ("waiting", None)
    assert tickets(porter.env).messages(ticket.id) == []
    assert rest_says(porter, handed_over.conversation_id.removeprefix("rest:"), "hello?") == []


def test_state_changes_need_the_sessions_csrf_token_and_a_page_of_our_own(porter, agent, handed_over):
    desk = Desk(porter.web, *agent)
    posts = [path for method, path in desk_routes() if method == "POST" and (method, path) not in PUBLIC]
    assert len(posts) >= 6
    for path in posts:
        url = _concrete(path, handed_over.id)
        assert desk.post(url, {"text": "hello"}, csrf=None).status_code == 403, path
        assert desk.post(url, {"text": "hello"}, csrf="guess-" + desk.csrf).status_code == 403, path
        cross_site = desk.post(url, {"text": "hello"}, headers={"Origin": "https://evil.example"})
        assert cross_site.status_code == 403, path
    ticket = tickets(porter.env).get(handed_over.id)
    assert (ticket.status, ticket.agent) == ("waiting", None)
    assert tickets(porter.env).messages(ticket.id) == []
    assert desk.queue()["agent"]["name"] == agent[0]  # the refusals did not sign the agent out


# --- shopper text stays text ---------------------------------------------------------------------------------


def test_a_script_sent_by_a_shopper_reaches_the_desk_as_inert_text(porter, agent):
    sender = f"desk-xss-{secrets.token_hex(3)}"
    ticket = hand_over_on_rest(porter, sender, "hi " + XSS)
    assert rest_says(porter, sender, "still there? " + XSS) == []  # paused: Porter says nothing

    desk = Desk(porter.web, *agent)
    answer = desk.get(f"/desk/api/tickets/{ticket.id}")
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    shopper = timeline_texts(answer.json(), "shopper")
    assert shopper[0] == "hi " + XSS and shopper[-1] == "still there? " + XSS  # before and after the handoff

    page = desk.get(f"/desk/tickets/{ticket.id}")
    assert page.status_code == 200 and "<script>alert" not in page.text and "onerror" not in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


# --- claiming ------------------------------------------------------------------------------------------------


def test_claiming_a_ticket_someone_has_fails_clearly_and_only_its_owner_or_an_admin_may_answer(porter, agent):
    ticket = hand_over_on_rest(porter, f"desk-claim-{secrets.token_hex(3)}", "hi")
    first = Desk(porter.web, *agent)
    other_name, other_password = add_agent(porter.env, "ben")
    other = Desk(porter.web, other_name, other_password)
    admin = Desk(porter.web, *add_agent(porter.env, "root", role="admin"))

    assert other.reply(ticket.id, "me first").json() == {"error": f"claim ticket {ticket.id} first"}
    assert first.claim(ticket.id).status_code == 200
    late = other.claim(ticket.id)
    assert late.status_code == 409
    assert late.json() == {"error": f"cannot claim: ticket {ticket.id} is claimed by {agent[0]}"}
    refused = other.reply(ticket.id, "let me answer")
    assert refused.status_code == 409 and refused.json()["error"] == f"ticket {ticket.id} is claimed by {agent[0]}"
    view = other.ticket(ticket.id)
    assert (view["may_act"], view["may_claim"]) == (False, False)
    assert [t["id"] for t in other.queue()["others"]].count(ticket.id) == 1
    assert [t["id"] for t in first.queue()["mine"]].count(ticket.id) == 1

    assert admin.reply(ticket.id, "An admin can step in.").status_code == 200
    assert first.resolve(ticket.id).json()["ticket"]["status"] == "resolved"
    closed = other.claim(ticket.id)
    assert closed.status_code == 409 and "resolved" in closed.json()["error"]
    assert first.reply(ticket.id, "too late").json() == {"error": f"ticket {ticket.id} is closed (resolved)"}
    assert first.post("/desk/api/tickets/999999/claim").status_code == 404


# --- replies reach the shopper's own channel -----------------------------------------------------------------


def test_a_rest_shopper_gets_the_reply_in_the_conversation_and_porter_back_after_hand_back(porter, agent):
    sender = f"desk-rest-{secrets.token_hex(3)}"
    ticket = hand_over_on_rest(porter, sender, "hi", "my parcel never arrived")
    desk = Desk(porter.web, *agent)
    waiting = [t for t in desk.queue()["waiting"] if t["id"] == ticket.id]
    assert waiting and waiting[0]["problem_name"] == "Parcel not received" and waiting[0]["channel_name"] == "REST API"

    assert desk.claim(ticket.id).status_code == 200
    assert desk.reply(ticket.id, "Hello, I'm Ana from the shop. Let me check.").status_code == 200
    assert desk.note(ticket.id, "Carrier contacted by phone.").status_code == 200
    # the REST channel cannot push: the reply is recorded in the conversation, as Porter's words are
    bot_said = [e.get("text") for e in tracker_events(porter, f"rest:{sender}") if e["event"] == "bot"]
    assert bot_said[-1] == "Hello, I'm Ana from the shop. Let me check."
    view = desk.ticket(ticket.id)
    assert [(i["kind"], i["text"], i["author"]) for i in view["timeline"][-2:]] == [
        ("agent", "Hello, I'm Ana from the shop. Let me check.", agent[0]),
        ("note", "Carrier contacted by phone.", agent[0]),
    ]
    assert "my parcel never arrived" in timeline_texts(view, "shopper")

    assert desk.hand_back(ticket.id).json()["ticket"]["status"] == "handed_back"
    answered = " ".join(r.get("text", "") for r in rest_says(porter, sender, "where is my order"))
    assert "order number" in answered
    assert tickets(porter.env).get(ticket.id).status == "handed_back"


def _cases_of(porter, order_number: str) -> list[dict]:
    from bot.decisions.cases import CaseBook

    return [c.to_dict() for c in CaseBook(Path(porter.env["PORTER_SHOP_DB"])).list(order_number=order_number)]


def test_an_agent_sees_the_order_and_its_earlier_refund_and_cannot_pay_it_twice(porter, agent):
    order_number = private_order(porter.env, "A10024")  # stalled: Porter offers a refund or a reshipment
    sender = f"desk-fix-{secrets.token_hex(3)}"
    rest_says(porter, sender, "my parcel never arrived")
    rest_says(porter, sender, order_number)
    offered = rest_says(porter, sender, "james.miller@example.com")
    assert '/inform{"fix":"refund"}' in [b["payload"] for r in offered for b in r.get("buttons", [])]
    refunded = " ".join(r.get("text", "") for r in rest_says(porter, sender, '/inform{"fix":"refund"}'))
    porters_refund = re.search(r"reference is (PC-[A-Z0-9]{6})", refunded).group(1)
    ticket = hand_over_on_rest(porter, sender)

    desk = Desk(porter.web, *agent)
    assert desk.fix(ticket.id, "refund").status_code == 409  # nothing before the ticket is claimed
    assert desk.claim(ticket.id).status_code == 200
    view = desk.ticket(ticket.id)
    order = view["order"]
    assert order["order_number"] == order_number and order["total"] == "$36.50"
    assert order["shipment"]["carrier"] == "YunExpress" and order["shipment"]["scans"]
    assert "james.miller" not in str(order)  # the order panel shows no email, phone or street
    [earlier] = [c for c in view["cases"] if c["type"] == "refund"]
    assert (earlier["reference"], earlier["money"], earlier["by"]) == (porters_refund, "$36.50", None)
    assert [f["fix"] for f in order["fixes"]] == ["refund", "partial_refund", "reship", "discount"]

    # Porter refunded this order: neither a second refund, a partial one nor a reshipment goes out
    for fix in ("refund", "partial_refund", "reship"):
        refused = desk.fix(ticket.id, fix)
        assert refused.status_code == 409, (fix, refused.text)
        assert porters_refund in refused.json()["error"] and "by Porter" in refused.json()["error"]
        assert "nothing was paid or sent again" in refused.json()["error"]
    assert [c["type"] for c in _cases_of(porter, order_number)].count("refund") == 1
    assert not any(c["type"] == "reshipment" for c in _cases_of(porter, order_number))

    # a discount code is given once, in the agent's name, and the shopper is told in Porter's words
    given = desk.fix(ticket.id, "discount")
    assert given.status_code == 200, given.text
    discount = given.json()["case"]
    assert discount["type"] == "discount" and discount["by"] == agent[0]
    [stored] = [c for c in _cases_of(porter, order_number) if c["type"] == "discount"]
    code = stored["details"]["code"]
    told = [e.get("text") or "" for e in tracker_events(porter, f"rest:{sender}") if e["event"] == "bot"][-1]
    assert f"Here is your code for 10% off your next order: {code}" in told and discount["reference"] in told
    view = desk.ticket(ticket.id)
    assert told in timeline_texts(view, "agent")
    assert any(discount["reference"] in text for text in timeline_texts(view, "note"))
    again = desk.fix(ticket.id, "discount")
    assert again.status_code == 409 and "Nothing was given again" in again.json()["error"]
    assert [c["type"] for c in _cases_of(porter, order_number)].count("discount") == 1

    assert desk.fix(ticket.id, "free_money").status_code == 400
    other = Desk(porter.web, *add_agent(porter.env, "bea"))
    assert "claimed by" in other.fix(ticket.id, "discount").json()["error"]


def test_an_agent_refunds_an_order_porter_did_not_and_the_shopper_is_told(porter, agent):
    order_number = private_order(porter.env, "A10024")
    sender = f"desk-refund-{secrets.token_hex(3)}"
    ticket = hand_over_on_rest(porter, sender, "my parcel never arrived", order_number, "james.miller@example.com")
    desk = Desk(porter.web, *agent)
    assert desk.claim(ticket.id).status_code == 200
    done = desk.fix(ticket.id, "refund")
    assert done.status_code == 200, done.text
    case = done.json()["case"]
    assert (case["type"], case["money"], case["by"]) == ("refund", "$36.50", agent[0])
    told = [e.get("text") or "" for e in tracker_events(porter, f"rest:{sender}") if e["event"] == "bot"][-1]
    assert told.startswith("Done: I've refunded $36.50 to your original payment method.") and case["reference"] in told
    second = desk.fix(ticket.id, "refund")
    assert second.status_code == 409 and f"by {agent[0]}" in second.json()["error"]
    assert len([c for c in _cases_of(porter, order_number) if c["type"] == "refund"]) == 1

    # the ticket is found by its order, the email the shopper typed, the refund's reference and its number
    for query in (order_number, "James.Miller@example.com", case["reference"].lower(), f"#{ticket.id}"):
        found = desk.get(f"/desk/api/search?q={quote(query)}")
        assert found.status_code == 200, found.text
        assert ticket.id in [t["id"] for t in found.json()["tickets"]], query
    assert desk.get(f"/desk/api/search?q={quote('nothing-like-this-anywhere')}").json()["tickets"] == []
    assert "3 to 200 characters" in desk.get("/desk/api/search?q=ab").json()["error"]
    assert desk.resolve(ticket.id).status_code == 200
    assert ticket.id in [t["id"] for t in desk.get("/desk/api/closed").json()["tickets"]]

    # the shopper comes back about the same order: the new ticket goes first and shows the earlier one
    again = hand_over_on_rest(porter, sender)
    view = desk.ticket(again.id)
    assert [(t["id"], t["status"]) for t in view["earlier"]] == [(ticket.id, "resolved")]
    assert view["ticket"]["priority"] == ["Contacted before"]

    # a conversation that verified no order: the agent is told what is missing
    unverified_ticket = hand_over_on_rest(porter, f"desk-unverified-{secrets.token_hex(3)}", "my parcel never arrived")
    assert desk.claim(unverified_ticket.id).status_code == 200
    unverified = desk.fix(unverified_ticket.id, "refund")
    assert unverified.status_code == 409 and "has not verified an order" in unverified.json()["error"]


def test_an_agent_transfers_a_ticket_and_the_next_releases_it_to_the_queue_where_it_keeps_its_place(porter, agent):
    sender = f"desk-pass-{secrets.token_hex(3)}"
    ticket = hand_over_on_rest(porter, sender, "my parcel never arrived")
    first, second = Desk(porter.web, *agent), Desk(porter.web, *add_agent(porter.env, "cleo"))
    assert second.post(f"/desk/api/tickets/{ticket.id}/pass", {"to": None}).status_code == 409  # not claimed
    assert first.claim(ticket.id).status_code == 200
    refused = second.post(f"/desk/api/tickets/{ticket.id}/pass", {"to": second.name})
    assert refused.status_code == 409 and f"claimed by {agent[0]}" in refused.json()["error"]
    assert first.post(f"/desk/api/tickets/{ticket.id}/pass", {"to": "nobody-like-this"}).status_code == 400
    assert first.post(f"/desk/api/tickets/{ticket.id}/pass", {}).status_code == 400

    moved = first.post(f"/desk/api/tickets/{ticket.id}/pass", {"to": second.name})
    assert moved.status_code == 200, moved.text
    assert moved.json()["ticket"]["agent"] == second.name
    said = [e.get("text") for e in tracker_events(porter, f"rest:{sender}") if e["event"] == "bot"]
    assert said[-1] == f"{second.name} from the shop's team has joined the conversation."
    assert first.reply(ticket.id, "still mine?").status_code == 409
    assert second.reply(ticket.id, "Hello, I'm taking over.").status_code == 200
    assert "Transferred to " + second.name + "." in timeline_texts(second.ticket(ticket.id), "note")

    released = second.post(f"/desk/api/tickets/{ticket.id}/pass", {"to": None})
    assert released.status_code == 200, released.text
    assert released.json()["ticket"]["status"] == "waiting" and released.json()["ticket"]["position"] >= 1
    assert ticket.id in [t["id"] for t in first.queue()["waiting"]]

    # an admin gives a waiting ticket to an agent, who is announced to the shopper; agents cannot
    assert first.post(f"/desk/api/tickets/{ticket.id}/pass", {"to": second.name}).status_code == 409
    admin = Desk(porter.web, *add_agent(porter.env, "boss", role="admin"))
    assigned = admin.post(f"/desk/api/tickets/{ticket.id}/pass", {"to": first.name})
    assert assigned.status_code == 200 and assigned.json()["ticket"]["agent"] == first.name
    said = [e.get("text") for e in tracker_events(porter, f"rest:{sender}") if e["event"] == "bot"]
    assert said[-1] == f"{first.name} from the shop's team has joined the conversation."


def test_a_shopper_writing_after_the_agent_last_looked_marks_the_ticket_unread_until_the_agent_opens_it(porter):
    desk = Desk(porter.web, *add_agent(porter.env, "dora"))
    sender = f"desk-unread-{secrets.token_hex(3)}"
    ticket = hand_over_on_rest(porter, sender, "my parcel never arrived")
    assert desk.claim(ticket.id).status_code == 200
    desk.ticket(ticket.id)  # the agent reads it

    def unread() -> bool:
        [mine] = [t for t in desk.queue()["mine"] if t["id"] == ticket.id]
        return mine["unread"]

    assert unread() is False
    rest_says(porter, sender, "hello? are you still there?")
    deadline = time.monotonic() + 30  # Rasa is asked at most every 10 s per conversation
    while not unread():
        assert time.monotonic() < deadline, "the new message never marked the ticket unread"
        time.sleep(1)
    assert "hello? are you still there?" in timeline_texts(desk.ticket(ticket.id), "shopper")
    assert unread() is False


@pytest.fixture(scope="module")
def graph_api(remote_api):
    remote_api.route(
        "/graph",
        lambda request: (
            200,
            {"messaging_product": "whatsapp", "contacts": [], "messages": [{"id": f"wamid.DESK{time.time_ns()}"}]},
        ),
    )
    return remote_api


def whatsapp_says(porter, wa_id: str, text: str) -> None:
    assert whatsapp_post(porter, notification(whatsapp_message(wa_id, body=text))).status_code == 200


def wait_for_whatsapp(remote_api, wa_id: str, since: float, fragment: str, timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sent_to(remote_api, wa_id, since)
        if any(fragment in words(m) for m in found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"nothing with {fragment!r} was sent to {wa_id}: {sent_to(remote_api, wa_id, since)}")


def test_an_agent_reply_reaches_the_whatsapp_number_and_porter_answers_again_after_hand_back(
    porter, remote_api, graph_api, agent
):
    wa_id = "44770090" + str(secrets.randbelow(9000) + 1000)
    whatsapp_says(porter, wa_id, "hi")
    whatsapp_says(porter, wa_id, ASK_FOR_A_PERSON)
    ticket = wait_for_ticket(porter.env, f"whatsapp:{wa_id}")
    assert ticket.channel == "whatsapp"
    desk = Desk(porter.web, *agent)
    assert [t for t in desk.queue()["waiting"] if t["id"] == ticket.id][0]["channel_name"] == "WhatsApp"
    assert desk.claim(ticket.id).status_code == 200

    since = time.time()
    assert desk.reply(ticket.id, "Hi, Ana here from the shop team. I'm on it.").status_code == 200
    [sent] = wait_for_whatsapp(remote_api, wa_id, since, "Ana here")
    assert (sent["to"], sent["type"], sent["text"]["body"]) == (
        wa_id,
        "text",
        "Hi, Ana here from the shop team. I'm on it.",
    )

    # the shopper answers on WhatsApp: the agent sees it, Porter stays quiet while a person owns the conversation
    since = time.time()
    whatsapp_says(porter, wa_id, "thank you, I'll wait here")
    deadline = time.monotonic() + 30
    while "thank you, I'll wait here" not in timeline_texts(desk.ticket(ticket.id), "shopper"):
        assert time.monotonic() < deadline, "the shopper's message never reached the desk"
        time.sleep(0.2)
    time.sleep(1.5)  # Porter, were it not paused, would have answered by now
    assert sent_to(remote_api, wa_id, since) == []

    assert desk.hand_back(ticket.id).status_code == 200
    since = time.time()
    whatsapp_says(porter, wa_id, "where is my order")
    wait_for_whatsapp(remote_api, wa_id, since, "order number")


def test_an_agent_reply_reaches_the_telegram_chat(porter, remote_api, agent):
    remote_api.route(f"{TELEGRAM_API}/sendMessage", telegram_send_message)
    chat = new_chat()
    for text in ("hi", ASK_FOR_A_PERSON):
        assert telegram_post(porter, text_update(chat, text)).status_code == 200
    ticket = wait_for_ticket(porter.env, f"telegram:{chat}")
    assert ticket.channel == "telegram"
    desk = Desk(porter.web, *agent)
    claimed = time.time()
    assert desk.claim(ticket.id).status_code == 200
    # the shopper is told who answers now, in their language
    joined = f"{agent[0]} from the shop's team has joined the conversation."
    assert wait_for_telegram(remote_api, chat, claimed) == [joined]

    since = time.time()
    assert desk.reply(ticket.id, "Hello from the shop's team on Telegram.").status_code == 200
    assert wait_for_telegram(remote_api, chat, since) == ["Hello from the shop's team on Telegram."]
    resolved = time.time()
    assert desk.resolve(ticket.id).json()["ticket"]["status"] == "resolved"
    assert wait_for_telegram(remote_api, chat, resolved) == [
        "You're back with Porter, the shop's assistant. Write to me any time.",
        "Before you go: how well was your request handled? Tap a number from 1 (poor) to 5 (excellent).",
    ]
    # the rating counts for the agent who resolved it, with the shopper's comment
    rated = time.time()
    assert telegram_post(porter, button_update(chat, '/rate{"rating":4}')).status_code == 200
    assert "anything you'd like to add" in " ".join(wait_for_telegram(remote_api, chat, rated))
    commented = time.time()
    assert telegram_post(porter, text_update(chat, "Quick and kind")).status_code == 200
    assert wait_for_telegram(remote_api, chat, commented) == ["Thank you for your feedback, it helps us get better."]
    [rating] = [r for r in RatingBook(Path(porter.env["PORTER_SHOP_DB"])).list() if r.ticket_id == ticket.id]
    assert (rating.score, rating.comment, rating.agent, rating.channel) == (4, "Quick and kind", agent[0], "telegram")
    # a second tap on an old rating button keeps nothing more
    again = time.time()
    assert telegram_post(porter, button_update(chat, '/rate{"rating":1}')).status_code == 200
    wait_for_telegram(remote_api, chat, again)
    assert [r.score for r in RatingBook(Path(porter.env["PORTER_SHOP_DB"])).list() if r.ticket_id == ticket.id] == [4]


def wait_for_telegram(remote_api, chat: int, since: float) -> list[str]:
    deadline = time.monotonic() + 30
    while not telegram_sent(remote_api, chat, since):
        assert time.monotonic() < deadline, "nothing reached Telegram"
        time.sleep(0.1)
    return [sent["text"] for sent in telegram_sent(remote_api, chat, since)]


# --- a restart loses nothing ---------------------------------------------------------------------------------


@pytest.mark.live
def test_a_restart_in_the_middle_of_a_handoff_keeps_the_queue_the_ticket_and_its_messages(tmp_path):
    own = start_porter(tmp_path)
    try:
        name, password = add_agent(own.env, "night")
        first, second, third = (f"restart-{n}-{secrets.token_hex(2)}" for n in ("a", "b", "c"))
        tickets_before = [hand_over_on_rest(own, sender, "hi") for sender in (first, second, third)]
        desk = Desk(own.web, name, password)
        owned = tickets_before[1]
        assert desk.claim(owned.id).status_code == 200
        assert desk.reply(owned.id, "I'm looking at your order now.").status_code == 200
        assert desk.note(owned.id, "Asked the warehouse.").status_code == 200
        before = desk.ticket(owned.id)["timeline"]
    finally:
        own.stop()
    assert own.process.returncode is not None

    again = start_porter(tmp_path)
    try:
        desk = Desk(again.web, name, password)
        queue = desk.queue()
        assert [(t["id"], t["position"]) for t in queue["waiting"]] == [
            (tickets_before[0].id, 1),
            (tickets_before[2].id, 2),
        ]
        assert [t["id"] for t in queue["mine"]] == [owned.id]
        view = desk.ticket(owned.id)
        assert (view["ticket"]["status"], view["ticket"]["agent"]) == ("claimed", name)
        assert [(i["kind"], i["text"]) for i in view["timeline"]] == [(i["kind"], i["text"]) for i in before]
        assert ("agent", "I'm looking at your order now.") in [(i["kind"], i["text"]) for i in view["timeline"]]
        assert rest_says(again, second, "are you still there?") == []  # still with a person after the restart
        assert "are you still there?" in timeline_texts(desk.ticket(owned.id), "shopper")

        assert desk.reply(owned.id, "Yes, still here.").status_code == 200
        assert desk.hand_back(owned.id).status_code == 200
        assert "order number" in " ".join(r.get("text", "") for r in rest_says(again, second, "where is my order"))
    finally:
        again.stop()


def test_the_desk_and_its_canned_replies_are_there_for_every_language(porter, agent):
    desk = Desk(porter.web, *agent)
    ticket = hand_over_on_rest(porter, f"desk-zh-{secrets.token_hex(3)}", "你好", ask="我想找人工客服")
    view = desk.ticket(ticket.id)
    assert view["ticket"]["language"] == "zh" and view["canned"]["language"] == "zh"
    assert any(agent[0] in reply["text"] and "您好" in reply["text"] for reply in view["canned"]["replies"])
    canned = canned_replies(None)
    assert set(canned) == set(supported_languages())
    assert all(len(replies) >= 4 for replies in canned.values())
    assert len({len(replies) for replies in canned.values()}) == 1  # the same replies in every language


def test_when_rasa_cannot_be_reached_the_desk_says_so_and_keeps_the_reply_as_not_sent(porter, agent):
    ticket = hand_over_on_rest(porter, f"desk-down-{secrets.token_hex(3)}", "hi")
    web = DeskWeb(porter.env, f"http://127.0.0.1:{free_port()}")
    try:
        desk = Desk(web.url, *agent)
        view = desk.ticket(ticket.id)
        assert view["live"] is False and "cannot be shown" in view["problem"]
        assert "hi" in timeline_texts(view, "shopper")  # the transcript on the ticket is still there

        assert desk.claim(ticket.id).status_code == 200
        refused = desk.reply(ticket.id, "Are you there?")
        assert refused.status_code == 502 and "not sent" in refused.json()["error"]
        assert TOKEN not in refused.text
        # kept on the ticket for the agent to see and retry, not lost with the failed request
        [kept] = tickets(porter.env).messages(ticket.id)
        assert (kept.text, kept.delivery, refused.json()["message"]["id"]) == (
            "Are you there?",
            "not_confirmed",
            kept.id,
        )
        assert deliveries(desk, ticket.id) == [("Are you there?", "not_confirmed")]
        # whether it arrived cannot be read, so a retry does not send it: it might say it twice
        retried = retry(desk, ticket.id, kept.id)
        assert retried.status_code == 502 and "not sent again" in retried.json()["error"]
        assert tickets(porter.env).messages(ticket.id)[0].delivery == "not_confirmed"
        assert desk.hand_back(ticket.id).status_code == 502
        assert tickets(porter.env).get(ticket.id).status == "claimed"
    finally:
        log = web.stop()
    assert TOKEN not in log and agent[0] not in log and "desk: " in log


# --- a reply is never lost, nor sent twice, when Rasa answers late or not at all -------------------------------


def retry(desk: Desk, ticket_id: int, message_id: int) -> requests.Response:
    return desk.post(f"/desk/api/tickets/{ticket_id}/replies/{message_id}/retry")


def deliveries(desk: Desk, ticket_id: int) -> list[tuple[str, str]]:
    """The agents' replies as the desk shows them: (text, delivery state)."""
    return [(item["text"], item["delivery"]) for item in desk.ticket(ticket_id)["timeline"] if item["kind"] == "agent"]


@pytest.fixture(scope="module")
def slow_desk(porter, agent):
    """A desk that reaches the real Rasa through SlowRasa and waits for it 2 seconds instead of 15."""
    proxy = SlowRasa(porter.base)
    web = DeskWeb(porter.env, proxy.url, PORTER_DESK_RASA_TIMEOUT="2")
    try:
        yield proxy, Desk(web.url, *agent)
    finally:
        proxy.release()
        web.stop()
        proxy.close()


def claimed_telegram_ticket(porter, remote_api, desk: Desk) -> tuple[int, int]:
    remote_api.route(f"{TELEGRAM_API}/sendMessage", telegram_send_message)
    chat = new_chat()
    for text in ("hi", ASK_FOR_A_PERSON):
        assert telegram_post(porter, text_update(chat, text)).status_code == 200
    ticket = wait_for_ticket(porter.env, f"telegram:{chat}")
    assert desk.claim(ticket.id).status_code == 200
    return chat, ticket.id


def telegram_got(remote_api, chat: int, since: float) -> list[str]:
    return [sent["text"] for sent in telegram_sent(remote_api, chat, since)]


def test_a_reply_rasa_delivers_after_the_desk_stopped_waiting_is_shown_as_sent_and_sent_once(
    porter, remote_api, slow_desk
):
    proxy, desk = slow_desk
    chat, ticket_id = claimed_telegram_ticket(porter, remote_api, desk)
    since, text = time.time(), "Hi, Ana here. Your parcel is with the courier; I'm checking where."
    proxy.set(replies="late")
    answer = desk.reply(ticket_id, text)
    proxy.release()
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"]["delivery"] == "sent"
    assert deliveries(desk, ticket_id) == [(text, "sent")]
    assert telegram_got(remote_api, chat, since) == [text]
    # a retry of a reply that is sent sends nothing
    assert retry(desk, ticket_id, answer.json()["message"]["id"]).status_code == 409
    assert telegram_got(remote_api, chat, since) == [text]


def test_a_reply_rasa_never_got_stays_not_sent_until_a_retry_sends_it_once(porter, remote_api, slow_desk):
    proxy, desk = slow_desk
    chat, ticket_id = claimed_telegram_ticket(porter, remote_api, desk)
    since, text = time.time(), "Sorry for the wait, I'm here now."
    proxy.set(replies="lost")
    answer = desk.reply(ticket_id, text)
    proxy.release()
    assert answer.status_code == 502 and "Retry" in answer.json()["error"]
    message_id = answer.json()["message"]["id"]
    assert deliveries(desk, ticket_id) == [(text, "not_confirmed")]
    assert telegram_got(remote_api, chat, since) == []

    proxy.set(replies="pass")
    retried = retry(desk, ticket_id, message_id)
    assert retried.status_code == 200 and retried.json()["message"]["delivery"] == "sent"
    assert telegram_got(remote_api, chat, since) == [text]
    assert retry(desk, ticket_id, message_id).status_code == 409
    assert deliveries(desk, ticket_id) == [(text, "sent")] and telegram_got(remote_api, chat, since) == [text]


def test_a_retry_checks_the_conversation_first_and_never_sends_a_delivered_reply_twice(porter, remote_api, slow_desk):
    proxy, desk = slow_desk
    chat, ticket_id = claimed_telegram_ticket(porter, remote_api, desk)
    since, text = time.time(), "I've asked the courier to call you tomorrow."
    proxy.set(replies="late", reads="fail")  # Rasa sends it, then can neither answer nor be read in time
    answer = desk.reply(ticket_id, text)
    proxy.release()
    assert answer.status_code == 502 and answer.json()["message"]["delivery"] == "not_confirmed"
    assert telegram_got(remote_api, chat, since) == [text]  # it did reach the shopper

    proxy.set(replies="pass")
    assert deliveries(desk, ticket_id) == [(text, "sent")]  # the conversation shows it
    retried = retry(desk, ticket_id, answer.json()["message"]["id"])
    assert retried.status_code == 200 and retried.json()["message"]["delivery"] == "sent"
    assert telegram_got(remote_api, chat, since) == [text]  # and the retry did not send it again
    assert tickets(porter.env).messages(ticket_id)[-1].delivery == "sent"
