"""`python -m bot cluster [--demo]` (`make run-cluster`): Porter on PostgreSQL and Redis with several Rasa
servers and action servers behind HAProxy, in the foreground, as `make run` runs the embedded default.

Start order: PostgreSQL (its role and databases made sure of), Redis, Porter's schema (`python -m bot db
upgrade`), the action servers, HAProxy, the Rasa replicas, then the web server and the refund worker. Ctrl-C,
SIGTERM or SIGHUP stop them all in the reverse order. Every line of output carries its process's name
(``[rasa-2]``), and HAProxy logs each request with the replica that answered it.

Rasa uses endpoints.cluster.yml: the tracker store on PostgreSQL, the lock store on Redis, the action servers
through the load balancer. The processes share the secrets of `make run` (var/: the Rasa API token, the
action server token, the identity secret) and reach the engines through ``PORTER_DATABASE_URL``,
``PORTER_TRACKER_DATABASE_URL`` and ``PORTER_REDIS_URL``, which the cluster sets for them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import requests

from bot.outreach.settings import OutreachSettings
from bot.cluster import haproxy
from bot.cluster.postgres import PORTER_DATABASE, TRACKER_DATABASE, Postgres, PostgresError
from bot.cluster.processes import Supervised, Supervisor
from bot.cluster.redis_server import RedisServer, RedisServerError
from bot.cluster.settings import ClusterSettings, SettingsError
from bot.paths import PROJECT_ROOT, make_private, var_dir
from bot.decisions.policy import PolicyError, load_policy
from bot.serve import action_token, auth_token, identity_secret

DEMO_ORDERS, DEMO_ANCHOR = "data/demo/orders.json", "2026-11-01T00:00:00Z"
RASA_START_TIMEOUT = 600  # seconds for every replica to load the model (about 40 s each alone on 2 cores)
SQL_POOL = "10"  # Rasa's tracker store connections per replica (Rasa's default is 50 + 100 overflow)


def _say(line: str) -> None:
    print(f"[cluster] {line}", flush=True)


def _trusting_the_balancer(env: Dict[str, str]) -> str:
    """PORTER_TRUSTED_PROXIES with the load balancer added: behind it every request comes from loopback, and
    rate limits need the client HAProxy names in X-Forwarded-For."""
    given = [part.strip() for part in (env.get("PORTER_TRUSTED_PROXIES") or "").split(",") if part.strip()]
    return ",".join(given + [address for address in ("127.0.0.1", "::1") if address not in given])


def _upgrade_schema(env: Dict[str, str]) -> bool:
    """Porter's tables on PostgreSQL, brought to the current schema before any server uses them."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    for line in (done.stdout + done.stderr).splitlines():
        print(f"[db upgrade] {line}", flush=True)
    return done.returncode == 0


def _import_demo(env: Dict[str, str]) -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "orders", "import", DEMO_ORDERS, "--relative-to", DEMO_ANCHOR],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    for line in (done.stdout + done.stderr).splitlines():
        print(f"[demo] {line}", flush=True)
    return done.returncode == 0


def _replicas(prefix: str, ports: List[int], command, env, settings: ClusterSettings, health: str) -> List[Supervised]:
    """Supervised replicas, each taken out of HAProxy when it dies and given back once ``health`` answers."""
    replicas = []
    for i, port in enumerate(ports, 1):
        server = f"{prefix}/{prefix}-{i}"
        replicas.append(
            Supervised(
                f"{prefix}-{i}",
                command(port),
                env(port),
                port,
                on_death=lambda server=server: _take_out(settings, server),
                on_restart=lambda server=server, port=port: _give_back_when_ready(
                    settings, server, f"http://127.0.0.1:{port}{health}"
                ),
            )
        )
    return replicas


def _take_out(settings: ClusterSettings, server: str) -> None:
    try:
        haproxy.take_out(settings, server)
        _say(f"{server} taken out of the load balancer until it answers again")
    except OSError as exc:
        _say(f"could not take {server} out of the load balancer ({exc}); its health checks will")


def _give_back_when_ready(
    settings: ClusterSettings, server: str, health_url: str, timeout: float = RASA_START_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(health_url, timeout=5).status_code == 200:
                haproxy.give_back(settings, server)
                _say(f"{server} answers again; back in the load balancer")
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(1)
    _say(f"{server} has not answered within {timeout:.0f} s; it stays out of the load balancer")


def _port_problems(ports: List[Tuple[int, str]]) -> List[str]:
    """Ports given twice or already taken: said before anything starts, rather than as a server's crash."""
    problems, seen = [], {}
    for port, what in ports:
        if port in seen:
            problems.append(f"port {port} is both {seen[port]} and {what}")
            continue
        seen[port] = what
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("", port))
            except OSError:
                problems.append(f"port {port} ({what}) is taken")
    return problems


def _in_rotation(settings: ClusterSettings, stop: threading.Event, timeout: float = 60) -> bool:
    """Waits until HAProxy's health checks have every Rasa replica and action server in rotation."""
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            states = haproxy.server_states(haproxy.admin_socket(settings))
        except OSError:
            states = {}
        if states and all(state == "UP" for state in states.values()):
            return True
        stop.wait(0.5)
    if not stop.is_set():
        _say(f"the load balancer has not taken every replica within {timeout:.0f} s; see its log above")
    return False


