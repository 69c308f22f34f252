"""Starts Porter as `make run-cluster` runs it (`python -m bot cluster --demo`) with its own var/ folder and
ports, for the tests on the real engines: PostgreSQL, Redis, HAProxy, 2 Rasa and 2 action servers.

The var/ folder is a new one under the system's temporary folder rather than pytest's (whose folders only
their owner can enter): run as root, PostgreSQL runs as the user postgres and must reach its data directory.
``RunningCluster`` knows each replica's address, finds each process's pid in the cluster's log, and asks
HAProxy's admin socket what it thinks of each server, so tests can kill a replica or restart PostgreSQL and
wait for the load balancer to notice.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import requests

from bot.cluster import haproxy
from bot.cluster.settings import ClusterSettings
from bot.paths import PROJECT_ROOT
from tests.support import needs
from tests.support.porter_server import IDENTITY_SECRET, MODEL, TOKEN, free_port

START_TIMEOUT = 600  # seconds: two Rasa replicas load the model side by side on 2 cores
TURN_TIMEOUT = 180  # seconds for one REST turn: it may wait out a killed replica's conversation lock


def _free_base(replicas: int) -> int:
    """A PORTER_CLUSTER_PORT_BASE whose ports (base+1, +2, +101.., +201..) are all free."""
    for base in range(20000, 60000, 1000):
        ports = [
            base + 1,
            base + 2,
            *range(base + 101, base + 101 + replicas),
            *range(base + 201, base + 201 + replicas),
        ]
        if all(_free(port) for port in ports):
            return base
    raise RuntimeError("no free range of ports for the cluster")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError:
            return False
        return True


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class RunningCluster:
    var: Path
    env: Dict[str, str]
    process: subprocess.Popen
    log: Path
    settings: ClusterSettings

    @property
    def balancer(self) -> str:
        """Rasa as shoppers and the desk reach it: through HAProxy."""
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    @property
    def replicas(self) -> List[str]:
        """Each Rasa replica, directly."""
        return [f"http://127.0.0.1:{port}" for port in self.settings.rasa_replica_ports()]

    @property
    def token(self) -> str:
        return self.env["RASA_AUTH_TOKEN"]

    @property
    def database_url(self) -> str:
        """Porter's own database (PORTER_DATABASE_URL of the cluster's processes)."""
        password = (self.settings.state / "postgres_password").read_text().strip()
        return f"postgresql://porter:{password}@127.0.0.1:{self.settings.postgres_port}/porter"

    def pid(self, name: str) -> int:
        """The pid of the cluster's process ``name`` (``rasa-1``, ``postgres``...), as last (re)started."""
        started = re.findall(
            rf"^\[cluster\] {re.escape(name)} started \(pid (\d+)\)$", self.log.read_text(), re.MULTILINE
        )
        if not started:
            raise AssertionError(f"the cluster has not started {name}")
        return int(started[-1])

    def signal(self, name: str, signum: int) -> None:
        """``signum`` to the process ``name`` and everything it started (SIGKILL: a crash, not a shutdown)."""
        os.killpg(self.pid(name), signum)

    def wait_until_restarted(self, name: str, timeout: float = 120) -> None:
        """Until the cluster has started ``name`` again since it was last signalled, and its port answers."""
        before = self.pid(name)
        deadline = time.monotonic() + timeout
        while self.pid(name) == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster has not started {name} again after {timeout:.0f} s")
            time.sleep(0.5)
        port = {"postgres": self.settings.postgres_port, "redis": self.settings.redis_port}.get(name)
        while port and not _listening(port):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} does not listen on {port} after {timeout:.0f} s")
            time.sleep(0.5)

    def server_states(self) -> Dict[str, str]:
        """HAProxy's view: {"rasa/rasa-1": "UP", "actions/actions-2": "DOWN", ...}."""
        return haproxy.server_states(haproxy.admin_socket(self.settings))

    def stuck_to(self, sid: str) -> Optional[str]:
        """The Rasa replica HAProxy keeps the widget socket ``sid`` on, if it keeps it on one."""
        table = haproxy.admin(haproxy.admin_socket(self.settings), "show table rasa_sockets")
        found = re.search(rf"key={re.escape(sid)} .*server_key=(\S+)", table)
        return found.group(1) if found else None

    def wait_for_server(self, server: str, state: str, timeout: float = 120) -> None:
        """Until HAProxy's health checks say ``server`` is ``state`` (UP, DOWN)."""
        deadline = time.monotonic() + timeout
        while self.server_states().get(server) != state:
            if time.monotonic() > deadline:
                raise AssertionError(f"{server} is not {state} after {timeout:.0f} s: {self.server_states()}")
            time.sleep(0.5)

    def say(self, sender: str, message: str, base: Optional[str] = None) -> requests.Response:
        """One REST turn, through the balancer unless ``base`` names a replica."""
        return requests.post(
            f"{base or self.balancer}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=TURN_TIMEOUT,
        )

    def tracker(self, conversation: str) -> dict:
        """The conversation as Rasa keeps it; asked again when the request reached a replica that was dying (502)."""
        for _ in range(5):
            answer = requests.get(
                f"{self.balancer}/conversations/{conversation}/tracker", params={"token": self.token}, timeout=60
            )
            if answer.status_code not in (502, 503):
                break
            time.sleep(1)
        answer.raise_for_status()
        return answer.json()

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                self.process.wait(timeout=120)
        finally:
            kept = PROJECT_ROOT / "var" / "test-logs"  # what the cluster printed, for a failure's reader
            kept.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.log, kept / "cluster.log")
            shutil.rmtree(self.var, ignore_errors=True)


