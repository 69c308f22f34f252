"""A throwaway Redis from Debian's package for tests that need the real engine: loopback, a free port, a password,
nothing written to disk; stopped at the end. Stop it mid-test to play an outage."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Optional

from tests.support import needs
from tests.support.porter_server import free_port

PASSWORD = "redis-password-for-tests"


@dataclass
class RedisServer:
    port: int
    process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                PASSWORD,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.process.poll() is not None:
                raise RuntimeError("redis-server stopped at once; is it installed? (`make engines`)")
            time.sleep(0.1)
        raise RuntimeError("redis-server did not listen within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def start_redis() -> RedisServer:
    needs.starting("engines")
    return RedisServer(free_port()).start()