def run(model: Path, demo: bool = False) -> int:
    make_private(var_dir())  # what was written before Porter set its umask (bot/__main__.py)
    try:
        load_policy()
        settings = ClusterSettings.from_env()
    except (PolicyError, SettingsError) as exc:
        print(f"[cluster] error: {exc}", file=sys.stderr)
        return 2
    if not model.exists():
        print(f"[cluster] error: no trained model at {model}; run `make train`", file=sys.stderr)
        return 2
    problems = _port_problems(settings.ports())
    if problems:
        print(
            f'[cluster] error: {"; ".join(problems)} (settings: README, "Running on PostgreSQL and Redis")',
            file=sys.stderr,
        )
        return 2
    settings.state.mkdir(mode=0o700, exist_ok=True)
    postgres, redis = Postgres(settings), RedisServer(settings)
    try:
        postgres.prepare()
        redis.prepare()
        commands = {
            "postgres": postgres.command(),
            "redis": redis.command(),
            "haproxy": haproxy.command(haproxy.prepare(settings)),
        }
    except (PostgresError, RedisServerError, haproxy.HAProxyError) as exc:
        print(f"[cluster] error: {exc}", file=sys.stderr)
        return 2

    python = sys.executable
    env = dict(
        os.environ,
        RASA_PORT=str(settings.rasa_port),
        ACTION_PORT=str(settings.action_port),
        PORTER_WEB_PORT=str(settings.web_port),
        PORTER_IDENTITY_SECRET=identity_secret(),
        PORTER_ACTION_TOKEN=action_token(),
        PORTER_DATABASE_URL=postgres.url(PORTER_DATABASE),
        PORTER_TRACKER_DATABASE_URL=postgres.url(TRACKER_DATABASE),
        PORTER_REDIS_URL=redis.url,
        PORTER_ACTION_URL=f"http://127.0.0.1:{settings.action_port}/webhook",
        PYTHONPATH=str(PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    if demo:
        env["PORTER_DEMO"] = "1"
    token = auth_token()
    rasa_env = dict(env, RASA_AUTH_TOKEN=token, PORTER_TRUSTED_PROXIES=_trusting_the_balancer(env))
    rasa_env.setdefault("SQL_POOL_SIZE", SQL_POOL)
    rasa_env.setdefault("SQL_MAX_OVERFLOW", SQL_POOL)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    supervisor = Supervisor(stop)
    try:
        if not supervisor.start(
            [
                Supervised(
                    "postgres",
                    commands["postgres"],
                    env,
                    settings.postgres_port,
                    signal.SIGINT,
                    postgres.popen_options(),
                )
            ],
            60,
        ):
            return 0 if stop.is_set() else 1
        postgres.create_databases()
        if not supervisor.start([Supervised("redis", commands["redis"], env, settings.redis_port)], 30):
            return 0 if stop.is_set() else 1
        if not _upgrade_schema(env) or (demo and not _import_demo(env)):
            _say("error: the database could not be prepared; see above")
            return 1
        # One tracking watcher for the whole cluster (several would be safe: each alert is claimed once).
        watcher = (
            [
                Supervised(
                    "watch",
                    [python, "-m", "bot", "watch"],
                    dict(env, RASA_AUTH_TOKEN=token, PORTER_RASA_URL=f"http://localhost:{settings.rasa_port}"),
                )
            ]
            if OutreachSettings.from_env(env).watch_seconds
            else []
        )
        steps = [
            (
                _replicas(
                    "actions",
                    settings.action_replica_ports(),
                    lambda port: [python, "-m", "bot", "actions"],
                    lambda port: dict(env, ACTION_PORT=str(port)),
                    settings,
                    "/health",
                ),
                120,
            ),
            ([Supervised("haproxy", commands["haproxy"], env, settings.rasa_port)], 30),
            (
                _replicas(
                    "rasa",
                    settings.rasa_replica_ports(),
                    lambda port: [
                        python,
                        "-m",
                        "bot",
                        "rasa",
                        "--model",
                        str(model),
                        "--enable-api",
                        "--port",
                        str(port),
                        "--interface",
                        "127.0.0.1",
                        "--cors",
                        "*",
                        "--credentials",
                        "credentials.yml",
                        "--endpoints",
                        "endpoints.cluster.yml",
                    ],
                    lambda port: rasa_env,
                    settings,
                    "/",
                ),
                RASA_START_TIMEOUT,
            ),
            (
                [
                    Supervised(
                        "web",
                        [python, "-m", "bot", "web", "--port", str(settings.web_port)],
                        dict(env, RASA_AUTH_TOKEN=token, PORTER_RASA_URL=f"http://localhost:{settings.rasa_port}"),
                        settings.web_port,
                    ),
                    Supervised("payments", [python, "-m", "bot", "payments", "retry"], env),
                ]
                + watcher,
                60,
            ),
        ]
        for group, timeout in steps:
            if not supervisor.start(group, timeout):
                return 0 if stop.is_set() else 1
        if not _in_rotation(settings, stop):
            return 0 if stop.is_set() else 1
        _say(
            f"ready: {settings.rasa_replicas} Rasa and {settings.action_replicas} action servers behind HAProxy; "
            f"storefront at http://localhost:{settings.web_port}/, agent desk at "
            f"http://localhost:{settings.web_port}/desk, REST channel at "
            f"http://localhost:{settings.rasa_port}/webhooks/rest/webhook; PostgreSQL on "
            f"127.0.0.1:{settings.postgres_port}, Redis on 127.0.0.1:{settings.redis_port}. Ctrl-C stops them all."
        )
        supervisor.run()
        return 0
    finally:
        _say("stopping")
        supervisor.stop_all()
