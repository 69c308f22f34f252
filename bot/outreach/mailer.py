"""Porter's outbound email: one letter to one shopper, over the shop's own SMTP server.

A letter goes out as multipart/alternative (plain text and HTML, both UTF-8) so every mail client shows it, with
``List-Unsubscribe`` and one-click ``List-Unsubscribe-Post`` (RFC 8058) because the big mailbox providers file
bulk-looking mail without them as spam. Every value in the HTML is escaped and links must be http(s): the words
come from catalogs and shop data, and a shopper's name or an order note must never become markup.

Settings (environment): ``PORTER_SMTP_HOST`` (unset: Porter sends no email), ``PORTER_SMTP_PORT`` (587 for
starttls, 465 for ssl, 25 for none), ``PORTER_SMTP_FROM`` (``Shop <help@shop.example>``), ``PORTER_SMTP_USER``
and ``PORTER_SMTP_PASSWORD`` (both or neither), ``PORTER_SMTP_TLS`` (``starttls``, ``ssl`` or ``none``),
``PORTER_SMTP_TIMEOUT`` (seconds per network wait, default 15).

Errors and log lines name the server and the step that failed, never the password, and mask the shopper's
address (``bot.identifiers.mask_email``), so the caller can log them as they are.
"""

from __future__ import annotations

import html
import logging
import os
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from bot.env_seconds import seconds_setting
from bot.identifiers import EMAIL_RE, mask_email

logger = logging.getLogger(__name__)

TLS_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_TIMEOUT = 15.0
RTL_LANGUAGES = {"ar", "fa", "he", "ur"}
_LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
# Characters that have no place in a link we print into a header (<url>) or an attribute.
_URL_FORBIDDEN = re.compile(r"[\s<>\"'\\\x00-\x1f\x7f]")

Link = Tuple[str, str]  # label, url


class MailConfigError(ValueError):
    """A PORTER_SMTP_* setting is wrong; the message names the variable and what it expects."""


class MailUnavailable(RuntimeError):
    """The letter could not be handed to the SMTP server; the message says which step failed, never a secret.
    ``step`` is that step: before "send", the server surely has not got the letter."""

    def __init__(self, message: str, step: str = "send") -> None:
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    user: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    tls: str = "starttls"
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise MailConfigError(f"SMTP tls must be one of {', '.join(TLS_MODES)}, not {self.tls!r}")
        if not 1 <= self.port <= 65535:
            raise MailConfigError(f"SMTP port must be between 1 and 65535, not {self.port}")
        if bool(self.user) != bool(self.password):
            raise MailConfigError("SMTP user and password go together: set both or neither")
        if not self.timeout > 0:
            raise MailConfigError("SMTP timeout must be a positive number of seconds")

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> Optional["SmtpSettings"]:
        """The settings from PORTER_SMTP_*, or None when no host is set (email is off). A wrong value stops the
        start with MailConfigError instead of failing on the first letter hours later."""
        env = os.environ if environ is None else environ
        host = (env.get("PORTER_SMTP_HOST") or "").strip()
        if not host:
            return None
        tls = (env.get("PORTER_SMTP_TLS") or "starttls").strip().lower()
        if tls not in TLS_MODES:
            raise MailConfigError(f"PORTER_SMTP_TLS={tls!r} must be one of: {', '.join(TLS_MODES)}")
        sender = (env.get("PORTER_SMTP_FROM") or "").strip()
        if not sender:
            raise MailConfigError("PORTER_SMTP_FROM is required when PORTER_SMTP_HOST is set: the From address")
        if not _is_address(sender):
            raise MailConfigError(
                f"PORTER_SMTP_FROM={sender!r} must be an email address, e.g. 'Shop <help@shop.example>'"
            )
        user = env.get("PORTER_SMTP_USER") or None
        password = env.get("PORTER_SMTP_PASSWORD") or None
        if user and not password:
            raise MailConfigError("PORTER_SMTP_PASSWORD is required when PORTER_SMTP_USER is set")
        if password and not user:
            raise MailConfigError("PORTER_SMTP_USER is required when PORTER_SMTP_PASSWORD is set")
        return cls(
            host=host,
            port=_port(env.get("PORTER_SMTP_PORT"), tls),
            sender=sender,
            user=user,
            password=password,
            tls=tls,
            timeout=seconds_setting(env, "PORTER_SMTP_TIMEOUT", DEFAULT_TIMEOUT, least=1.0, error=MailConfigError),
        )


