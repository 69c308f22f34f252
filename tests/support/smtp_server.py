"""A real SMTP server on loopback (aiosmtpd, in a thread of the test process) that keeps every mail it receives,
so tests see a letter as a mail client would: parsed from the bytes that went over the wire.

    with start_smtp(user="porter", password="s3cret") as smtp:
        send(letter, SmtpSettings("127.0.0.1", smtp.port, "Shop <help@shop.example>", "porter", "s3cret", "none"))
        [mail] = smtp.wait_for(1)

With a user and password the server requires AUTH (LOGIN or PLAIN) before it accepts a mail; it runs without TLS,
so the client must use ``tls="none"``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import List, Optional

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.porter_server import free_port


@dataclass
class Received:
    """One mail as it arrived: the parsed message and the envelope (what MAIL FROM / RCPT TO said)."""

    message: EmailMessage
    mail_from: str
    recipients: List[str]
    raw: bytes


@dataclass
class CapturingSmtp:
    user: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    port: int = 0
    received: List[Received] = field(default_factory=list)  # in arrival order, with the envelope
    _controller: Optional[Controller] = field(default=None, repr=False)
    _arrived: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def messages(self) -> List[EmailMessage]:
        with self._arrived:
            return [mail.message for mail in self.received]

    def start(self) -> "CapturingSmtp":
        self.port = free_port()
        auth = bool(self.user)
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="smtp.test",  # not the machine's FQDN: looking it up can be slow
            authenticator=self._authenticate if auth else None,
            auth_require_tls=False,  # handle_MAIL requires the login: aiosmtpd's auth_required warns without TLS
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10) -> List[EmailMessage]:
        """The first ``count`` messages, once that many have arrived; AssertionError naming how many did if not.
        ``received`` has the same mails with their envelopes."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} mail(s) within {timeout:g} s, {len(self.received)} arrived")
                self._arrived.wait(left)
            return [mail.message for mail in self.received[:count]]

    def __enter__(self) -> "CapturingSmtp":
        return self if self._controller is not None else self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # aiosmtpd hooks, called in the server's thread.

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:
        if self.user and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        mail = Received(
            message_from_bytes(raw, policy=policy.default),
            envelope.mail_from,
            list(envelope.rcpt_tos),
            raw,
        )
        with self._arrived:
            self.received.append(mail)
            self._arrived.notify_all()
        return "250 OK"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        good = auth_data.login == (self.user or "").encode() and auth_data.password == (self.password or "").encode()
        return AuthResult(success=good, handled=False)


def start_smtp(user: Optional[str] = None, password: Optional[str] = None) -> CapturingSmtp:
    """A started server on a free loopback port; stop it with ``.stop()`` or use it in a ``with``."""
    return CapturingSmtp(user=user, password=password).start()
