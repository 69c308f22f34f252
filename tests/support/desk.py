"""The agent desk from a test's side: agents created with the operator CLI, and an HTTP client that signs in
like a browser (session cookie, CSRF token from the page) and calls the desk's JSON endpoints."""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import requests

from bot.handoff.tickets import Ticket, TicketStore
from bot.paths import PROJECT_ROOT

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def agents_cli(env: Mapping[str, str], *args: str, password: Optional[str] = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "agents", *args],
        cwd=PROJECT_ROOT,
        env=dict(env),
        input=None if password is None else password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )


def add_agent(env: Mapping[str, str], prefix: str = "agent", role: str = "agent") -> tuple[str, str]:
    """A new agent account through `python -m bot agents add --password-stdin`: (name, password)."""
    name, password = f"{prefix}-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    done = agents_cli(env, "add", name, "--role", role, "--password-stdin", password=password)
    assert done.returncode == 0, done.stderr
    return name, password


def tickets(env: Mapping[str, str]) -> TicketStore:
    return TicketStore(Path(env["PORTER_SHOP_DB"]))


def wait_for_ticket(env: Mapping[str, str], conversation_id: str, timeout: float = 60.0) -> Ticket:
    """The conversation's open ticket, once Porter has handed it over (channels answer in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ticket = tickets(env).open_for(conversation_id)
        if ticket is not None:
            return ticket
        time.sleep(0.2)
    raise AssertionError(f"no handoff ticket for conversation {conversation_id!r} after {timeout} s")


class Desk:
    """One signed-in agent's browser session, without the browser."""

    def __init__(self, web: str, name: str, password: str) -> None:
        self.web, self.name = web, name
        self.http = requests.Session()
        signed_in = self.http.post(
            f"{web}/desk/sign-in", data={"name": name, "password": password}, allow_redirects=False, timeout=30
        )
        assert signed_in.status_code == 303, signed_in.text
        self.cookie_header = signed_in.headers["Set-Cookie"]
        page = self.http.get(f"{web}/desk", timeout=30)
        assert page.status_code == 200, page.text
        self.csrf = CSRF_META.search(page.text).group(1)

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.web + path, timeout=60, allow_redirects=False)

    def post(
        self,
        path: str,
        body: Optional[Dict[str, Any]] = None,
        csrf: Optional[str] = "session",
        headers: Optional[Dict[str, str]] = None,
    ) -> requests.Response:
        sent = dict(headers or {})
        if csrf is not None:
            sent["X-CSRF-Token"] = self.csrf if csrf == "session" else csrf
        return self.http.post(self.web + path, json=body or {}, headers=sent, timeout=60, allow_redirects=False)

    def queue(self) -> Dict[str, Any]:
        answer = self.get("/desk/api/queue")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def ticket(self, ticket_id: int) -> Dict[str, Any]:
        answer = self.get(f"/desk/api/tickets/{ticket_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def claim(self, ticket_id: int) -> requests.Response:
        return self.post(f"/desk/api/tickets/{ticket_id}/claim")

    def reply(self, ticket_id: int, text: str) -> requests.Response:
        return self.post(f"/desk/api/tickets/{ticket_id}/reply", {"text": text})

    def note(self, ticket_id: int, text: str) -> requests.Response:
        return self.post(f"/desk/api/tickets/{ticket_id}/notes", {"text": text})

    def hand_back(self, ticket_id: int) -> requests.Response:
        return self.post(f"/desk/api/tickets/{ticket_id}/hand-back")

    def resolve(self, ticket_id: int) -> requests.Response:
        return self.post(f"/desk/api/tickets/{ticket_id}/resolve")

    def fix(self, ticket_id: int, fix: str) -> requests.Response:
        return self.post(f"/desk/api/tickets/{ticket_id}/fix", {"fix": fix})


def private_order(env: Mapping[str, str], like: str) -> str:
    """A copy of demo order ``like`` under a new number, in the running Porter's shop, so a test can refund it
    without meeting the cases other tests opened on the demo orders. Returns the new order number."""
    from dataclasses import replace

    from bot.shop.sqlite_store import SQLiteOrderStore

    store = SQLiteOrderStore(Path(env["PORTER_SHOP_DB"]))
    number = f"A{secrets.randbelow(40000) + 60000}"  # demo orders are A10023 to A10035
    store.upsert_many([replace(store.get(like), order_number=number)])
    return number


def timeline_texts(view: Dict[str, Any], kind: Optional[str] = None) -> list[str]:
    return [item["text"] for item in view["timeline"] if kind is None or item["kind"] == kind]


class DeskWeb:
    """Another web server (storefront and desk) on the running Porter's shop database, reaching Rasa at `rasa_url`
    with the given settings: how tests put a dead or slow Rasa behind the desk."""

    def __init__(self, env: Mapping[str, str], rasa_url: str, **settings: str) -> None:
        from tests.support.porter_server import free_port

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "web", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=dict(env, PORTER_RASA_URL=rasa_url, PORTER_WEB_PORT=str(port), **settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.url}/healthz", timeout=2)
                return
            except requests.ConnectionError:
                assert self.process.poll() is None and time.monotonic() < deadline, "the web server did not start"
                time.sleep(0.2)

    def stop(self) -> str:
        """Stops it; its log."""
        self.process.send_signal(signal.SIGINT)
        return self.process.communicate(timeout=30)[0].decode(errors="replace")
