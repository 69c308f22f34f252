"""The cluster's load balancer: Debian's HAProxy in front of the Rasa replicas (``RASA_PORT``) and the action
servers (``ACTION_PORT``, loopback), with health checks (``GET /`` on Rasa, ``GET /health`` on the action
servers, every 2 s; three failed checks take a server out, two passed ones bring it back; an answer may take
20 s, since a replica's event loop is busy for seconds on a first turn).

- Rasa's HTTP requests (REST, webhooks, the HTTP API) go round-robin: a conversation's turns may land on any
  replica, since the tracker store and the lock store are shared.
- socket.io is sticky per socket: engine.io's session id comes back in the ``io`` cookie of the handshake
  (bot/channels/widget_rooms.py); the stick table remembers which replica set it, and every later request of
  that socket (long-polling or the WebSocket upgrade, all carrying ``?sid=``) goes to the same one. This
  holds behind any proxy and needs no cookie from the browser (the widget is usually on another origin).
  When that replica is down the socket's next request goes elsewhere, is refused as unknown, and the widget
  reconnects and joins its session again.
- A request whose connection failed is sent to another server; a request that reached a replica which then
  died is not replayed (it may have been handled): the caller gets a 502.
- Every response names its server in ``X-Porter-Replica``, and every request is logged with its backend,
  server, status, method, path (conversation ids replaced by ``-``) and time; no client address.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
from pathlib import Path
from typing import Dict, List

from bot.cluster.settings import ClusterSettings


class HAProxyError(RuntimeError):
    """haproxy is missing."""


def admin_socket(settings: ClusterSettings) -> Path:
    """HAProxy's admin socket (owner-only), for ``admin``."""
    return settings.state / "haproxy.sock"


def _servers(prefix: str, ports: List[int], check: str) -> List[str]:
    return [
        f"    server {prefix}-{i} 127.0.0.1:{port} {check.format(name=f'{prefix}-{i}')}"
        for i, port in enumerate(ports, 1)
    ]


def config(settings: ClusterSettings) -> str:
    rasa, actions = settings.rasa_replica_ports(), settings.action_replica_ports()
    return "\n".join(
        [
            "global",
            "    log stdout format raw local0 info",
            "    maxconn 4000   # connections at once; each needs two file descriptors",
            "    hard-stop-after 30s",
            f"    stats socket {admin_socket(settings)} mode 600 level admin",
            "",
            "defaults",
            "    mode http",
            "    log global",
            "    option dontlognull",
            '    log-format "%b/%s %ST %HM %[var(txn.where)] %Tt ms"',
            "    timeout connect 2s",
            "    timeout client 90s",
            "    timeout server 330s      # a turn may wait for its conversation's lock (60 s) and then its actions",
            "    timeout tunnel 1h        # WebSockets",
            "    timeout http-request 15s",
            "    timeout queue 30s",
            "    retries 3",
            "    retry-on conn-failure",
            "    option redispatch",
            # A replica's event loop is busy for seconds on a first turn: a slow answer is not a dead server. A dead
            # one refuses connections at once, and those requests go elsewhere meanwhile (retry-on, redispatch).
            "    timeout check 20s",
            "    default-server inter 2s fall 3 rise 2",
            "",
            "frontend rasa",
            f"    bind :{settings.rasa_port}",
            "    option forwardfor",
            "    http-request set-var(txn.where) path,regsub(^/conversations/[^/]*,/conversations/-)",
            "    http-response set-header X-Porter-Replica %s",
            "    use_backend rasa_sockets if { path_beg /socket.io/ }",
            "    default_backend rasa",
            "",
            "backend rasa",
            "    balance roundrobin",
            "    option httpchk GET /",
            "    http-check expect status 200",
            *_servers("rasa", rasa, "check"),
            "",
            "backend rasa_sockets",
            "    balance leastconn",
            "    stick-table type string len 64 size 200k expire 2h",
            "    stick match url_param(sid)",
            "    stick store-response res.cook(io)",
            *_servers("rasa", rasa, "track rasa/{name}"),
            "",
            "frontend actions",
            f"    bind 127.0.0.1:{settings.action_port}",
            "    http-request set-var(txn.where) path",
            "    http-response set-header X-Porter-Replica %s",
            "    default_backend actions",
            "",
            "backend actions",
            "    balance leastconn",
            "    option httpchk GET /health",
            "    http-check expect status 200",
            *_servers("actions", actions, "check"),
            "",
        ]
    )


def admin(socket_path: Path, command: str) -> str:
    """HAProxy's answer to ``command`` on its admin socket ("show stat", "show table rasa_sockets"...)."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(5)
        connection.connect(str(socket_path))
        connection.sendall(command.encode() + b"\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer.decode()


def server_states(socket_path: Path) -> Dict[str, str]:
    """What HAProxy thinks of each server right now: {"rasa/rasa-1": "UP", ...}."""
    rows = list(csv.reader(admin(socket_path, "show stat").lstrip("# ").splitlines()))
    if not rows:
        return {}
    status = rows[0].index("status")
    return {
        f"{row[0]}/{row[1]}": row[status]
        for row in rows[1:]
        if len(row) > status and row[1] not in ("FRONTEND", "BACKEND")
    }


def prepare(settings: ClusterSettings) -> Path:
    path = settings.state / "haproxy.cfg"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(config(settings))
    return path


def command(config_path: Path) -> List[str]:
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if not binary:
        raise HAProxyError("haproxy not found: `make run-cluster` installs it (apt-get install -y haproxy)")
    # -db: in the foreground, its log on our terminal (it also writes its warnings to stderr: they show twice)
    return [binary, "-f", str(config_path), "-db"]


def take_out(settings: ClusterSettings, server: str) -> None:
    """No new requests to ``server`` ("rasa/rasa-1") until ``give_back``: HAProxy's maintenance state."""
    admin(admin_socket(settings), f"disable server {server}")


def give_back(settings: ClusterSettings, server: str) -> None:
    """``server`` back in rotation (its health checks decide from here on)."""
    admin(admin_socket(settings), f"enable server {server}")