def _port(raw: Optional[str], tls: str) -> int:
    raw = (raw or "").strip()
    if not raw:
        return DEFAULT_PORTS[tls]
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise MailConfigError(f"PORTER_SMTP_PORT={raw!r} must be a whole number from 1 to 65535")
    return int(raw)


def _is_address(value: str) -> bool:
    address = parseaddr(value)[1]
    local, _, domain = address.rpartition("@")
    return bool(local) and "." in domain.strip(".")


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    language: str
    paragraphs: Sequence[str]
    action: Optional[Link]
    unsubscribe: Link
    footer: str


def build(letter: Letter, sender: str) -> EmailMessage:
    """The letter as a ready-to-send message. ValueError for what must not go out: a link that is not http(s),
    an address without a domain, a language code that is not one, a line break in a header."""
    if not _is_address(sender):
        raise ValueError("the sender must be an email address with a domain")
    if not _is_address(letter.to):
        raise ValueError("the recipient must be an email address with a domain")
    if not _LANGUAGE_RE.fullmatch(letter.language or ""):
        raise ValueError(f"{letter.language!r} is not a language code like 'es' or 'pt-BR'")
    action = (letter.action[0], _checked_url(letter.action[1])) if letter.action else None
    unsubscribe = (letter.unsubscribe[0], _checked_url(letter.unsubscribe[1]))

    message = EmailMessage()
    message["Subject"] = letter.subject
    message["From"] = sender
    message["To"] = letter.to
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2])
    message["List-Unsubscribe"] = f"<{unsubscribe[1]}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable keeps the mail 7-bit: smtplib does not ask for 8BITMIME, and some relays mangle raw UTF-8.
    message.set_content(_text(letter, action, unsubscribe), charset="utf-8", cte="quoted-printable")
    message.add_alternative(_html(letter, action, unsubscribe), subtype="html", charset="utf-8", cte="quoted-printable")
    # After the body: making the message multipart moves every Content-* header down into the first part.
    message["Content-Language"] = letter.language
    return message


def _checked_url(url: str) -> str:
    """Only absolute http(s) links: a ``javascript:`` or ``data:`` link in a shop's mail is an attack."""
    parts = urlsplit(url or "")
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or _URL_FORBIDDEN.search(url):
        raise ValueError(f"only http(s) links can go in a letter, not {url[:60]!r}")
    return url


def _text(letter: Letter, action: Optional[Link], unsubscribe: Link) -> str:
    blocks = [paragraph.strip() for paragraph in letter.paragraphs]
    if action:
        blocks.append(f"{action[0]}: {action[1]}")
    if letter.footer.strip():
        blocks.append(letter.footer.strip())
    blocks.append(f"{unsubscribe[0]}: {unsubscribe[1]}")
    return "\n\n".join(blocks) + "\n"


def _escaped(text: str) -> str:
    """Escaped, with the paragraph's own line breaks kept (an address, a list of items)."""
    return "<br>\n".join(html.escape(line) for line in text.strip().splitlines())


def _html(letter: Letter, action: Optional[Link], unsubscribe: Link) -> str:
    language = html.escape(letter.language)
    direction = "rtl" if letter.language.split("-")[0].lower() in RTL_LANGUAGES else "ltr"
    body = [f'<p style="margin:0 0 16px;">{_escaped(paragraph)}</p>' for paragraph in letter.paragraphs]
    if action:
        body.append(
            '<p style="margin:24px 0;">'
            f'<a href="{html.escape(action[1])}" style="display:inline-block;padding:12px 20px;'
            'background:#1d4ed8;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:bold;">'
            f"{html.escape(action[0])}</a></p>"
        )
    body.append('<hr style="border:none;border-top:1px solid #e5e7eb;margin:24px 0;">')
    if letter.footer.strip():
        body.append(f'<p style="margin:0 0 8px;font-size:13px;color:#6b7280;">{_escaped(letter.footer)}</p>')
    body.append(
        f'<p style="margin:0;font-size:13px;"><a href="{html.escape(unsubscribe[1])}" style="color:#6b7280;">'
        f"{html.escape(unsubscribe[0])}</a></p>"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{language}" dir="{direction}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(letter.subject)}</title>\n</head>\n"
        '<body style="margin:0;padding:24px 12px;background:#f4f4f5;">\n'
        '<div style="max-width:560px;margin:0 auto;padding:24px;background:#ffffff;border-radius:8px;'
        'font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#1f2937;">\n'
        + "\n".join(body)
        + "\n</div>\n</body>\n</html>\n"
    )


