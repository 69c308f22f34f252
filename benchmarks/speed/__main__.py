"""`make bench` (`python -m benchmarks.speed`): the bare `rasa init` bot and Porter side by side, in one run.

Both are served on this machine by the same Rasa; each is warmed up with every conversation once, then driven by
one shopper for --single seconds and by --shoppers shoppers at once for --crowd seconds, over the REST channel.
`--hour` instead drives Porter alone with the crowd for --minutes (default 60) and reports its memory after the
first minute and at the end: memory must not grow with traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.speed import conversations, process_stats, report  # noqa: E402
from benchmarks.speed.load import Replies, Shoppers  # noqa: E402
from benchmarks.speed.orders import write_clones  # noqa: E402
from benchmarks.speed.servers import Served, serve_bare, serve_porter  # noqa: E402

# Conversations per second the bench may hold at most, all shoppers together (about 5 messages each): sizes the
# order pool, which runs out loudly rather than reuse an order.
MAX_CONVERSATIONS_PER_SECOND = 20


def _memory(served: Served) -> Dict[str, float]:
    return {name: process_stats.resident_mb(pid) for name, pid in served.pids.items()}


def _cpu(served: Served) -> Dict[str, float]:
    return {name: process_stats.cpu_seconds(pid) for name, pid in served.pids.items()}


def measure(served: Served, shoppers: Shoppers, args) -> report.BotFigures:
    warm = asyncio.run(shoppers.once_each())
    if warm.errors:
        print(f"[bench] {served.name} warm-up: {warm.errors}", flush=True)
    memory_start, cpu_before = _memory(served), _cpu(served)
    print(f"[bench] {served.name}: 1 shopper for {args.single:g} s", flush=True)
    single = asyncio.run(shoppers.run(1, args.single))
    print(f"[bench] {served.name}: {args.shoppers} shoppers for {args.crowd:g} s", flush=True)
    started = time.monotonic()
    crowd = asyncio.run(shoppers.run(args.shoppers, args.crowd))
    crowd_seconds = (max(crowd.finished_at) if crowd.finished_at else time.monotonic()) - started
    cpu_after = _cpu(served)
    return report.BotFigures(
        single,
        crowd,
        crowd_seconds,
        {k: cpu_after[k] - cpu_before[k] for k in cpu_after},
        memory_start,
        _memory(served),
    )


def compare(args) -> int:
    run_id = datetime.now().strftime("%H%M%S")
    conversations_needed = int((args.single + args.crowd) * MAX_CONVERSATIONS_PER_SECOND / len(conversations.PORTER))
    pool = write_clones(
        [s.template_order for s in conversations.PORTER if s.template_order],
        conversations_needed + 10,
        args.out / "orders.json",
    )
    bare = serve_bare(args.out / "bare")
    try:
        porter = serve_porter(args.out / f"porter-{run_id}", args.model, args.out / "orders.json")
    except BaseException:
        bare.stop()
        raise
    try:
        figures = {}
        for served, scripts, orders in ((bare, conversations.BARE, None), (porter, conversations.PORTER, pool)):
            figures[served.name] = measure(served, Shoppers(served.base, scripts, orders, run_id), args)
    finally:
        porter.stop()
        bare.stop()
    bare_figures, porter_figures = figures[bare.name], figures[porter.name]
    print()
    print(report.comparison(bare_figures, porter_figures, args.shoppers))
    print()
    print(report.messages_and_errors("bare", bare_figures))
    print(report.messages_and_errors("Porter", porter_figures))
    return 0


def hour(args) -> int:
    """Porter alone under the crowd for --minutes, memory sampled every minute."""
    run_id = datetime.now().strftime("%H%M%S")
    seconds = args.minutes * 60
    per_template = int(seconds * MAX_CONVERSATIONS_PER_SECOND / len(conversations.PORTER)) + 10
    pool = write_clones(
        [s.template_order for s in conversations.PORTER if s.template_order],
        per_template,
        args.out / "orders-hour.json",
    )
    porter = serve_porter(args.out / f"porter-hour-{run_id}", args.model, args.out / "orders-hour.json")
    shoppers = Shoppers(porter.base, conversations.PORTER, pool, run_id)
    samples: List[Dict[str, Any]] = []
    started = time.monotonic()

    def sample() -> None:
        memory = _memory(porter)
        kinds = process_stats.resident_by_kind_mb(porter.pids["actions"])
        samples.append(dict(memory, minute=(time.monotonic() - started) / 60, actions_by_kind=kinds))
        print(
            f"[bench] minute {samples[-1]['minute']:5.1f}: Rasa {memory['rasa']:.0f} MB, "
            f"actions {memory['actions']:.0f} MB ({', '.join(f'{k} {v:.0f}' for k, v in kinds.items())})",
            flush=True,
        )

    try:
        asyncio.run(shoppers.once_each())
        sample()
        replies: Replies = asyncio.run(shoppers.run(args.shoppers, seconds, on_tick=sample, tick_seconds=60))
        sample()
    finally:
        porter.stop()
    first = next(s for s in samples if s["minute"] >= 0.9)
    last = samples[-1]
    print()
    print(
        f"{args.minutes:g} minutes of {args.shoppers} shoppers at once: {len(replies.latencies)} messages, "
        f"{replies.conversations} conversations, {len(replies.errors)} off the expected path or failed"
        + (f" (first: {replies.errors[0]})" if replies.errors else "")
    )
    print(
        f"p50 / p95 per message: {report.percentile(replies.latencies, 0.5) * 1000:.0f} / "
        f"{report.percentile(replies.latencies, 0.95) * 1000:.0f} ms"
    )
    print("| | after the first minute | at the end | peak | growth |")
    print("|---|---|---|---|---|")
    for server, label in (("rasa", "Rasa resident memory"), ("actions", "action server resident memory")):
        peak = max(s[server] for s in samples)
        print(
            f"| {label} | {first[server]:.0f} MB | {last[server]:.0f} MB | {peak:.0f} MB | "
            f"{(last[server] / first[server] - 1) * 100:+.1f}% |"
        )
    print(
        "action server, change by kind of memory from the first minute to the end: "
        + ", ".join(
            f"{kind} {last['actions_by_kind'][kind] - first['actions_by_kind'][kind]:+.1f} MB"
            for kind in first["actions_by_kind"]
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", type=Path, default=ROOT / "var" / "models" / "porter.tar.gz", help="Porter's trained model"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "var" / "bench",
        help="the bare bot, the bench's orders and each run's var/ folder",
    )
    parser.add_argument("--shoppers", type=int, default=20)
    parser.add_argument("--single", type=float, default=60, help="seconds of one shopper")
    parser.add_argument("--crowd", type=float, default=90, help="seconds of --shoppers at once")
    parser.add_argument("--hour", action="store_true", help="an hour of traffic: Porter's memory over time")
    parser.add_argument("--minutes", type=float, default=60, help="with --hour: how long")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    return hour(args) if args.hour else compare(args)


if __name__ == "__main__":
    sys.exit(main())