def start_cluster(
    rasa_replicas: int = 2, action_replicas: int = 2, extra_env: Optional[Dict[str, str]] = None
) -> RunningCluster:
    needs.starting("cluster")
    if not MODEL.exists():
        raise RuntimeError(f"no trained model at {MODEL}: run `make train` (make test does it for you)")
    var = Path(tempfile.mkdtemp(prefix="porter-cluster-"))
    env = dict(
        os.environ,
        PORTER_VAR_DIR=str(var),
        RASA_AUTH_TOKEN=TOKEN,
        PORTER_IDENTITY_SECRET=IDENTITY_SECRET,
        RASA_PORT=str(free_port()),
        ACTION_PORT=str(free_port()),
        PORTER_WEB_PORT=str(free_port()),
        PORTER_CLUSTER_PORT_BASE=str(_free_base(max(rasa_replicas, action_replicas))),
        RASA_TELEMETRY_ENABLED="false",
        PYTHONWARNINGS="ignore::DeprecationWarning",
        # the tests share one client address (this machine): limits a shop would never reach
        PORTER_RATE_CLIENT_PER_MINUTE="100000",
        PORTER_RATE_NEW_CONVERSATIONS_PER_HOUR="100000",
        PORTER_RATE_CONVERSATION_PER_MINUTE="600",
        PORTER_WATCH_INTERVAL="0",  # the watcher is tested on the embedded default (tests/test_outreach_live.py)
        # a killed replica's conversation lock lapses after this (Rasa's default: 60 s)
        TICKET_LOCK_LIFETIME="30",
        PORTER_CLUSTER_RASA_REPLICAS=str(rasa_replicas),
        PORTER_CLUSTER_ACTION_REPLICAS=str(action_replicas),
    )
    for inherited in ("PORTER_SHOP_DB", "PORTER_DATABASE_URL", "PORTER_TRACKER_DB", "PORTER_REDIS_URL"):
        env.pop(inherited, None)
    env.update(extra_env or {})
    log = var / "cluster.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "cluster", "--model", str(MODEL), "--demo"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while "[cluster] ready:" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            tail = log.read_text(errors="replace")[-4000:]
            shutil.rmtree(var, ignore_errors=True)
            raise RuntimeError(f"the cluster did not start:\n{tail}")
        time.sleep(1)
    settings = ClusterSettings(
        rasa_replicas=rasa_replicas,
        action_replicas=action_replicas,
        rasa_port=int(env["RASA_PORT"]),
        action_port=int(env["ACTION_PORT"]),
        web_port=int(env["PORTER_WEB_PORT"]),
        port_base=int(env["PORTER_CLUSTER_PORT_BASE"]),
        state=var / "cluster",
    )
    return RunningCluster(var, env, process, log, settings)
