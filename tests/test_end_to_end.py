"""The running assistant, as a shop installs it: both servers started by `python -m bot serve`, a shopper
talking over the REST channel, and the outcome read back with `python -m bot cases list`.

Needs the trained model (`make test` trains it first; PORTER_MODEL points elsewhere). The `porter`
fixture (conftest.py) is shared with the channel tests.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys

import pytest
import requests

from bot.paths import PROJECT_ROOT
from tests.support.porter_server import TOKEN, start_porter


def say(porter, sender: str, text: str) -> list[dict]:
    response = requests.post(
        f"{porter.base}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
    )
    response.raise_for_status()
    return response.json()


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def cases(porter) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "cases", "list", "--format", "json"],
        cwd=PROJECT_ROOT,
        env=porter.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_a_stalled_parcel_is_refunded_end_to_end(porter, undo_cases):
    sender = "e2e-en-refund"
    undo_cases.extend([f"rest:{sender}", "rest:e2e-en-again"])
    assert "order number" in texts(say(porter, sender, "hi, my parcel never arrived"))
    assert "email" in texts(say(porter, sender, "A10024"))
    replies = say(porter, sender, "james.miller@example.com")
    explained = texts(replies)
    assert "12 days" in explained and "Los Angeles, US: in transit" in explained
    buttons = [b for r in replies for b in r.get("buttons", [])]
    assert [b["payload"] for b in buttons] == ['/inform{"fix":"refund"}', '/inform{"fix":"reship"}']

    confirmed = texts(say(porter, sender, buttons[0]["payload"]))
    reference = re.search(r"reference is (PC-[A-Z0-9]{6})", confirmed).group(1)
    refund = next(c for c in cases(porter) if c["reference"] == reference)
    assert (refund["type"], refund["order_number"], refund["amount"], refund["conversation_id"]) == (
        "refund",
        "A10024",
        36.5,
        f"rest:{sender}",
    )
    assert any(c["type"] == "carrier_claim" and c["order_number"] == "A10024" for c in cases(porter))

    # a second conversation about the order is told about the refund first and is never offered it again;
    # pressing the old button anyway refunds nothing
    say(porter, "e2e-en-again", "my parcel never arrived")
    say(porter, "e2e-en-again", "A10024")
    told = say(porter, "e2e-en-again", "james.miller@example.com")
    assert reference in texts(told)
    offered = [b["payload"] for r in told for b in r.get("buttons", [])]
    assert '/inform{"fix":"refund"}' not in offered and '/inform{"fix":"reship"}' not in offered
    say(porter, "e2e-en-again", '/inform{"fix":"refund"}')
    assert len([c for c in cases(porter) if c["type"] == "refund" and c["order_number"] == "A10024"]) == 1


def test_a_chinese_shopper_changes_the_address_before_shipping(porter):
    sender = "e2e-zh-address"
    assert "订单号" in texts(say(porter, sender, "我想改一下收货地址"))
    assert "邮箱" in texts(say(porter, sender, "A10030"))
    assert "修改地址" in texts(say(porter, sender, "chen.jie@example.hk"))
    read_back = say(porter, sender, "香港九龙弥敦道99号15楼C室")
    assert "香港九龙弥敦道99号15楼C室" in texts(read_back)
    done = texts(say(porter, sender, read_back[-1]["buttons"][0]["payload"]))
    assert "已完成" in done
    [case] = [c for c in cases(porter) if c["type"] == "address_change" and c["conversation_id"] == f"rest:{sender}"]
    assert case["details"]["new_address"] == "香港九龙弥敦道99号15楼C室"


def test_a_postal_code_in_an_address_does_not_replace_the_order_number(porter):
    sender = "e2e-en-postcode"
    say(porter, sender, "I need to change my shipping address")
    say(porter, sender, "A10030")
    say(porter, sender, "chen.jie@example.hk")
    assert "read it back" in texts(say(porter, sender, "Chen Jie, 12 rue des Lilas, 69003 Lyon, France"))
    tracker = requests.get(
        f"{porter.base}/conversations/rest:{sender}/tracker", params={"token": TOKEN}, timeout=30
    ).json()
    assert tracker["slots"]["order_number"] == "A10030" and tracker["slots"]["verified_order"] == "A10030"


def test_nothing_is_revealed_before_the_email_matches(porter):
    sender = "e2e-prober"
    say(porter, sender, "where is my order")
    say(porter, sender, "A10024")
    replies = texts(say(porter, sender, "guess@example.com")) + texts(say(porter, sender, "other@example.com"))
    assert "YunExpress" not in replies and "Springfield" not in replies and "Los Angeles" not in replies
    handed_over = texts(say(porter, sender, "third@example.com"))
    assert "a person from our team" in handed_over
    assert any(c["type"] == "handoff_request" and c["conversation_id"] == f"rest:{sender}" for c in cases(porter))


def test_model_parse_shows_language_and_entities_inside_chinese_text(porter):
    parsed = requests.post(
        f"{porter.base}/model/parse", params={"token": TOKEN}, json={"text": "订单号123456789的包裹还没到"}, timeout=30
    ).json()
    entities = {e["entity"]: e["value"] for e in parsed["entities"]}
    assert entities == {"language": "zh", "order_number": "123456789"}
    assert requests.post(f"{porter.base}/model/parse", json={"text": "hi"}, timeout=30).status_code == 401


@pytest.mark.live
def test_ctrl_c_stops_every_server(tmp_path):
    own = start_porter(tmp_path)  # its own instance: the shared one keeps serving the other live tests
    own.process.send_signal(signal.SIGINT)
    assert own.process.wait(timeout=30) == 0
    for port in (own.env["RASA_PORT"], own.env["ACTION_PORT"], own.env["PORTER_WEB_PORT"]):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", int(port))) != 0, f"port {port} still open"


def test_a_greeting_before_the_problem_starts_the_problems_flow_in_the_shoppers_language(porter):
    assert "número de pedido" in texts(say(porter, "e2e-es-hello", "hola, mi paquete no ha llegado todavía"))
    assert "Bestellnummer" in texts(say(porter, "e2e-de-hello", "hallo, mein Paket ist nicht angekommen"))


def test_a_problem_with_its_order_number_and_email_in_one_message_goes_straight_to_the_answer(porter):
    replies = texts(
        say(
            porter,
            "e2e-all-in-one",
            "hi, can you tell me where my order A10024 is? my mail is james.miller@example.com",
        )
    )
    assert "no new scan for 12 days" in replies and "Los Angeles" in replies
    assert "order number" not in replies and "email address you used" not in replies


def test_a_one_word_first_message_is_answered_in_its_language(porter):
    assert "Hola, soy Porter" in texts(say(porter, "e2e-hola", "hola"))
    assert "Bonjour, je suis Porter" in texts(say(porter, "e2e-bonjour", "bonjour"))
