"""Orders for the benchmark's shoppers: clones of demo orders, one per conversation, with fresh numbers.

A demo order can be refunded once; a thousand conversations about it would all take the "already refunded" path
after the first. Each clone keeps its template's shipment, scans, value and email, so it is in the same situation
and offers the same fixes.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

from bot.paths import PROJECT_ROOT

DEMO = PROJECT_ROOT / "data" / "demo" / "orders.json"


def clone_number(template: str, index: int) -> str:
    """A number of the template's shape: digits stay digits (as the Chinese shoppers' orders are)."""
    return f"{700000000 + index}" if template.isdigit() else f"B{1000000 + index}"


class OrderPool:
    """Hands out a fresh clone of a template for each conversation; runs out loudly rather than reusing one."""

    def __init__(self, clones: Dict[str, List[Tuple[str, str]]]) -> None:
        self._clones = {template: list(reversed(numbers)) for template, numbers in clones.items()}

    def take(self, template: str) -> Tuple[str, str]:
        left = self._clones.get(template)
        if not left:
            raise RuntimeError(
                f"no bench orders left for template {template}: raise MAX_CONVERSATIONS_PER_SECOND "
                "(benchmarks/speed/__main__.py)"
            )
        return left.pop()


def write_clones(templates: Iterable[str], per_template: int, path: Path) -> OrderPool:
    """Writes ``per_template`` clones of each template (an orders/v1 file) and returns the pool that hands
    them out as (order number, email)."""
    document = json.loads(DEMO.read_text(encoding="utf-8"))
    by_number = {order["order_number"]: order for order in document["orders"]}
    orders, clones = [], defaultdict(list)
    index = 0
    for template in dict.fromkeys(templates):
        for _ in range(per_template):
            index += 1
            order = copy.deepcopy(by_number[template])
            order["order_number"] = clone_number(template, index)
            shipment = order.get("shipment") or {}
            if shipment.get("tracking_number"):
                shipment["tracking_number"] = f"BENCH{index:09d}"
            orders.append(order)
            clones[template].append((order["order_number"], order["email"]))
    path.write_text(json.dumps({"format": document["format"], "orders": orders}, ensure_ascii=False), encoding="utf-8")
    return OrderPool(clones)
