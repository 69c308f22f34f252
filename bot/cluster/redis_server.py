"""The cluster's Redis: Debian's redis-server on loopback with a password, nothing written to disk.

What Porter keeps there lives for minutes (Rasa's conversation locks, rate-limit buckets, sign-in throttle
records, the widget's published replies), so a restart that forgets it costs nothing: no snapshots, no
append-only file. The configuration, password included, is a file under var/cluster/ (owner-only), never a
command line.
"""

from __future__ import annotations

import os
import shutil
from functools import cached_property
from pathlib import Path
from typing import List

from bot.cluster.passwords import generated_password
from bot.cluster.settings import ClusterSettings


class RedisServerError(RuntimeError):
    """redis-server is missing."""


class RedisServer:
    def __init__(self, settings: ClusterSettings) -> None:
        self.settings = settings

    @cached_property
    def password(self) -> str:
        return generated_password(self.settings.state / "redis_password")

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.settings.redis_port}/0"

    @property
    def config(self) -> Path:
        return self.settings.state / "redis.conf"

    def prepare(self) -> None:
        folder = self.settings.state / "redis"
        folder.mkdir(mode=0o700, exist_ok=True)
        text = "\n".join(
            [
                "bind 127.0.0.1",
                f"port {self.settings.redis_port}",
                "protected-mode yes",
                f"requirepass {self.password}",
                'save ""',
                "appendonly no",
                f'dir "{folder}"',
                "daemonize no",
                'logfile ""',
                "loglevel notice",
                "maxclients 10000",
                "",
            ]
        )
        fd = os.open(self.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)

    def command(self) -> List[str]:
        binary = shutil.which("redis-server")
        if not binary:
            raise RedisServerError(
                "redis-server not found: `make run-cluster` installs it (apt-get install -y redis-server)"
            )
        return [binary, str(self.config)]
