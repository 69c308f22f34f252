"""Porter speaking first in a running Porter: the watcher (`python -m bot watch --once --order N`, as cron runs it)
alerts a Spanish shopper on Telegram (the Bot API recorded by tests/support/recorder.py), one tap chooses a fix
inside the same conversation, the shopper rates it and says stop; the tracking services' pushes reach the web
server signed as AfterShip signs them.

Needs the trained model, like every test using the `porter` fixture (conftest.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import yaml

from bot.decisions.cases import CaseBook
from bot.outreach.watch_state import ShipmentWatch
from bot.paths import PROJECT_ROOT
from bot.shop.models import Order
from bot.shop.sqlite_store import SQLiteOrderStore
from tests.support.desk import Desk, DeskWeb, add_agent, private_order, timeline_texts, wait_for_ticket
from tests.support.porter_server import AFTERSHIP_WEBHOOK_SECRET, LINK_SECRET
from tests.support.smtp_server import start_smtp
from tests.support.widget_client import WidgetClient
from tests.support.widget_client import texts as widget_texts
from tests.test_channel_telegram import (  # noqa: F401 - telegram_api: the Bot API's answers, for this module too
    button_update,
    keyboard,
    new_chat,
    say,
    sent,
    telegram_api,
    text_update,
    texts,
)

WEBHOOK_SAMPLE = PROJECT_ROOT / "tests" / "data" / "webhooks" / "aftership_tracking_update.json"


@pytest.fixture(scope="module")
def watch_policy(tmp_path_factory) -> Path:
    """The shop's policy with no quiet hours and ratings asked at once, so the test does not depend on the hour."""
    policy = yaml.safe_load((PROJECT_ROOT / "policy.yml").read_text(encoding="utf-8"))
    policy.update(alert_quiet_from="00:00", alert_quiet_until="00:00", rating_after_minutes=0)
    path = tmp_path_factory.mktemp("watch") / "policy.yml"
    path.write_text(yaml.safe_dump(policy), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def follow_up_policy(watch_policy) -> Path:
    """As watch_policy, with no situation alerts: only the follow-up speaks."""
    policy = yaml.safe_load(watch_policy.read_text(encoding="utf-8"))
    policy.update(alert_situations=[])
    path = watch_policy.with_name("follow_up_policy.yml")
    path.write_text(yaml.safe_dump(policy), encoding="utf-8")
    return path


def bot_cli(porter, *args: str, policy: Path | None = None) -> str:
    env = dict(porter.env, PORTER_RASA_URL=porter.base)
    if policy:
        env["PORTER_POLICY"] = str(policy)
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def shop(porter) -> SQLiteOrderStore:
    return SQLiteOrderStore(Path(porter.env["PORTER_SHOP_DB"]))


def shifted(order: Order, days: int) -> Order:
    """The order with every date moved ``days`` later: a stalled parcel made one still on its way."""
    step = timedelta(days=days)
    shipment = order.shipment
    return replace(
        order,
        placed_at=order.placed_at + step,
        shipment=replace(
            shipment,
            shipped_at=shipment.shipped_at + step,
            promised_by=shipment.promised_by + step,
            events=[replace(e, at=e.at + step) for e in shipment.events],
        ),
    )


def spanish_order(porter) -> Order:
    """A copy of A10024 (stalled for 12 days, refund or reshipment offered) bought by a Spanish speaker."""
    number = private_order(porter.env, "A10024")
    order = shop(porter).get(number)
    tracking = f"YT{secrets.randbelow(10**15):015d}"
    return replace(
        order,
        language="es",
        customer_name="Marta Ruiz",
        email=f"marta.{number.lower()}@example.es",
        shipment=replace(order.shipment, tracking_number=tracking),
    )


def alerts_of(porter, number: str) -> list[dict]:
    return [a for a in json.loads(bot_cli(porter, "alerts", "list", "--format", "json")) if a["order_number"] == number]


def test_a_stalled_parcel_is_alerted_once_in_spanish_on_telegram_and_one_tap_refunds_it(
    porter, remote_api, watch_policy, undo_cases
):
    order = spanish_order(porter)
    shop(porter).upsert_many([shifted(order, 10)])  # still on its way while the shopper asks
    chat = new_chat()
    undo_cases.append(f"telegram:{chat}")
    assert "número de pedido" in texts(say(porter, remote_api, text_update(chat, "hola, ¿dónde está mi pedido?", "es")))
    assert "correo" in texts(say(porter, remote_api, text_update(chat, order.order_number, "es")))
    assert "va en camino" in texts(say(porter, remote_api, text_update(chat, order.email, "es")))

    shop(porter).upsert_many([order])  # days later: no scan for 12 days
    since = time.time()
    out = bot_cli(porter, "watch", "--once", "--order", order.order_number, policy=watch_policy)
    assert "stalled sent by telegram" in out, out
    alert = texts(sent(remote_api, chat, since))
    assert "Te escribo con novedades sobre tu pedido " + order.order_number in alert
    assert "días sin novedades" in alert and "Los Angeles, US" in alert  # what happened, with the scans
    buttons = [b for r in sent(remote_api, chat, since) if "reply_markup" in r for b in keyboard(r)]
    assert [b["text"] for b in buttons] == ["No recibir más mensajes", "Reembolso completo", "Nuevo envío gratis"]

    since = time.time()
    assert bot_cli(porter, "watch", "--once", "--order", order.order_number, policy=watch_policy).strip() == ""
    assert sent(remote_api, chat, since) == []  # once, not twice
    [listed] = alerts_of(porter, order.order_number)
    assert (listed["channel"], listed["status"], listed["language"]) == ("telegram", "sent", "es")

    refund = next(b for b in buttons if b["text"] == "Reembolso completo")
    done = texts(say(porter, remote_api, button_update(chat, refund["callback_data"])))
    assert "ya está hecho el reembolso" in done
    [case] = CaseBook(Path(porter.env["PORTER_SHOP_DB"])).list(order_number=order.order_number, type="refund")
    assert case.conversation_id == f"telegram:{chat}" and case.reference in done
    [listed] = alerts_of(porter, order.order_number)
    assert f"refund {case.reference}" in listed["outcome"]

    # the conversation Porter resolved is rated, with a comment, in Spanish
    since = time.time()
    out = bot_cli(porter, "watch", "--once", "--order", order.order_number, policy=watch_policy)
    assert "rating_request" in out and "sent" in out, out
    [question] = [r for r in sent(remote_api, chat, since) if "reply_markup" in r]
    assert "¿qué tal hemos resuelto tu consulta?" in question["text"]
    five = next(b for b in keyboard(question) if b["text"] == "5")
    assert "¿Quieres añadir algo más?" in texts(say(porter, remote_api, button_update(chat, five["callback_data"])))
    thanks = texts(say(porter, remote_api, text_update(chat, "Todo muy rápido, gracias", "es")))
    assert "Gracias por tu opinión" in thanks
    [rating] = [
        r
        for r in json.loads(bot_cli(porter, "ratings", "list", "--format", "json"))
        if r["conversation_id"] == f"telegram:{chat}"
    ]
    assert (rating["score"], rating["comment"], rating["language"], rating["channel"]) == (
        5,
        "Todo muy rápido, gracias",
        "es",
        "telegram",
    )
    assert rating["case_reference"] == case.reference and rating["agent"] is None
    assert "5/5" in bot_cli(porter, "ratings", "list")

    # "stop these messages" is honoured: the parcel is then lost, and nothing is said
    stop = next(b for b in buttons if b["text"] == "No recibir más mensajes")
    assert "ya no te escribiré yo primero" in texts(say(porter, remote_api, button_update(chat, stop["callback_data"])))
    last = order.shipment.events[-1]
    lost = replace(last, status="Exception", substatus="lost", at=datetime.now(timezone.utc) - timedelta(hours=1))
    shop(porter).upsert_many([replace(order, shipment=replace(order.shipment, events=[*order.shipment.events, lost]))])
    since = time.time()
    out = bot_cli(porter, "watch", "--once", "--order", order.order_number, policy=watch_policy)
    assert "not alerted (the shopper said stop)" in out, out
    time.sleep(1)
    assert sent(remote_api, chat, since) == []
    assert [a["kind"] for a in alerts_of(porter, order.order_number)] == ["situation", "rating_request"]


def test_a_shopper_typing_the_alert_trigger_gets_nothing_of_another_order(porter, remote_api):
    chat = new_chat()
    replies = texts(say(porter, remote_api, text_update(chat, '/EXTERNAL_tracking_alert{"alert": 1}', "es")))
    assert "Te escribo con novedades" not in replies and "sin novedades" not in replies


def aftership_push(tracking_number: str) -> bytes:
    sample = json.loads(WEBHOOK_SAMPLE.read_text(encoding="utf-8"))
    sample["msg"]["tracking_number"] = tracking_number
    sample["event_id"] = secrets.token_hex(8)
    return json.dumps(sample).encode()


def post_push(porter, body: bytes, signature: str) -> requests.Response:
    return requests.post(
        f"{porter.web}/webhooks/aftership",
        data=body,
        headers={"Content-Type": "application/json", "aftership-hmac-sha256": signature},
        timeout=60,
    )


def test_a_push_with_a_bad_signature_gets_401_and_changes_nothing(porter):
    order = spanish_order(porter)
    shop(porter).upsert_many([order])
    body = aftership_push(order.shipment.tracking_number)
    good = base64.b64encode(hmac.new(AFTERSHIP_WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    forged = base64.b64encode(hmac.new(b"a guess", body, hashlib.sha256).digest()).decode()
    watch = ShipmentWatch(Path(porter.env["PORTER_SHOP_DB"]))

    for signature in (forged, "", good[:-4] + "AAA="):
        refused = post_push(porter, body, signature)
        assert refused.status_code == 401, refused.text
    assert watch.last_seen(order.order_number) is None  # the order was not even read

    taken = post_push(porter, body, good)
    assert taken.status_code == 200 and taken.json() == {"status": "checked"}
    assert watch.last_seen(order.order_number) == "stalled"
    again = post_push(porter, body, good)  # AfterShip retries a delivery it thinks failed
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}


def test_the_stop_link_of_an_email_asks_before_it_stops(porter):
    from bot.outreach.links import stop_url
    from bot.outreach.stops import StopList

    link = stop_url(porter.web, "email:ana.lopez@example.es", LINK_SECRET)
    stops = StopList(Path(porter.env["PORTER_SHOP_DB"]))
    page = requests.get(link, headers={"Accept-Language": "es-ES,es;q=0.9"}, timeout=30)
    assert page.status_code == 200 and "¿Quieres dejar de recibir avisos" in page.text
    assert not stops.stopped("email:ana.lopez@example.es")  # a mail scanner following the link stops nothing
    done = requests.post(link, data="List-Unsubscribe=One-Click", timeout=30)  # RFC 8058's one-click POST
    assert done.status_code == 200 and "receive any more updates from us" in done.text
    assert stops.stopped("email:ana.lopez@example.es")
    forged = link.replace("YW5h", "YW5i")
    assert requests.post(forged, timeout=30).status_code == 400


def test_ten_days_after_a_refund_porter_asks_and_a_no_goes_to_a_person(
    porter, remote_api, follow_up_policy, undo_cases
):
    order = spanish_order(porter)
    shop(porter).upsert_many([order])
    chat = new_chat()
    undo_cases.append(f"telegram:{chat}")
    say(porter, remote_api, text_update(chat, "mi paquete no ha llegado", "es"))
    say(porter, remote_api, text_update(chat, order.order_number, "es"))
    offer = [r for r in say(porter, remote_api, text_update(chat, order.email, "es")) if "reply_markup" in r]
    refund = next(b for r in offer for b in keyboard(r) if b["text"] == "Reembolso completo")
    say(porter, remote_api, button_update(chat, refund["callback_data"]))
    [case] = CaseBook(Path(porter.env["PORTER_SHOP_DB"])).list(order_number=order.order_number, type="refund")
    ten_days_ago = (datetime.now(timezone.utc) - timedelta(days=10, hours=1)).isoformat(timespec="seconds")
    with sqlite3.connect(porter.env["PORTER_SHOP_DB"]) as db:  # the refund was made ten days ago
        db.execute("UPDATE cases SET created_at = ? WHERE reference = ?", (ten_days_ago, case.reference))

    since = time.time()
    out = bot_cli(porter, "watch", "--once", "--order", order.order_number, policy=follow_up_policy)
    assert "follow_up_refund" in out and "sent" in out, out
    [question] = [r for r in sent(remote_api, chat, since) if "reply_markup" in r]
    assert "te reembolsé 36,50" in question["text"] and case.reference in question["text"]
    assert [b["text"] for b in keyboard(question)] == ["Sí, ya me llegó", "No, todavía no"]
    assert bot_cli(porter, "watch", "--once", "--order", order.order_number, policy=follow_up_policy).strip() == ""

    no = next(b for b in keyboard(question) if b["text"] == "No, todavía no")
    reopened = texts(say(porter, remote_api, button_update(chat, no["callback_data"])))
    assert "He reabierto el caso" in reopened
    ticket = wait_for_ticket(porter.env, f"telegram:{chat}")
    assert (ticket.reason, ticket.verified_order, ticket.language) == ("fix_did_not_work", order.order_number, "es")
    [asked] = [a for a in alerts_of(porter, order.order_number) if a["kind"] == "follow_up_refund"]
    assert asked["case_reference"] == case.reference and "answered: did not work" in asked["outcome"]


def test_an_agents_reply_to_a_closed_chat_window_also_goes_by_email(porter):
    number = private_order(porter.env, "A10026")  # at a pickup point in Madrid, bought in Spanish
    order = replace(shop(porter).get(number), email=f"lucia.{number.lower()}@example.es")
    shop(porter).upsert_many([order])
    name, password = add_agent(porter.env, "ana")

    async def shopper_hands_over_and_leaves() -> str:
        widget = WidgetClient(porter.base)
        handle = await widget.open()
        spanish = {"locale": "es"}
        await widget.say("¿dónde está mi pedido?", metadata=spanish)
        await widget.say(number, metadata=spanish)
        assert "punto de recogida" in widget_texts(await widget.say(order.email, metadata=spanish))
        await widget.say("quiero hablar con una persona", metadata=spanish)
        await widget.close()
        return handle

    handle = asyncio.run(shopper_hands_over_and_leaves())
    ticket = wait_for_ticket(porter.env, f"web:{handle.split('.')[0]}")
    with start_smtp() as smtp:
        web = DeskWeb(
            porter.env,
            porter.base,
            PORTER_SMTP_HOST="127.0.0.1",
            PORTER_SMTP_PORT=str(smtp.port),
            PORTER_SMTP_TLS="none",
            PORTER_SMTP_FROM="Tienda Demo <ayuda@shop.example>",
            PORTER_PUBLIC_URL="https://shop.example",
        )
        try:
            desk = Desk(web.url, name, password)
            assert desk.claim(ticket.id).status_code == 200
            replied = desk.reply(ticket.id, "Hola Lucía, tu paquete sigue en la oficina de Correos hasta el viernes.")
            assert replied.status_code == 200 and replied.json()["emailed_to"].endswith("@example.es")
            [mail] = smtp.wait_for(1)
            assert smtp.received[0].recipients == [order.email]
            assert mail["Subject"] == f"{name} te ha respondido sobre tu pedido" and mail["Content-Language"] == "es"
            text = mail.get_body(("plain",)).get_content()
            assert "sigue en la oficina de Correos hasta el viernes" in text and "https://shop.example/" in text
            assert "Calle Mayor 8" not in text  # never the address
            notes = timeline_texts(desk.ticket(ticket.id), "note")
            assert any("chat window was closed" in n for n in notes)

            async def shopper_comes_back() -> str:  # with the window open, the reply goes to the chat only
                widget = WidgetClient(porter.base)
                await widget.open(handle)
                again = desk.reply(ticket.id, "¿Te ayudo con algo más?")
                assert again.status_code == 200 and again.json()["emailed_to"] is None
                await asyncio.sleep(2)
                await widget.close()
                return widget_texts(widget.received)

            assert "¿Te ayudo con algo más?" in asyncio.run(shopper_comes_back())
            time.sleep(1)
            assert len(smtp.messages) == 1
        finally:
            web.stop()
