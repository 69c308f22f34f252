"""Starts Porter as a shop runs it (`python -m bot serve`) on free ports with its own var/ folder.

Channel and backend settings point at a local Recorder, so tests see what Porter sends to Telegram, the
WhatsApp Graph API and the rest, without leaving this machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from bot.paths import PROJECT_ROOT
from tests.support import needs

MODEL = Path(os.environ.get("PORTER_MODEL", PROJECT_ROOT / "var" / "models" / "porter.tar.gz"))
# It starts with "-" as a random token may (secrets.token_urlsafe): Rasa must still take it as the token.
TOKEN = "-end-to-end-test-token"

# Fake credentials for the channels; real ones come from the environment in production.
TELEGRAM_BOT_TOKEN = "123456:TEST-telegram-token"
TELEGRAM_WEBHOOK_SECRET = "telegram-secret-for-tests"
AFTERSHIP_WEBHOOK_SECRET = "aftership-secret-for-tests"
SEVENTEEN_TRACK_KEY = "17track-key-for-tests"
LINK_SECRET = "link-secret-for-tests"
WHATSAPP_APP_SECRET = "whatsapp-app-secret-for-tests"
WHATSAPP_VERIFY_TOKEN = "whatsapp-verify-token-for-tests"
WHATSAPP_ACCESS_TOKEN = "whatsapp-access-token-for-tests"
WHATSAPP_PHONE_NUMBER_ID = "100200300"
IDENTITY_SECRET = "identity-secret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def channel_env(api_url: str) -> Dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_BOT_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_WEBHOOK_SECRET,
        "TELEGRAM_WEBHOOK_URL": "https://shop.example/webhooks/telegram/webhook",
        "TELEGRAM_API_BASE": f"{api_url}/telegram",
        "WHATSAPP_APP_SECRET": WHATSAPP_APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": WHATSAPP_VERIFY_TOKEN,
        "WHATSAPP_ACCESS_TOKEN": WHATSAPP_ACCESS_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": WHATSAPP_PHONE_NUMBER_ID,
        "WHATSAPP_API_BASE": f"{api_url}/graph",
        "PORTER_IDENTITY_SECRET": IDENTITY_SECRET,
    }


@dataclass
class RunningPorter:
    base: str  # the Rasa server: REST, socket.io, channel webhooks, HTTP API
    web: str  # the web server: storefront demo page (and, later, the agent desk)
    env: Dict[str, str]
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)


def start_porter(
    var: Path, api_url: Optional[str] = None, extra_env: Optional[Dict[str, str]] = None, model: Path = MODEL
) -> RunningPorter:
    needs.starting("live")
    if not model.exists():
        raise RuntimeError(f"no trained model at {model}: run `make train` (make test does it for you)")
    env = dict(
        os.environ,
        PORTER_VAR_DIR=str(var),
        PORTER_SHOP_DB=str(var / "shop.db"),
        RASA_AUTH_TOKEN=TOKEN,
        RASA_PORT=str(free_port()),
        ACTION_PORT=str(free_port()),
        PORTER_WEB_PORT=str(free_port()),
        RASA_TELEMETRY_ENABLED="false",
        PORTER_TRACKER_DB=str(var / "tracker.db"),
        PORTER_DEMO="1",
        # the live tests share one client address (this machine): limits a shop would never reach
        PORTER_RATE_CLIENT_PER_MINUTE="100000",
        PORTER_RATE_NEW_CONVERSATIONS_PER_HOUR="100000",
        PORTER_RATE_CONVERSATION_PER_MINUTE="600",
        # the tests run the watcher themselves (`python -m bot watch --once --order ...`), on their own orders
        PORTER_WATCH_INTERVAL="0",
        PORTER_AFTERSHIP_WEBHOOK_SECRET=AFTERSHIP_WEBHOOK_SECRET,
        PORTER_17TRACK_WEBHOOK_KEY=SEVENTEEN_TRACK_KEY,
        PORTER_LINK_SECRET=LINK_SECRET,
    )
    if api_url:
        env.update(channel_env(api_url))
    env.update(extra_env or {})
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "orders",
            "import",
            "data/demo/orders.json",
            "--relative-to",
            "2026-11-01T00:00:00Z",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    log_path = var / "serve.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--model", str(model)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"porter stopped while starting:\n{log_path.read_text()[-3000:]}")
        if "ready:" in log_path.read_text(errors="replace"):
            break
        time.sleep(1)
    else:
        process.kill()
        raise RuntimeError(f"porter did not become ready within 300 s:\n{log_path.read_text()[-3000:]}")
    return RunningPorter(
        f"http://localhost:{env['RASA_PORT']}", f"http://localhost:{env['PORTER_WEB_PORT']}", env, process, log_path
    )


# --- pulling the plug: tests that a crash loses nothing ------------------------------------------------------


def porter_processes(running: RunningPorter) -> List[int]:
    """The `bot serve` process and every process under it (its servers run in sessions of their own)."""
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [running.process.pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def server_pid(running: RunningPorter, command: str) -> int:
    """The pid of the Porter process whose command line contains `command` (e.g. "bot actions")."""
    for pid in porter_processes(running):
        try:
            if command in (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                return pid
        except OSError:
            continue
    raise AssertionError(f"no Porter process runs {command!r}")


def kill_hard(running: RunningPorter) -> None:
    """SIGKILL to every Porter process at once: a power cut, not a shutdown (no handler runs, nothing flushes)."""
    for pid in porter_processes(running):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    running.process.wait(timeout=30)


def connections_to(port: int) -> int:
    """Open TCP connections to a local port, counted on the client side: how many requests wait on a server
    that accepted nothing (the kernel completes the handshake for a stopped process)."""
    established, count = "01", 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == established and int(fields[2].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


def saved_user_events(running: RunningPorter, conversation: str, count: int, wait: float = 15.0) -> List[dict]:
    """The shopper messages Rasa has saved in ``conversation``, read from the conversations' SQLite file, once
    there are ``count`` of them (or ``wait`` seconds passed: the assertion that follows shows what there is).

    A channel's reply reaches the shopper before Rasa saves the turn, so a test that reads right after the reply
    waits for the save. The file is read rather than Rasa's tracker API: asked for a conversation in the middle
    of its first turn, that API starts the session and saves it, a second writer in a turn that has one."""
    import json
    import sqlite3

    deadline = time.monotonic() + wait
    while True:
        with sqlite3.connect(running.env["PORTER_TRACKER_DB"], timeout=10) as database:
            rows = database.execute(
                "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (conversation,)
            ).fetchall()
        events = [json.loads(data) for (data,) in rows]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.1)
