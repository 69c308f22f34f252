"""Porter's outbound email against a real SMTP server on loopback: what arrives is what a shopper's mail client
would show, and what goes wrong is what an installing developer reads."""

from __future__ import annotations

import logging
import socket

import pytest

from bot.outreach.mailer import Letter, MailConfigError, MailUnavailable, SmtpSettings, build, send
from tests.support.porter_server import free_port
from tests.support.smtp_server import start_smtp

SHOPPER = "ana.souza@example.com"
SENDER = "Tienda Ñandú <hola@tienda.example>"
USER = "porter-mailer"
PASSWORD = "correct-horse-battery-staple"
UNSUBSCRIBE_URL = "https://tienda.example/baja?t=abc123&lang=es"


def spanish_letter(**changes) -> Letter:
    fields = dict(
        to=SHOPPER,
        subject="Tu pedido #1001 está en camino — ¡gracias, Ana!",
        language="es",
        paragraphs=[
            "Hola Ana, tu pedido salió del almacén y llegará el miércoles.",
            "Dirección de entrega:\nCalle Mayor 1, 3º izquierda\nLogroño",
        ],
        action=("Ver el seguimiento", "https://tienda.example/seguimiento/1001"),
        unsubscribe=("Darse de baja", UNSUBSCRIBE_URL),
        footer="Tienda Ñandú · Calle Mayor 1 · Logroño",
    )
    fields.update(changes)
    return Letter(**fields)


def settings_for(port: int, **changes) -> SmtpSettings:
    fields = dict(host="127.0.0.1", port=port, sender=SENDER, tls="none", timeout=5)
    fields.update(changes)
    return SmtpSettings(**fields)


@pytest.fixture
def smtp():
    with start_smtp() as server:
        yield server


@pytest.fixture
def smtp_with_login():
    with start_smtp(user=USER, password=PASSWORD) as server:
        yield server


