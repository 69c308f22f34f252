"""Runs the action server, the Rasa server, the web server, the refund retry worker and the tracking watcher
together in the foreground, as `make run` promises.

Every process logs to this terminal with a prefix; Ctrl-C (or SIGTERM) stops them all; if one dies, the
others are stopped too, so a half-running assistant is never left behind. The policy file is checked
before anything starts, and the database is brought to the current schema (bot/storage). The children share
one identity secret (PORTER_IDENTITY_SECRET): the web server signs a signed-in shopper's identity with it and
the action server checks it.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

from bot.paths import PROJECT_ROOT, make_private, var_dir
from bot.decisions.policy import PolicyError, load_policy
from bot.outreach.settings import OutreachSettings
from bot.storage import StorageError
from bot.storage.upgrade import upgrade_database


def auth_token() -> str:
    """RASA_AUTH_TOKEN, or a random token generated once and kept (owner-only) under var/."""
    token = os.environ.get("RASA_AUTH_TOKEN")
    if token:
        print("[porter] Rasa API token: from RASA_AUTH_TOKEN", flush=True)
        return token
    path = var_dir() / "rasa_auth_token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    print(f"[porter] Rasa API token: stored in {path} (set RASA_AUTH_TOKEN to choose your own)", flush=True)
    return path.read_text().strip()


def _secret(variable: str, file_name: str, what: str, why: str) -> str:
    """``variable`` from the environment, or a random secret generated once and kept (owner-only) under var/."""
    secret = os.environ.get(variable)
    if secret:
        print(f"[porter] {what}: from {variable}", flush=True)
        return secret
    path = var_dir() / file_name
    if not path.exists():
        # Created owner-only from the start: the secret is never readable by others, even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    path.chmod(0o600)
    print(f"[porter] {what}: stored in {path} (set {variable} {why})", flush=True)
    return path.read_text().strip()


def identity_secret() -> str:
    return _secret("PORTER_IDENTITY_SECRET", "identity_secret", "identity secret", "to share one between machines")


def action_token() -> str:
    """The shared secret Rasa sends the action server with every call (endpoints.yml, action_endpoint)."""
    return _secret(
        "PORTER_ACTION_TOKEN",
        "action_token",
        "action server token",
        "to run Rasa and the action server on different machines",
    )


def _pipe(process: subprocess.Popen, prefix: str) -> None:
    for line in iter(process.stdout.readline, b""):
        sys.stdout.write(f"[{prefix}] {line.decode(errors='replace')}")
        sys.stdout.flush()


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float, stop: threading.Event) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None and not stop.is_set():
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.5)
    return False


def _start(command: List[str], prefix: str, env: dict, capture: bool = True) -> subprocess.Popen:
    # Servers get their own session so a terminal's Ctrl-C reaches only us and we stop them in order; the
    # interactive shell (capture=False) stays in the terminal's session to read from it.
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        start_new_session=capture,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
    )
    if capture:
        threading.Thread(target=_pipe, args=(process, prefix), daemon=True).start()
    return process


def _stop(processes: List[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            _signal(process, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(process, signal.SIGKILL)


def _signal(process: subprocess.Popen, signum: int) -> None:
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:
        pass


def serve(model: Path, shell: bool = False) -> int:
    make_private(var_dir())  # what was written before Porter set its umask (bot/__main__.py)
    try:
        load_policy()
        watching = OutreachSettings.from_env().watch_seconds > 0
    except (PolicyError, ValueError) as exc:
        print(f"[porter] error: {exc}", file=sys.stderr)
        return 2
    if not model.exists():
        print(f"[porter] error: no trained model at {model}; run `make train`", file=sys.stderr)
        return 2
    try:  # once, before the servers: they find the schema in place (and a database they cannot use stops here)
        for line in upgrade_database():
            print(f"[porter] {line}", flush=True)
    except StorageError as exc:
        print(f"[porter] error: {exc}", file=sys.stderr)
        return 2
    rasa_port = int(os.environ.get("RASA_PORT", "5005"))
    action_port = int(os.environ.get("ACTION_PORT", "5055"))
    web_port = int(os.environ.get("PORTER_WEB_PORT", "8080"))
    env = dict(
        os.environ,
        ACTION_PORT=str(action_port),
        RASA_PORT=str(rasa_port),
        PORTER_WEB_PORT=str(web_port),
        PORTER_IDENTITY_SECRET=identity_secret(),
        PORTER_ACTION_TOKEN=action_token(),
        PORTER_TRACKER_DB=os.environ.get("PORTER_TRACKER_DB", str(var_dir() / "tracker.db")),
        PYTHONPATH=str(PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    python = sys.executable
    processes: List[subprocess.Popen] = []
    stop = threading.Event()
    # Handle both explicitly: a shell starts background jobs with SIGINT ignored, and Python keeps that.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # A closed terminal (or tmux session) sends SIGHUP: the servers live in their own sessions and would
    # be left running without us, holding the ports.
    signal.signal(signal.SIGHUP, lambda *_: stop.set())
    try:
        actions = _start([python, "-m", "bot", "actions"], "actions", env)
        processes.append(actions)
        if not _wait_for_port(action_port, actions, 60, stop):
            if stop.is_set():
                return 0
            print("[porter] error: the action server did not start; see its log above", file=sys.stderr)
            return 1
        if shell:
            rasa = _start(
                [python, "-m", "rasa", "shell", "--model", str(model), "--endpoints", "endpoints.yml"],
                "rasa",
                env,
                capture=False,
            )
            processes.append(rasa)
            return rasa.wait()
        token = auth_token()
        # The token reaches Rasa through its environment, never its command line (bot/rasa_server.py).
        rasa = _start(
            [
                python,
                "-m",
                "bot",
                "rasa",
                "--model",
                str(model),
                "--enable-api",
                "--port",
                str(rasa_port),
                "--cors",
                "*",
                "--credentials",
                "credentials.yml",
                "--endpoints",
                "endpoints.yml",
            ],
            "rasa",
            dict(env, RASA_AUTH_TOKEN=token),
        )
        processes.append(rasa)
        # The agent desk (in the web server) reads and writes conversations through Rasa's HTTP API.
        web_env = dict(
            env,
            RASA_AUTH_TOKEN=token,
            PORTER_RASA_URL=os.environ.get("PORTER_RASA_URL") or f"http://localhost:{rasa_port}",
        )
        web = _start([python, "-m", "bot", "web", "--port", str(web_port)], "web", web_env)
        processes.append(web)
        # Refunds whose money did not go out (a timeout, an outage, a crash) are reconciled and paid here.
        processes.append(_start([python, "-m", "bot", "payments", "retry"], "payments", env))
        if _wait_for_port(rasa_port, rasa, 300, stop) and _wait_for_port(web_port, web, 60, stop):
            print(
                f"[porter] ready: storefront with the chat widget at http://localhost:{web_port}/, "
                f"agent desk at http://localhost:{web_port}/desk, "
                f"REST channel at http://localhost:{rasa_port}/webhooks/rest/webhook, "
                f"actions at http://localhost:{action_port}/webhook (loopback only), refund retries running"
                + (", tracking watcher running" if watching else "")
                + ". Ctrl-C stops them all.",
                flush=True,
            )
            # The tracking watcher starts once Rasa answers: its first pass may already speak to shoppers.
            if watching:
                processes.append(_start([python, "-m", "bot", "watch"], "watch", web_env))
        while not stop.is_set():
            if any(p.poll() is not None for p in processes):
                print("[porter] a server stopped; stopping the others", file=sys.stderr)
                return 1
            stop.wait(0.5)
        return 0
    finally:
        print("[porter] stopping", flush=True)
        _stop(processes)
