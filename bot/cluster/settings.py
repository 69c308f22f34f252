"""What `python -m bot cluster` runs and where, from the environment.

To the outside the cluster has the ports of `make run`: ``RASA_PORT`` (5005: Rasa's API, REST, socket.io and
webhooks, through the load balancer), ``ACTION_PORT`` (5055, loopback: the action servers, through the load
balancer) and ``PORTER_WEB_PORT`` (8080). Inside, every port is counted from ``PORTER_CLUSTER_PORT_BASE``
(15000): PostgreSQL on base+1, Redis on base+2, Rasa replica i on base+100+i, action server i on base+200+i,
all on loopback. ``PORTER_CLUSTER_RASA_REPLICAS`` and ``PORTER_CLUSTER_ACTION_REPLICAS`` (2 each) say how
many. Everything the cluster keeps is under var/cluster/.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

from bot.paths import var_dir

MAX_REPLICAS = 99


class SettingsError(ValueError):
    """A setting the cluster cannot run with; the message names it."""


def _number(name: str, default: int, lowest: int, highest: int) -> int:
    raw = (os.environ.get(name) or "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if not lowest <= value <= highest:
        raise SettingsError(f"{name}={value} must be between {lowest} and {highest}")
    return value


@dataclass(frozen=True)
class ClusterSettings:
    rasa_replicas: int
    action_replicas: int
    rasa_port: int
    action_port: int
    web_port: int
    port_base: int
    state: Path  # var/cluster

    @classmethod
    def from_env(cls) -> "ClusterSettings":
        return cls(
            rasa_replicas=_number("PORTER_CLUSTER_RASA_REPLICAS", 2, 1, MAX_REPLICAS),
            action_replicas=_number("PORTER_CLUSTER_ACTION_REPLICAS", 2, 1, MAX_REPLICAS),
            rasa_port=_number("RASA_PORT", 5005, 1, 65535),
            action_port=_number("ACTION_PORT", 5055, 1, 65535),
            web_port=_number("PORTER_WEB_PORT", 8080, 1, 65535),
            port_base=_number("PORTER_CLUSTER_PORT_BASE", 15000, 1024, 65535 - 300),
            state=var_dir() / "cluster",
        )

    @property
    def postgres_port(self) -> int:
        return self.port_base + 1

    @property
    def redis_port(self) -> int:
        return self.port_base + 2

    def rasa_replica_ports(self) -> List[int]:
        return [self.port_base + 100 + i for i in range(1, self.rasa_replicas + 1)]

    def action_replica_ports(self) -> List[int]:
        return [self.port_base + 200 + i for i in range(1, self.action_replicas + 1)]

    def ports(self) -> List[Tuple[int, str]]:
        """Every port the cluster listens on, with what listens there."""
        return [
            (self.rasa_port, "RASA_PORT (the load balancer)"),
            (self.action_port, "ACTION_PORT (the load balancer)"),
            (self.web_port, "PORTER_WEB_PORT"),
            (self.postgres_port, "PostgreSQL"),
            (self.redis_port, "Redis"),
            *[(port, f"Rasa replica {i}") for i, port in enumerate(self.rasa_replica_ports(), 1)],
            *[(port, f"action server {i}") for i, port in enumerate(self.action_replica_ports(), 1)],
        ]
