"""The two bots under test, each served by the same Rasa on this machine: a bare `rasa init` bot (created and
trained once under var/bench/bare, never committed) and Porter as `make run` serves it, on the bench's own var/
folder and orders.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

import requests

from bot.paths import PROJECT_ROOT

RASA = Path(sys.executable).parent / "rasa"
QUIET = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore::DeprecationWarning"}


@dataclass
class Served:
    name: str
    base: str  # the Rasa server's URL (REST channel)
    pids: Dict[str, int]  # "rasa", and Porter's "actions"
    process: subprocess.Popen
    env: Dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def bare_model(folder: Path) -> Path:
    """The bare bot's model: `rasa init --no-prompt` in ``folder`` the first time (it trains), reused after."""
    models = sorted((folder / "models").glob("*.tar.gz"))
    if models:
        return models[-1]
    folder.mkdir(parents=True, exist_ok=True)
    print(f"[bench] creating and training the bare `rasa init` bot in {folder} (once; a few minutes)", flush=True)
    env = dict(os.environ, RASA_CACHE_DIRECTORY=str(folder.parent / "rasa-cache"), **QUIET)
    with open(folder.parent / "bare-train.log", "wb") as log:
        subprocess.run(
            [str(RASA), "init", "--no-prompt", "--init-dir", "."],
            cwd=folder,
            env=env,
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return sorted((folder / "models").glob("*.tar.gz"))[-1]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_bare(folder: Path) -> Served:
    """`rasa run` on the bare bot's model, its REST channel on a free port (no action server: it has none)."""
    model = bare_model(folder)
    port = _free_port()
    log = open(folder.parent / "bare-serve.log", "wb")
    process = subprocess.Popen(
        [str(RASA), "run", "--model", str(model), "--port", str(port)],
        cwd=folder,
        env=dict(os.environ, **QUIET),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://localhost:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(base, timeout=2).ok:
                return Served("bare rasa init", base, {"rasa": process.pid}, process)
        except requests.RequestException:
            pass
        time.sleep(1)
    process.kill()
    raise RuntimeError(f"the bare bot did not start; see {folder.parent / 'bare-serve.log'}")


def serve_porter(var: Path, model: Path, orders_file: Path, extra_env: Optional[Dict[str, str]] = None) -> Served:
    """Porter as `make run` serves it (tests/support/porter_server.py: `python -m bot serve`, rate limits a
    single load generator never trips), with the bench's orders imported."""
    from tests.support.porter_server import server_pid, start_porter

    var.mkdir(parents=True, exist_ok=True)
    running = start_porter(var, extra_env=extra_env, model=model)
    subprocess.run(
        [sys.executable, "-m", "bot", "orders", "import", str(orders_file), "--relative-to", "2026-11-01T00:00:00Z"],
        cwd=PROJECT_ROOT,
        env=running.env,
        check=True,
        capture_output=True,
    )
    pids = {"rasa": server_pid(running, "bot rasa"), "actions": server_pid(running, "bot actions")}
    return Served("Porter", running.base, pids, running.process, running.env)
