"""`make bench-cluster`: how many messages a second Porter answers, and how fast, with 20 shoppers talking at once,
for the embedded default (`make run`: SQLite, one Rasa, one action server) and for the cluster
(`make run-cluster`: PostgreSQL, Redis, HAProxy, 2 action servers) with 1 and with 2 Rasa replicas.

Each of the 20 shoppers holds multi-turn conversations over the REST channel, one after another (greeting,
problem, order number, email: the order lookup and its actions run on every conversation), through the load
balancer for the cluster. Before measuring, every Rasa process answers one conversation (its first turns load
what the model needs). Latency is per turn, from the request to the full answer; messages per second is turns
answered over the wall time of the run. Each setup starts on its own var/ folder and ports and is stopped
before the next. Prints a Markdown table. A benchmark, not a test: it takes several minutes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.porter_cluster import start_cluster  # noqa: E402
from tests.support.porter_server import server_pid, start_porter  # noqa: E402

SCRIPT = ["hi", "my parcel never arrived", "A10023", "ana.souza@example.com", "thanks", "bye"]
HIGH_LIMITS = {
    "PORTER_RATE_CLIENT_PER_MINUTE": "100000",
    "PORTER_RATE_NEW_CONVERSATIONS_PER_HOUR": "100000",
    "PORTER_RATE_CONVERSATION_PER_MINUTE": "600",
}


@dataclass
class Result:
    setup: str
    turns: int
    errors: int
    seconds: float
    latencies: List[float]
    cpu: Dict[str, float]  # CPU seconds spent during the run: "Rasa", "actions", "PostgreSQL", "Redis"

    def row(self) -> str:
        ordered = sorted(self.latencies)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
        per_turn = " | ".join(
            f"{self.cpu[part] / self.turns * 1000:.0f} ms" if part in self.cpu else "–" for part in CPU_PARTS
        )
        return (
            f"| {self.setup} | {self.turns / self.seconds:.1f} | {statistics.median(ordered) * 1000:.0f} ms "
            f"| {p95 * 1000:.0f} ms | {per_turn} | {self.turns} | {self.errors} |"
        )


CPU_PARTS = ("Rasa", "actions", "PostgreSQL", "Redis")
_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(leaders: List[int]) -> float:
    """CPU seconds of every process in the process groups ``leaders`` lead (each supervised process has its own
    group: PostgreSQL's backends are in its postmaster's), reaped children included."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in leaders:  # pgrp
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / _TICKS


def cpu_now(groups: Dict[str, List[int]]) -> Dict[str, float]:
    return {part: group_cpu_seconds(leaders) for part, leaders in groups.items()}


def _conversation(base: str, sender: str, latencies: List[float]) -> int:
    errors = 0
    for message in SCRIPT:
        started = time.perf_counter()
        answer = requests.post(
            f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=300
        )
        latencies.append(time.perf_counter() - started)
        errors += answer.status_code != 200 or not answer.json()
    return errors


def measure(
    setup: str, base: str, warm: List[str], shoppers: int, conversations: int, groups: Dict[str, List[int]]
) -> Result:
    for n, replica in enumerate(warm):
        _conversation(replica, f"warm-{n}", [])
    latencies: List[float] = []

    def shopper(n: int) -> int:
        return sum(_conversation(base, f"bench-{n}-{round_}", latencies) for round_ in range(conversations))

    before = cpu_now(groups)
    started = time.perf_counter()
    with ThreadPoolExecutor(shoppers) as pool:
        errors = sum(pool.map(shopper, range(shoppers)))
    seconds, after = time.perf_counter() - started, cpu_now(groups)
    return Result(
        setup, len(latencies), errors, seconds, latencies, {part: after[part] - before[part] for part in groups}
    )


def run_embedded(shoppers: int, conversations: int) -> Result:
    running = start_porter(Path(tempfile.mkdtemp(prefix="porter-bench-")), extra_env=HIGH_LIMITS)
    try:
        groups = {"Rasa": [server_pid(running, "bot rasa")], "actions": [server_pid(running, "bot actions")]}
        return measure(
            "embedded (`make run`: SQLite, 1 Rasa, 1 action server)",
            running.base,
            [running.base],
            shoppers,
            conversations,
            groups,
        )
    finally:
        running.stop()


def run_cluster(replicas: int) -> Callable[[int, int], Result]:
    def run(shoppers: int, conversations: int) -> Result:
        cluster = start_cluster(rasa_replicas=replicas)
        try:
            groups = {
                "Rasa": [cluster.pid(f"rasa-{n}") for n in range(1, replicas + 1)],
                "actions": [cluster.pid(f"actions-{n}") for n in (1, 2)],
                "PostgreSQL": [cluster.pid("postgres")],
                "Redis": [cluster.pid("redis")],
            }
            return measure(
                f"cluster, {replicas} Rasa replica{'s' if replicas > 1 else ''} (PostgreSQL, Redis, "
                "HAProxy, 2 action servers)",
                cluster.balancer,
                cluster.replicas,
                shoppers,
                conversations,
                groups,
            )
        finally:
            cluster.stop()

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=20, help="conversations at once (default 20)")
    parser.add_argument(
        "--conversations",
        type=int,
        default=3,
        help=f"conversations each shopper holds, one after another, {len(SCRIPT)} turns each (default 3)",
    )
    args = parser.parse_args()
    results = []
    for run in (run_embedded, run_cluster(1), run_cluster(2)):
        results.append(run(args.shoppers, args.conversations))
        print(results[-1].row(), file=sys.stderr, flush=True)
    print(
        f"\n{args.shoppers} shoppers at once, {args.conversations} conversations of {len(SCRIPT)} turns each, "
        "REST channel:\n"
    )
    print(
        "| setup | messages/s | p50 | p95 | CPU per turn: Rasa | action servers | PostgreSQL | Redis | turns | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        print(result.row())
    return 1 if any(result.errors for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
