"""Figures from what the load generator and /proc measured, and the Markdown table `make bench` prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from benchmarks.speed.load import Replies


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share 0.95 for p95)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


@dataclass
class BotFigures:
    """One bot's figures from one `make bench` run."""

    single: Replies
    crowd: Replies
    crowd_seconds: float
    cpu: Dict[str, float]  # CPU seconds per server over both phases ("rasa", "actions")
    memory_start: Dict[str, float]  # MB after warm-up, per server
    memory_end: Dict[str, float]  # MB at the end

    def ms(self, replies: Replies, share: float) -> float:
        return percentile(replies.latencies, share) * 1000

    def throughput(self) -> float:
        return len(self.crowd.latencies) / self.crowd_seconds

    def cpu_ms_per_message(self, server: str) -> Optional[float]:
        if server not in self.cpu:
            return None
        return self.cpu[server] * 1000 / (len(self.single.latencies) + len(self.crowd.latencies))


def _ratio(porter: Optional[float], bare: Optional[float]) -> str:
    return f"{porter / bare:.2f}×" if porter is not None and bare else ""


def _gb(mb: Optional[float]) -> str:
    return "–" if mb is None else f"{mb / 1000:.2f} GB"


def comparison(bare: BotFigures, porter: BotFigures, shoppers: int) -> str:
    rows: List[str] = ["| | bare `rasa init` | Porter | Porter / bare |", "|---|---|---|---|"]

    def row(label: str, b: Optional[float], p: Optional[float], fmt: str, unit: str, ratio: bool = True) -> None:
        def show(value: Optional[float]) -> str:
            return "–" if value is None else format(value, fmt) + unit

        rows.append(f"| {label} | {show(b)} | {show(p)} | {_ratio(p, b) if ratio else ''} |")

    row("1 shopper: p50 per message", bare.ms(bare.single, 0.5), porter.ms(porter.single, 0.5), ".0f", " ms")
    row("1 shopper: p95 per message", bare.ms(bare.single, 0.95), porter.ms(porter.single, 0.95), ".0f", " ms")
    row(f"{shoppers} shoppers: messages per second", bare.throughput(), porter.throughput(), ".1f", "")
    row(f"{shoppers} shoppers: p50 / p95 per message", None, None, "", "", ratio=False)
    rows[-1] = (
        f"| {shoppers} shoppers: p50 / p95 per message | {bare.ms(bare.crowd, 0.5):.0f} / "
        f"{bare.ms(bare.crowd, 0.95):.0f} ms | {porter.ms(porter.crowd, 0.5):.0f} / "
        f"{porter.ms(porter.crowd, 0.95):.0f} ms | |"
    )
    row("Rasa CPU per message", bare.cpu_ms_per_message("rasa"), porter.cpu_ms_per_message("rasa"), ".1f", " ms")
    row("action server CPU per message", None, porter.cpu_ms_per_message("actions"), ".1f", " ms", ratio=False)
    rows.append(
        f"| Rasa resident memory, after warm-up / at the end | {_gb(bare.memory_start['rasa'])} / "
        f"{_gb(bare.memory_end['rasa'])} | {_gb(porter.memory_start['rasa'])} / "
        f"{_gb(porter.memory_end['rasa'])} | {_ratio(porter.memory_end['rasa'], bare.memory_end['rasa'])} |"
    )
    rows.append(f"| action server resident memory, at the end | – | {porter.memory_end['actions']:.0f} MB | |")
    return "\n".join(rows)


def messages_and_errors(name: str, figures: BotFigures) -> str:
    errors = figures.single.errors + figures.crowd.errors
    line = (
        f"{name}: {len(figures.single.latencies)} messages ({figures.single.conversations} conversations) "
        f"alone, {len(figures.crowd.latencies)} ({figures.crowd.conversations}) in the crowd; "
        f"{len(errors)} off the expected path or failed"
    )
    return line + (f" (first: {errors[0]})" if errors else "")
