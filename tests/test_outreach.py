"""Porter speaking first, without Rasa: the watcher's decisions on a fixed clock, with alerts that go by email to a
real SMTP server on loopback (tests/support/smtp_server.py) and the demo shop in a real SQLite database.

The chat route (Telegram, with Rasa running the alert) is in tests/test_outreach_live.py.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time as time_module
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.decisions.policy import load_policy
from bot.outreach import alert_book
from bot.outreach.alert_book import AlertBook
from bot.outreach.links import contact_of, stop_token
from bot.outreach.mailer import SmtpSettings
from bot.outreach.quiet_hours import is_quiet, next_allowed, shopper_zone
from bot.outreach.ratings import RatingBook
from bot.outreach.settings import OutreachSettings
from bot.outreach.stops import StopList, email_contact
from bot.outreach.watcher import Watcher
from bot.paths import PROJECT_ROOT
from bot.web.desk_rasa import DeskConfig, RasaConversations
from bot.authorization.verifications import VerificationLedger
from tests.support.porter_server import free_port
from tests.support.smtp_server import start_smtp

SECRET = "a-link-secret-for-tests"


class NoRasa:
    """The email route never talks to Rasa: any call is a failure of the test."""

    async def trigger(self, *args, **kwargs):
        raise AssertionError("the watcher talked to Rasa for an order no chat verified")

    async def events(self, *args, **kwargs):
        raise AssertionError("the watcher talked to Rasa for an order no chat verified")


@pytest.fixture
def smtp():
    with start_smtp() as server:
        yield server


@pytest.fixture
def spanish_stalled(demo_store):
    """A10024 (stalled for 12 days) bought by a Spanish speaker in Spain, who never wrote to the shop."""
    order = demo_store.get("A10024")
    address = replace(order.shipping_address, country="ES", city="Sevilla")
    demo_store.upsert_many(
        [
            replace(
                order,
                language="es",
                customer_name="Marta Ruiz",
                email="Marta.Ruiz@Example.es",
                shipping_address=address,
            )
        ]
    )
    return demo_store


def watcher(store, smtp, at: datetime, **policy_changes) -> Watcher:
    policy = replace(load_policy(), **policy_changes)
    settings = OutreachSettings("https://shop.example", "Tienda Demo", 0, SECRET, None)
    mail = SmtpSettings("127.0.0.1", smtp.port, "Tienda Demo <ayuda@shop.example>", tls="none")
    return Watcher(store, policy, settings, NoRasa(), smtp=mail, clock=lambda: at)


def madrid(hour: int, minute: int = 0, day: int = 0) -> datetime:
    local = datetime.now(ZoneInfo("Europe/Madrid")).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return (local + timedelta(days=day)).astimezone(timezone.utc)


def run(w: Watcher, *orders: str):
    return asyncio.run(w.run_once(list(orders) or None))


def test_a_stalled_order_with_no_chat_gets_one_spanish_email_with_the_scans(spanish_stalled, smtp):
    lines = run(watcher(spanish_stalled, smtp, madrid(11)), "A10024")
    assert any("stalled sent by email" in line for line in lines), lines
    [message] = smtp.wait_for(1)
    assert smtp.received[0].recipients == ["Marta.Ruiz@Example.es"]
    assert message["Subject"] == "Novedades sobre tu pedido A10024"
    assert message["Content-Language"] == "es"
    text = message.get_body(("plain",)).get_content()
    assert "Hola, Marta:" in text
    assert "días sin novedades" in text and "Los Angeles, US" in text  # the situation, with its scans
    assert "1420 Elm Street" not in text and "+1202" not in text  # never the address or the phone
    assert "https://shop.example/" in text
    stop_link = message["List-Unsubscribe"].strip("<>")
    assert contact_of(stop_link.split("t=", 1)[1], SECRET) == "email:marta.ruiz@example.es"
    [alert] = AlertBook().list()
    assert (alert.kind, alert.situation, alert.channel, alert.status, alert.language) == (
        "situation",
        "stalled",
        "email",
        "sent",
        "es",
    )


def test_the_same_situation_is_alerted_once_not_twice(spanish_stalled, smtp):
    run(watcher(spanish_stalled, smtp, madrid(11)), "A10024")
    smtp.wait_for(1)
    assert run(watcher(spanish_stalled, smtp, madrid(12)), "A10024") == []
    assert run(watcher(spanish_stalled, smtp, madrid(11, day=1)), "A10024") == []
    assert len(smtp.messages) == 1 and len(AlertBook().list()) == 1


def test_a_new_situation_within_the_policy_days_is_not_alerted_again(spanish_stalled, smtp):
    run(watcher(spanish_stalled, smtp, madrid(11)), "A10024")
    smtp.wait_for(1)
    order = spanish_stalled.get("A10024")
    lost = replace(order.shipment.events[-1], status="Exception", substatus="lost", at=madrid(12))
    spanish_stalled.upsert_many(
        [replace(order, shipment=replace(order.shipment, events=[*order.shipment.events, lost]))]
    )
    [line] = run(watcher(spanish_stalled, smtp, madrid(13)), "A10024")
    assert "not alerted (alerted on" in line
    assert len(smtp.messages) == 1


def test_at_night_in_the_shoppers_zone_the_alert_waits_for_the_morning(spanish_stalled, smtp):
    [line] = run(watcher(spanish_stalled, smtp, madrid(23, 30)), "A10024")
    assert "held for quiet hours" in line
    [held] = AlertBook().list()
    assert held.status == alert_book.HELD
    assert datetime.fromisoformat(held.due_at) == madrid(8, day=1)
    assert run(watcher(spanish_stalled, smtp, madrid(7, 59, day=1)), "A10024") == []
    assert smtp.messages == []
    lines = run(watcher(spanish_stalled, smtp, madrid(8, 1, day=1)), "A10024")
    assert any("sent by email" in line for line in lines)
    smtp.wait_for(1)
    assert AlertBook().get(held.id).status == alert_book.SENT


def test_a_shopper_who_said_stop_gets_nothing(spanish_stalled, smtp):
    StopList().stop([email_contact(" marta.ruiz@EXAMPLE.es ")], "email", datetime.now(timezone.utc))
    [line] = run(watcher(spanish_stalled, smtp, madrid(11)), "A10024")
    assert "said stop" in line
    assert smtp.messages == [] and AlertBook().list() == []


def test_situations_the_policy_leaves_out_are_not_alerted(spanish_stalled, smtp):
    assert run(watcher(spanish_stalled, smtp, madrid(11), alert_situations=("lost",)), "A10024") == []
    assert smtp.messages == []


def test_without_an_smtp_server_an_order_no_chat_discussed_is_not_alerted(spanish_stalled):
    policy = load_policy()
    settings = OutreachSettings("https://shop.example", "Tienda Demo", 0, SECRET, None)
    w = Watcher(spanish_stalled, policy, settings, NoRasa(), smtp=None, clock=lambda: madrid(11))
    [line] = asyncio.run(w.run_once(["A10024"]))
    assert "no chat and no SMTP server" in line


def test_quiet_hours_on_a_fixed_clock():
    night, morning = time(21), time(8)
    assert is_quiet(time(23), night, morning) and is_quiet(time(2), night, morning)
    assert not is_quiet(time(8), night, morning) and not is_quiet(time(20, 59), night, morning)
    assert not is_quiet(time(3), time(0), time(0))  # equal: never quiet
    assert is_quiet(time(13), time(12), time(14)) and not is_quiet(time(14), time(12), time(14))
    tokyo = shopper_zone("jp")
    now = datetime(2026, 12, 3, 14, 0, tzinfo=timezone.utc)  # 23:00 in Tokyo
    assert next_allowed(now, tokyo, night, morning) == datetime(2026, 12, 3, 23, 0, tzinfo=timezone.utc)
    assert next_allowed(now, shopper_zone("ES"), night, morning) == now  # 15:00 in Madrid
    assert shopper_zone("??").key == "UTC"


def test_a_stop_link_names_its_contact_and_cannot_be_forged():
    token = stop_token("email:ana@example.es", SECRET)
    assert contact_of(token, SECRET) == "email:ana@example.es"
    assert contact_of(token, "another secret") is None
    name, signature = token.split(".")
    forged = stop_token("email:other@example.es", SECRET).split(".")[0] + "." + signature
    assert contact_of(forged, SECRET) is None
    assert contact_of("x" * 700, SECRET) is None and contact_of(None, SECRET) is None


def test_a_rating_outside_1_to_5_is_refused(var):
    book = RatingBook()
    for wrong in (0, 6, True, "5"):
        with pytest.raises(ValueError):
            book.record("telegram:1", wrong, datetime.now(timezone.utc))
    kept = book.record("telegram:1", 4, datetime.now(timezone.utc), language="es", agent="Ana")
    book.comment(kept.id, "  muy   rápido " + "x" * 2000)
    again = book.get(kept.id)
    assert again.score == 4 and again.comment.startswith("muy rápido x") and len(again.comment) == 1000


def test_alerts_and_ratings_lists_on_the_command_line(spanish_stalled, smtp, monkeypatch):
    run(watcher(spanish_stalled, smtp, madrid(11)), "A10024")
    RatingBook().record("telegram:42", 5, datetime.now(timezone.utc), language="es", channel="telegram")
    listed = subprocess.run(
        [sys.executable, "-m", "bot", "alerts", "list", "--format", "json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    [alert] = json.loads(listed.stdout)
    assert (alert["order_number"], alert["channel"], alert["status"], alert["outcome"]) == (
        "A10024",
        "email",
        "sent",
        "-",
    )
    table = subprocess.run(
        [sys.executable, "-m", "bot", "ratings", "list"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert "5/5" in table.stdout and "telegram" in table.stdout and "Porter" in table.stdout


def test_an_smtp_server_that_is_down_is_tried_again_for_an_hour(spanish_stalled, smtp):
    closed = free_port()  # nothing listens there: the server surely never got the letter
    down = watcher(spanish_stalled, smtp, madrid(11))
    down.smtp = SmtpSettings("127.0.0.1", closed, "Tienda Demo <ayuda@shop.example>", tls="none", timeout=2)
    [line] = run(down, "A10024")
    assert "held again" in line and "connect" in line
    [alert] = AlertBook().list()
    assert alert.status == alert_book.HELD and datetime.fromisoformat(alert.due_at) == madrid(11, 5)
    assert run(watcher(spanish_stalled, smtp, madrid(11, 4)), "A10024") == []  # not before its time
    back = run(watcher(spanish_stalled, smtp, madrid(11, 6)), "A10024")  # the server is back
    assert any("sent by email" in line for line in back)
    assert len(smtp.wait_for(1)) == 1 and AlertBook().get(alert.id).status == alert_book.SENT


def test_after_an_hour_of_a_server_down_the_alert_is_given_up(spanish_stalled, smtp):
    for minutes in (0, 30, 61):
        down = watcher(spanish_stalled, smtp, madrid(11) + timedelta(minutes=minutes))
        down.smtp = SmtpSettings("127.0.0.1", free_port(), "Tienda Demo <ayuda@shop.example>", tls="none", timeout=2)
        run(down, "A10024")
    [alert] = AlertBook().list()
    assert alert.status == alert_book.FAILED and "gave up after 1:00:00" in alert.detail
    assert smtp.messages == []


def test_when_rasa_cannot_be_reached_the_chat_alert_waits_and_is_not_lost(spanish_stalled, smtp):
    VerificationLedger().record("telegram:7", "A10024", "email", time_module.time() - 3600)
    rasa = RasaConversations(DeskConfig(f"http://127.0.0.1:{free_port()}", "token", None, False, rasa_timeout=2))
    w = watcher(spanish_stalled, smtp, madrid(11))
    w.conversations = rasa
    try:
        [line] = run(w, "A10024")
    finally:
        asyncio.run(rasa.close())
    assert "held again" in line and "ClientConnectorError" in line and "token" not in line
    [alert] = AlertBook().list()
    assert (alert.channel, alert.conversation_id, alert.status) == ("telegram", "telegram:7", alert_book.HELD)
    assert smtp.messages == []  # a chat alert does not fall back to email because Rasa is down for a moment
