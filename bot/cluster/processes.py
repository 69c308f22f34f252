"""The cluster's processes, supervised: each one's output on our terminal behind its name, each one started
again when it dies, all of them stopped in order.

A process that dies after the cluster came up is started again after a pause (1 s, doubling up to 30 s, back
to 1 s once it has run a minute): a killed Rasa replica comes back by itself. A replica is taken out of the
load balancer as soon as it is found dead and given back only once it answers: a restarting Rasa listens on
its port for a minute before it can answer, and requests sent to it meanwhile would hang. A process that dies
while the cluster is still coming up stops the start:
that is a setting or an installation to fix, not a crash to retry. Stopping goes group by group, in the
reverse of the start order, each group given time to finish what it is doing before the next goes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

from bot.paths import PROJECT_ROOT

FIRST_PAUSE, LONGEST_PAUSE, STEADY_AFTER = 1.0, 30.0, 60.0
STOP_GRACE = 20.0  # seconds a group has to stop before it is killed


def _say(line: str) -> None:
    sys.stdout.write(f"[cluster] {line}\n")
    sys.stdout.flush()


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Supervised:
    def __init__(
        self,
        name: str,
        command: List[str],
        env: Dict[str, str],
        port: Optional[int] = None,
        stop_signal: int = signal.SIGTERM,
        popen_options: Optional[Dict] = None,
        on_death: Optional[Callable[[], None]] = None,
        on_restart: Optional[Callable[[], None]] = None,
    ) -> None:
        """``on_death`` is called once a running process is found dead, ``on_restart`` (on a thread of its own)
        once it has been started again: a replica taken out of the load balancer and given back when ready."""
        self.name, self.command, self.env, self.port = name, command, env, port
        self.stop_signal, self.popen_options = stop_signal, popen_options or {}
        self.on_death, self.on_restart = on_death, on_restart
        self.process: Optional[subprocess.Popen] = None
        self.started_at = 0.0
        self.pause = FIRST_PAUSE
        self.restart_at: Optional[float] = None

    def start(self) -> None:
        # A session of its own: the terminal's Ctrl-C reaches only the supervisor, which stops us in order.
        self.process = subprocess.Popen(
            self.command,
            cwd=PROJECT_ROOT,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **self.popen_options,
        )
        self.started_at = time.monotonic()
        threading.Thread(target=self._copy_output, args=(self.process,), daemon=True).start()
        _say(f"{self.name} started (pid {self.process.pid})")

    def _copy_output(self, process: subprocess.Popen) -> None:
        for line in iter(process.stdout.readline, b""):
            sys.stdout.write(f"[{self.name}] {line.decode(errors='replace')}")
            sys.stdout.flush()

    def exited(self) -> Optional[int]:
        """The exit code once the process has ended, None while it runs (or before it started)."""
        return self.process.poll() if self.process else None

    def ready(self) -> bool:
        return self.exited() is None and (self.port is None or port_open(self.port))

    def signal(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def watch(self, now: float) -> None:
        """Starts the process again once it died and its pause is over."""
        if self.exited() is None:
            if now - self.started_at > STEADY_AFTER:
                self.pause = FIRST_PAUSE
            return
        if self.restart_at is None:
            self.restart_at = now + self.pause
            _say(f"{self.name} stopped (exit code {self.exited()}); starting it again in {self.pause:.0f} s")
            self.pause = min(self.pause * 2, LONGEST_PAUSE)
            if self.on_death:
                self.on_death()
        elif now >= self.restart_at:
            self.restart_at = None
            self.start()
            if self.on_restart:
                threading.Thread(target=self.on_restart, daemon=True).start()


class Supervisor:
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.groups: List[List[Supervised]] = []

    def start(self, group: List[Supervised], timeout: float) -> bool:
        """Starts ``group`` and waits until each member listens on its port; False when one exits first, the
        wait times out or we are asked to stop."""
        self.groups.append(group)
        for member in group:
            member.start()
        deadline = time.monotonic() + timeout
        while not self.stop.is_set():
            failed = [m for m in group if m.exited() is not None]
            if failed:
                _say(f"{failed[0].name} stopped while starting (exit code {failed[0].exited()}); see its log above")
                return False
            if all(m.ready() for m in group):
                return True
            if time.monotonic() > deadline:
                waiting = ", ".join(m.name for m in group if not m.ready())
                _say(f"{waiting} did not start within {timeout:.0f} s")
                return False
            self.stop.wait(0.5)
        return False

    def run(self) -> None:
        """Keeps every process running until we are asked to stop."""
        while not self.stop.is_set():
            now = time.monotonic()
            for group in self.groups:
                for member in group:
                    member.watch(now)
            self.stop.wait(0.5)

    def stop_all(self) -> None:
        for group in reversed(self.groups):
            for member in group:
                member.signal(member.stop_signal)
            deadline = time.monotonic() + STOP_GRACE
            for member in group:
                if member.process is None:
                    continue
                try:
                    member.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _say(f"{member.name} did not stop within {STOP_GRACE:.0f} s; killing it")
                    member.signal(signal.SIGKILL)
                    member.process.wait()