def send(letter: Letter, settings: SmtpSettings) -> str:
    """Builds the letter and hands it to the SMTP server; returns its Message-ID. MailUnavailable when the
    server cannot be reached or refuses a step; the message says which one."""
    message = build(letter, settings.sender)
    step = "connect"
    try:
        smtp = _connect(settings)
        try:
            if settings.tls == "starttls":
                step = "starttls"
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                step = "login"
                smtp.login(settings.user, settings.password or "")
            step = "send"
            smtp.send_message(message)
            _quit(smtp)
        finally:
            smtp.close()
    except (smtplib.SMTPException, OSError) as error:
        raise MailUnavailable(_failure(step, error, settings), step) from None
    message_id = message["Message-ID"]
    logger.info("mail %s sent to %s via %s", message_id, mask_email(parseaddr(letter.to)[1]), settings.where)
    return message_id


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.tls == "ssl":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def _quit(smtp: smtplib.SMTP) -> None:
    """The server has accepted the letter: a failed goodbye must not report it as unsent (and send it twice)."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass


_STEPS = {
    "connect": "while connecting",
    "starttls": "while starting TLS",
    "login": "while logging in",
    "send": "while sending",
}


def _failure(step: str, error: BaseException, settings: SmtpSettings) -> str:
    server = f"the SMTP server at {settings.where}"
    # smtplib turns a timeout while reading a reply into SMTPServerDisconnected; the timeout is its context.
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        return f"{server} did not answer within {settings.timeout:g} s ({_STEPS[step]})"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return f"{server} refused the login (check PORTER_SMTP_USER and PORTER_SMTP_PASSWORD){_reply(error, settings)}"
    if isinstance(error, smtplib.SMTPNotSupportedError) and step == "starttls":
        return f"{server} does not offer STARTTLS (set PORTER_SMTP_TLS=ssl, or none for a local relay)"
    if isinstance(error, smtplib.SMTPNotSupportedError) and step == "login":
        return f"{server} does not offer a login (AUTH); unset PORTER_SMTP_USER or use PORTER_SMTP_TLS=starttls"
    if isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == 530:
        return (
            f"{server} requires a login or TLS first (set PORTER_SMTP_USER and PORTER_SMTP_PASSWORD, or "
            f"PORTER_SMTP_TLS){_reply(error, settings)}"
        )
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        recipient, (code, _) = next(iter(error.recipients.items()), ("", (0, b"")))
        return f"{server} refused the recipient {mask_email(recipient)} ({code})"
    if isinstance(error, smtplib.SMTPSenderRefused):
        return f"{server} refused the sender (check PORTER_SMTP_FROM){_reply(error, settings)}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{server} answered with an error ({_STEPS[step]}){_reply(error, settings)}"
    if isinstance(error, ssl.SSLError):
        reason = getattr(error, "verify_message", None) or error.reason or str(error)
        return f"{server} failed the TLS handshake ({_STEPS[step]}): {_clean(reason, settings)}"
    if isinstance(error, ConnectionRefusedError):
        return f"{server} refused the connection: is anything listening on port {settings.port}?"
    if isinstance(error, socket.gaierror):
        return f"{server} cannot be found: {settings.host!r} does not resolve"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"{server} closed the connection ({_STEPS[step]})"
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return f"{server} failed ({_STEPS[step]}): {_clean(reason or type(error).__name__, settings)}"


def _reply(error: smtplib.SMTPResponseException, settings: SmtpSettings) -> str:
    """The server's own words, which tell an operator most, cleaned of anything private."""
    text = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
    return f": {error.smtp_code} {_clean(text, settings)}"


def _clean(text: str, settings: SmtpSettings) -> str:
    if settings.password:
        text = text.replace(settings.password, "***")
    text = EMAIL_RE.sub(lambda match: mask_email(match.group(0)), text)
    return " ".join(text.split())[:200]
