"""Attacks on a running Porter, each as an attacker would try it from outside, against the real servers:
real HTTP, a real socket.io client, real SQLite files (issue 10). Every one of them worked before; each test
says what the attacker can no longer do.

Porter runs here as a shop runs it in production (`PORTER_ENV=production`, the REST channel behind a token,
no demo sign-in, the default rate limits), behind a trusted proxy on this machine, so each test can play its
own client address with `X-Forwarded-For`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import socket
import time

import pytest
import requests

from bot.decisions.cases import CaseBook
from tests.support.porter_server import TOKEN, WHATSAPP_APP_SECRET, WHATSAPP_PHONE_NUMBER_ID, start_porter
from tests.support.widget_client import WidgetClient, texts

pytestmark = pytest.mark.live  # starts its own Porter

REST_TOKEN = "rest-token-for-the-security-tests"
_addresses = (f"203.0.113.{n}" for n in itertools.count(1))
_wamids = itertools.count(int(time.time()))


@pytest.fixture(scope="module")
def shop(tmp_path_factory, remote_api):
    remote_api.route(
        "/graph",
        lambda request: (200, {"messaging_product": "whatsapp", "contacts": [], "messages": [{"id": "wamid.OUT"}]}),
    )
    var = tmp_path_factory.mktemp("security-var")
    running = start_porter(
        var,
        remote_api.url,
        extra_env={
            "PORTER_ENV": "production",
            "PORTER_REST_TOKEN": REST_TOKEN,
            "PORTER_DEMO": "",
            "PORTER_TRUSTED_PROXIES": "127.0.0.1,::1",
            "PORTER_RATE_CLIENT_PER_MINUTE": "60",
            "PORTER_RATE_NEW_CONVERSATIONS_PER_HOUR": "30",
            "PORTER_RATE_CONVERSATION_PER_MINUTE": "20",
        },
    )
    running.var = var
    yield running
    running.stop()


def client() -> str:
    """A fresh client address for one test (the proxy on this machine vouches for it)."""
    return next(_addresses)


def rest(
    shop, sender: str, text, metadata=None, address: str = "203.0.113.250", token: str = REST_TOKEN, body=None
) -> requests.Response:
    payload = (
        body
        if body is not None
        else {"sender": sender, "message": text, **({"metadata": metadata} if metadata is not None else {})}
    )
    return requests.post(
        f"{shop.base}/webhooks/rest/webhook",
        json=payload,
        timeout=120,
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": address},
    )


def said(answer: requests.Response) -> str:
    answer.raise_for_status()
    return "\n".join(m.get("text") or "" for m in answer.json())


def tracker(shop, conversation: str) -> dict:
    return requests.get(f"{shop.base}/conversations/{conversation}/tracker", params={"token": TOKEN}, timeout=30).json()


def cases(shop, **where) -> list:
    rows = [case.to_dict() for case in CaseBook(shop.var / "shop.db").list()]
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def action_token(shop) -> str:
    return (shop.var / "action_token").read_text().strip()


def action_url(shop) -> str:
    return f"http://127.0.0.1:{shop.env['ACTION_PORT']}"


def made_up_call(action: str, sender: str, slots: dict) -> dict:
    return {
        "next_action": action,
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {"language": "en", **slots},
            "latest_message": {},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


# --- 1. the action server is not a back door ----------------------------------------------------------------


def _own_addresses() -> list:
    found = set()
    for _, _, _, _, address in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
        if not address[0].startswith("127."):
            found.add(address[0])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            if not probe.getsockname()[0].startswith(("127.", "0.")):
                found.add(probe.getsockname()[0])
        except OSError:
            pass
    return sorted(found)


def test_the_action_server_listens_on_loopback_only(shop):
    port = int(shop.env["ACTION_PORT"])
    assert requests.get(f"{action_url(shop)}/health", timeout=10).status_code == 200
    others = _own_addresses()
    if not others:
        pytest.skip("this machine has no address besides loopback to try")
    for address in others:
        with socket.socket() as attempt:
            attempt.settimeout(3)
            assert attempt.connect_ex((address, port)) != 0, f"the action server answers on {address}"


def test_a_web_page_or_anyone_without_the_token_runs_no_action(shop):
    forged = made_up_call(
        "action_carry_out_fix",
        "rest:attacker",
        {"verified_order": "A10032", "fix": "refund", "problem": "parcel_not_received", "situation": "stalled"},
    )
    as_text = requests.post(
        f"{action_url(shop)}/webhook", data=json.dumps(forged), timeout=30, headers={"Content-Type": "text/plain"}
    )  # what a web page can send anywhere
    no_token = requests.post(f"{action_url(shop)}/webhook", json=forged, timeout=30)
    wrong_token = requests.post(
        f"{action_url(shop)}/webhook",
        json=forged,
        timeout=30,
        headers={"Authorization": "Bearer guessed-token-guessed-token"},
    )
    token_but_text = requests.post(
        f"{action_url(shop)}/webhook",
        data=json.dumps(forged),
        timeout=30,
        headers={"Authorization": f"Bearer {action_token(shop)}", "Content-Type": "text/plain"},
    )
    assert [r.status_code for r in (as_text, no_token, wrong_token, token_but_text)] == [401, 401, 401, 401]
    assert "access-control-allow-origin" not in {k.lower() for k in no_token.headers}
    assert requests.get(f"{action_url(shop)}/actions", timeout=10).status_code == 401
    assert cases(shop, order_number="A10032") == []


def test_even_with_the_token_a_made_up_tracker_moves_no_money_and_reads_no_order(shop):
    headers = {"Authorization": f"Bearer {action_token(shop)}"}
    refund = made_up_call(
        "action_carry_out_fix",
        "rest:forger",
        {
            "verified_order": "A10032",
            "fix": "refund",
            "problem": "parcel_not_received",
            "situation": "stalled",
            "offered_fixes": ["refund", "reship"],
        },
    )
    answer = requests.post(f"{action_url(shop)}/webhook", json=refund, headers=headers, timeout=60)
    assert answer.status_code == 200
    assert [r["response"] for r in answer.json()["responses"]][0] == "utter_fix_refused"
    assert [c["type"] for c in cases(shop, order_number="A10032")] == []  # 620 USD never offered, never paid

    read = made_up_call(
        "action_resolve_order", "rest:forger", {"verified_order": "A10024", "problem": "where_is_my_order"}
    )
    answer = requests.post(f"{action_url(shop)}/webhook", json=read, headers=headers, timeout=60)
    told = json.dumps(answer.json())
    assert answer.status_code == 200 and "utter_verification_handoff" in told
    assert "YunExpress" not in told and "Los Angeles" not in told and "utter_situation" not in told


# --- 2. a conversation id is not a password -------------------------------------------------------------------


def test_a_second_browser_claiming_a_shoppers_session_learns_and_receives_nothing(shop):
    async def attack():
        shopper, intruder = WidgetClient(shop.base, client()), WidgetClient(shop.base, client())
        handle = await shopper.open()
        await shopper.say("/greet")
        await shopper.say("where is my order")
        await shopper.say("A10024")
        told = texts(await shopper.say("james.miller@example.com", wait_for=2))
        assert "12 days" in told or "no new scan" in told
        key = handle.split(".")[0]
        taken = []
        for claim in (f"web:{key}", key, handle.replace(key, key[::-1]), "made-up-session"):
            intruder = WidgetClient(shop.base, client())
            taken.append(await intruder.open(claim))
            await intruder.close()
        assert handle not in taken and len(set(taken)) == len(taken)
        intruder = WidgetClient(shop.base, client())
        own = await intruder.open(f"web:{key}")
        heard = texts(await intruder.say("where is my order", session_id=handle))  # lies in the message too
        assert "A10024" not in heard and "order number" in heard
        # an agent's reply pushed to the shopper's conversation reaches the shopper only
        pushed = requests.post(
            f"{shop.base}/conversations/web:{key}/tracker/events",
            params={"token": TOKEN, "output_channel": "latest", "execute_side_effects": "true"},
            json=[{"event": "bot", "text": "Maria here: your refund is on its way."}],
            timeout=30,
        )
        assert pushed.status_code == 200
        await asyncio.sleep(2)
        assert "Maria here" in texts(shopper.received) and "Maria here" not in texts(intruder.received)
        assert own != handle
        await shopper.close()
        await intruder.close()

    asyncio.run(attack())


def _whatsapp(shop, wa_id: str, body: str) -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA-1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550001111",
                                "phone_number_id": WHATSAPP_PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "Shopper"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": f"wamid.SEC{next(_wamids)}",
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": body},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    raw = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(WHATSAPP_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    answer = requests.post(
        f"{shop.base}/webhooks/whatsapp/webhook",
        data=raw,
        timeout=30,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert answer.status_code == 200


def _wait_for_user_events(shop, conversation: str, count: int) -> dict:
    for _ in range(120):
        found = tracker(shop, conversation)
        if sum(1 for e in found.get("events") or [] if e["event"] == "user") >= count and (
            found.get("latest_action_name") == "action_listen" or found.get("paused")
        ):
            return found
        time.sleep(0.5)
    raise AssertionError(f"{conversation} did not get {count} messages")


def test_a_rest_caller_cannot_write_as_a_whatsapp_shopper_nor_replay_their_signed_number(shop):
    wa_id = "351912345678"  # the phone on order A10023
    _whatsapp(shop, wa_id, "where is my order")
    _whatsapp(shop, wa_id, "A10023")
    whatsapp = _wait_for_user_events(shop, f"whatsapp:{wa_id}", 2)
    assert whatsapp["slots"]["verified_order"] == "A10023"  # the number on the order vouched for the shopper
    claim = next(e["metadata"]["identity"] for e in whatsapp["events"] if e["event"] == "user")

    assert "order number" in said(rest(shop, wa_id, "where is my order", address=client()))
    replayed = said(rest(shop, wa_id, "A10023", metadata={"identity": claim}, address=client()))
    assert "email" in replayed and "Rua" not in replayed and "CTT" not in replayed
    assert tracker(shop, f"rest:{wa_id}")["slots"]["verified_order"] is None
    assert tracker(shop, f"whatsapp:{wa_id}")["events"] == whatsapp["events"]  # nothing written there


def test_a_verified_order_does_not_carry_into_a_new_session(shop):
    sender, address = "session-hopper", client()
    said(rest(shop, sender, "my parcel never arrived", address=address))
    said(rest(shop, sender, "A10029", address=address))
    offered = rest(shop, sender, "diego.hernandez@example.mx", address=address).json()
    assert any(b["payload"] == '/inform{"fix":"refund"}' for m in offered for b in m.get("buttons") or [])
    said(rest(shop, sender, "/session_start", address=address))
    after = said(rest(shop, sender, '/inform{"fix":"refund"}', address=address))
    assert "refunded" not in after
    assert cases(shop, order_number="A10029", type="refund") == []
    assert tracker(shop, f"rest:{sender}")["slots"]["verified_order"] is None


def test_the_rest_channel_needs_its_token_in_production(shop):
    without = requests.post(f"{shop.base}/webhooks/rest/webhook", json={"sender": "x", "message": "hi"}, timeout=30)
    wrong = rest(shop, "x", "hi", token="not-the-token")
    assert (without.status_code, wrong.status_code) == (401, 401)


# --- 3. signed identities cannot be replayed; the demo sign-in is off --------------------------------------


def test_outside_demo_mode_the_storefront_signs_in_nobody(shop):
    page = requests.get(f"{shop.web}/", params={"customer": "james.miller@example.com"}, timeout=30)
    assert page.status_code == 200 and "Signed in as" not in page.text and '"customer": null' in page.text
    session = requests.post(
        f"{shop.web}/widget/session",
        json={"session": None, "customer": "james.miller@example.com"},
        headers={"X-Forwarded-For": client()},
        timeout=30,
    ).json()
    assert session["identity"] is None and session["session"]


# --- 4. one message cannot freeze Porter ------------------------------------------------------------------


def test_a_megabyte_message_gets_a_polite_answer_in_the_shoppers_language_and_is_not_stored(shop):
    sender, address = "big-talker", client()
    said(rest(shop, sender, "hola, mi paquete no ha llegado todavía", address=address))
    huge = "palabra " * 131_072  # a megabyte of words
    answer = said(rest(shop, sender, huge, address=address))
    assert "demasiado largo" in answer and "4 000" in answer
    letters = said(rest(shop, sender, "a" * 40_000, address=address))  # the old 13-second email pattern
    assert "demasiado largo" in letters
    events = tracker(shop, f"rest:{sender}")["events"]
    assert max(len(e.get("text") or "") for e in events if e["event"] == "user") <= 4000
    just_under = said(rest(shop, sender, ("a" * 3990), address=address))
    assert just_under  # read and answered like any message


def test_broken_unicode_control_characters_and_bad_metadata_get_clear_answers(shop):
    address = client()
    raw = b'{"sender": "surrogate", "message": "where is my order \\ud800\\u0000\\u001b"}'
    answer = requests.post(
        f"{shop.base}/webhooks/rest/webhook",
        data=raw,
        timeout=60,
        headers={
            "Authorization": f"Bearer {REST_TOKEN}",
            "Content-Type": "application/json",
            "X-Forwarded-For": address,
        },
    )
    assert answer.status_code == 200 and "order number" in said(answer)
    stored = [e["text"] for e in tracker(shop, "rest:surrogate")["events"] if e["event"] == "user"]
    assert stored == ["where is my order"]
    for metadata in ("locale=fr", ["fr"], 7):
        refused = rest(shop, "bad-metadata", "hi", metadata=metadata, address=address)
        assert refused.status_code == 400 and "metadata" in refused.json()["error"]
    for body in ([1, 2], {"sender": 5, "message": "hi"}, {"sender": "x"}, {"sender": "a/../b", "message": "hi"}):
        assert rest(shop, "", "", body=body, address=address).status_code == 400
    assert not any(e["event"] == "user" for e in tracker(shop, "rest:bad-metadata").get("events") or [])


def test_the_widget_refuses_bad_metadata_and_caps_long_messages(shop):
    async def attack():
        widget = WidgetClient(shop.base, client())
        await widget.open()
        notice = texts(await widget.say("x" * 200_000))
        assert "too long" in notice
        await widget.say("hi", metadata="{not json")
        await asyncio.sleep(1)
        assert ("bad_request",) == widget.events[-1][:1]
        await widget.close()

    asyncio.run(attack())


# --- 9. abuse is bounded ------------------------------------------------------------------------------------


def test_one_conversation_or_one_client_cannot_flood_porter(shop):
    address = client()
    answers = [rest(shop, "flooder", "hi", address=address) for _ in range(22)]
    statuses = [a.status_code for a in answers]
    assert statuses[:20] == [200] * 20 and 429 in statuses[20:]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert rest(shop, "someone-else", "hi", address=client()).status_code == 200  # others are served


def test_new_senders_from_one_client_cannot_fill_the_agents_queue(shop):
    address = client()
    opened = 0
    for n in range(32):
        first = rest(shop, f"noise-{n}", "blue bananas fly over the moon", address=address)
        if first.status_code == 429:
            break
        opened += 1
        rest(shop, f"noise-{n}", "purple elephants sing", address=address)
    assert opened <= 30
    assert rest(shop, "noise-late", "hi", address=address).status_code == 429
    assert rest(shop, "a-real-shopper", "hi", address=client()).status_code == 200


def test_one_client_cannot_open_widget_sessions_without_end(shop):
    async def attack():
        address = client()
        handles = []
        for _ in range(31):
            widget = WidgetClient(shop.base, address)
            handles.append(await widget.open())
            await widget.close()
        assert all(handles[:30]) and handles[30] is None
        other = WidgetClient(shop.base, client())
        assert await other.open()
        await other.close()

    asyncio.run(attack())