def test_a_spanish_letter_arrives_once_with_both_parts_and_its_accents(smtp):
    message_id = send(spanish_letter(), settings_for(smtp.port))

    [mail] = smtp.wait_for(1)
    assert len(smtp.messages) == 1  # send() returns once the server accepted it: nothing more is on its way
    assert smtp.received[0].recipients == [SHOPPER]
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["Subject"] == "Tu pedido #1001 está en camino — ¡gracias, Ana!"
    assert mail["From"].addresses[0].display_name == "Tienda Ñandú"
    assert mail["From"].addresses[0].addr_spec == "hola@tienda.example"
    assert mail["To"] == SHOPPER
    assert mail["Date"]
    assert mail["Message-ID"] == message_id and message_id.endswith("@tienda.example>")
    assert mail["Content-Language"] == "es"
    assert mail["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    text, page = mail.get_body(("plain",)), mail.get_body(("html",))
    assert [part.get_content_charset() for part in (text, page)] == ["utf-8", "utf-8"]
    assert smtp.received[0].raw.isascii()  # 7-bit on the wire: no relay can mangle the accents
    plain = text.get_content().replace("\r\n", "\n")  # CRLF on the wire
    assert "llegará el miércoles" in plain
    assert "Calle Mayor 1, 3º izquierda\nLogroño" in plain
    assert "Ver el seguimiento: https://tienda.example/seguimiento/1001" in plain
    assert "Tienda Ñandú · Calle Mayor 1 · Logroño" in plain
    assert plain.rstrip().endswith(f"Darse de baja: {UNSUBSCRIBE_URL}")

    markup = page.get_content().replace("\r\n", "\n")
    assert '<html lang="es"' in markup
    assert "llegará el miércoles" in markup
    assert "Calle Mayor 1, 3º izquierda<br>\nLogroño" in markup
    assert 'href="https://tienda.example/seguimiento/1001"' in markup
    assert 'href="https://tienda.example/baja?t=abc123&amp;lang=es"' in markup


def test_markup_in_a_paragraph_arrives_escaped_in_the_html_part(smtp):
    attack = '<script>alert("hola")</script><img src=x onerror=alert(1)>'
    send(spanish_letter(paragraphs=[attack], footer="<b>Tienda</b>"), settings_for(smtp.port))

    [mail] = smtp.wait_for(1)
    markup = mail.get_body(("html",)).get_content()
    assert "<script" not in markup and "<img" not in markup and "<b>" not in markup
    assert "&lt;script&gt;alert(&quot;hola&quot;)&lt;/script&gt;" in markup
    assert "&lt;b&gt;Tienda&lt;/b&gt;" in markup
    assert attack in mail.get_body(("plain",)).get_content()  # plain text is shown as text, never rendered


def test_the_right_login_is_accepted(smtp_with_login):
    send(spanish_letter(), settings_for(smtp_with_login.port, user=USER, password=PASSWORD))

    [mail] = smtp_with_login.wait_for(1)
    assert mail["To"] == SHOPPER


def test_a_wrong_password_is_reported_without_the_password(smtp_with_login):
    wrong = "wrong-password-9f8e7d"
    with pytest.raises(MailUnavailable) as refused:
        send(spanish_letter(), settings_for(smtp_with_login.port, user=USER, password=wrong))

    message = str(refused.value)
    assert f"127.0.0.1:{smtp_with_login.port}" in message
    assert "refused the login" in message and "PORTER_SMTP_PASSWORD" in message
    assert wrong not in message and wrong not in repr(refused.value)
    assert smtp_with_login.messages == []


def test_a_server_that_requires_a_login_says_so(smtp_with_login):
    with pytest.raises(MailUnavailable, match="requires a login") as refused:
        send(spanish_letter(), settings_for(smtp_with_login.port))

    assert "PORTER_SMTP_USER" in str(refused.value)
    assert smtp_with_login.messages == []


def test_a_port_where_nothing_listens_is_reported():
    port = free_port()
    with pytest.raises(MailUnavailable) as unreachable:
        send(spanish_letter(), settings_for(port, user=USER, password=PASSWORD))

    message = str(unreachable.value)
    assert f"127.0.0.1:{port}" in message and "refused the connection" in message
    assert PASSWORD not in message


def test_a_server_that_never_answers_is_reported_after_the_timeout():
    with socket.socket() as silent:  # listens, so the connection is made, but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(MailUnavailable, match="did not answer within 0.3 s"):
            send(spanish_letter(), settings_for(port, timeout=0.3))


def test_the_log_line_masks_the_shopper(smtp, caplog):
    with caplog.at_level(logging.INFO, logger="bot.outreach.mailer"):
        message_id = send(spanish_letter(), settings_for(smtp.port))

    [line] = [record.getMessage() for record in caplog.records if record.name == "bot.outreach.mailer"]
    assert "a***@example.com" in line and message_id in line
    assert "ana.souza" not in caplog.text


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,hi", "/relative"])
def test_a_link_that_is_not_http_is_refused(smtp, url):
    with pytest.raises(ValueError, match="only http"):
        build(spanish_letter(action=("Ver", url)), SENDER)
    with pytest.raises(ValueError, match="only http"):
        send(spanish_letter(unsubscribe=("Baja", url)), settings_for(smtp.port))
    assert smtp.messages == []


def test_email_is_off_without_a_host(monkeypatch):
    assert SmtpSettings.from_env({}) is None
    assert SmtpSettings.from_env({"PORTER_SMTP_HOST": "  ", "PORTER_SMTP_FROM": SENDER}) is None
    monkeypatch.delenv("PORTER_SMTP_HOST", raising=False)
    assert SmtpSettings.from_env() is None


def test_settings_from_the_environment_and_their_defaults():
    base = {"PORTER_SMTP_HOST": "smtp.tienda.example", "PORTER_SMTP_FROM": SENDER}
    assert SmtpSettings.from_env(base) == SmtpSettings("smtp.tienda.example", 587, SENDER, tls="starttls")
    assert SmtpSettings.from_env({**base, "PORTER_SMTP_TLS": "SSL"}).port == 465
    assert SmtpSettings.from_env({**base, "PORTER_SMTP_TLS": "none"}).port == 25
    settings = SmtpSettings.from_env(
        {**base, "PORTER_SMTP_PORT": "2525", "PORTER_SMTP_USER": USER, "PORTER_SMTP_PASSWORD": PASSWORD}
    )
    assert (settings.port, settings.user, settings.password) == (2525, USER, PASSWORD)
    assert PASSWORD not in repr(settings) and USER in repr(settings)


@pytest.mark.parametrize(
    "changes, variable",
    [
        ({"PORTER_SMTP_PORT": "smtp"}, "PORTER_SMTP_PORT"),
        ({"PORTER_SMTP_PORT": "0"}, "PORTER_SMTP_PORT"),
        ({"PORTER_SMTP_PORT": "70000"}, "PORTER_SMTP_PORT"),
        ({"PORTER_SMTP_FROM": ""}, "PORTER_SMTP_FROM"),
        ({"PORTER_SMTP_FROM": "Tienda"}, "PORTER_SMTP_FROM"),
        ({"PORTER_SMTP_USER": USER}, "PORTER_SMTP_PASSWORD"),
        ({"PORTER_SMTP_PASSWORD": PASSWORD}, "PORTER_SMTP_USER"),
        ({"PORTER_SMTP_TLS": "tls1.3"}, "PORTER_SMTP_TLS"),
        ({"PORTER_SMTP_TIMEOUT": "soon"}, "PORTER_SMTP_TIMEOUT"),
    ],
)
def test_a_wrong_setting_names_its_variable(changes, variable):
    env = {"PORTER_SMTP_HOST": "smtp.tienda.example", "PORTER_SMTP_FROM": SENDER, **changes}
    with pytest.raises(MailConfigError, match=variable) as wrong:
        SmtpSettings.from_env(env)
    assert PASSWORD not in str(wrong.value)
