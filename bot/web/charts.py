"""Charts drawn on the server as SVG: no script, no CDN, nothing for the desk's Content-Security-Policy to allow.

Two shapes cover the analytics: columns per day, stacked by category (conversations by reason, language or
channel), and horizontal bars (a rate, an average, a count per name). Every label goes through the markup escape
and every number is printed beside its bar, so the chart is readable without hovering and checkable by a test.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Dict, List, Optional, Sequence, Tuple

PALETTE = ("#2f6f7e", "#d08c3d", "#7a5ea8", "#4d8b3c", "#c2504a", "#5b7fbf", "#a2845e", "#8a8f98")
MAX_SERIES = 7  # more categories than colours go into "other"


def _number(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(int(value))


def bars(items: Sequence[Tuple[str, float]], *, title: str, maximum: Optional[float] = None, unit: str = "") -> str:
    """One horizontal bar per (label, value), the value printed at its end."""
    items = [(str(label), float(value or 0)) for label, value in items]
    if not items:
        return ""
    top = maximum or max(v for _, v in items) or 1.0
    row, label_width, bar_width = 26, 230, 360
    height = row * len(items) + 12
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {label_width + bar_width + 80} '
        f'{height}" width="{label_width + bar_width + 80}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(items):
        y = 6 + i * row
        width = max(1.0, bar_width * value / top) if value else 0
        shown = label if len(label) <= 34 else label[:33] + "…"
        parts += [
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end" font-size="12" fill="#33415c">'
            f"{escape(shown)}</text>",
            f'<rect x="{label_width}" y="{y + 3}" width="{width:.1f}" height="18" rx="3" fill="{PALETTE[0]}"/>',
            f'<text class="value" x="{label_width + width + 6:.1f}" y="{y + 16}" font-size="12" fill="#1d2330">'
            f"{escape(_number(value) + unit)}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


def stacked_days(rows: Sequence[Sequence], *, title: str) -> str:
    """Columns per day from (day, category, count) rows, stacked by category, with a legend and each day's total."""
    if not rows:
        return ""
    totals: Dict[str, int] = defaultdict(int)
    for _, category, count in rows:
        totals[str(category)] += int(count)
    ranked = sorted(totals, key=lambda c: (-totals[c], c))
    kept = ranked[:MAX_SERIES]
    series = kept + (["other"] if len(ranked) > len(kept) else [])
    days = sorted({str(r[0]) for r in rows})
    stacks: Dict[str, Dict[str, int]] = {d: defaultdict(int) for d in days}
    for day, category, count in rows:
        stacks[str(day)][str(category) if str(category) in kept else "other"] += int(count)
    tallest = max(sum(s.values()) for s in stacks.values()) or 1
    left, plot_height, column = 40, 180, max(14, min(48, 640 // max(1, len(days))))
    width = left + column * len(days) + 20
    legend_top = plot_height + 44
    height = legend_top + 18 * ((len(series) + 2) // 3) + 8
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {max(width, 560)} {height}" '
        f'width="{max(width, 560)}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="14" font-size="11" fill="#5a6478">{tallest}</text>',
        f'<line x1="{left}" y1="{plot_height + 10}" x2="{width - 10}" y2="{plot_height + 10}" stroke="#c9d0db"/>',
    ]
    for i, day in enumerate(days):
        x, base = left + i * column, plot_height + 10
        for s, name in enumerate(series):
            count = stacks[day].get(name, 0)
            if not count:
                continue
            h = plot_height * count / tallest
            base -= h
            colour = PALETTE[s % len(PALETTE)]
            parts.append(
                f'<rect x="{x + 2}" y="{base:.1f}" width="{column - 4}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(day)}, {escape(name)}: {count}</title></rect>"
            )
        total = sum(stacks[day].values())
        parts.append(
            f'<text class="value" x="{x + column / 2:.1f}" y="{base - 3:.1f}" font-size="10" text-anchor="middle" '
            f'fill="#1d2330">{total}</text>'
        )
        if len(days) <= 16 or i % max(1, len(days) // 8) == 0:
            parts.append(
                f'<text x="{x + column / 2:.1f}" y="{plot_height + 26}" font-size="10" text-anchor="middle" '
                f'fill="#5a6478">{escape(day[5:])}</text>'
            )
    others = sum(totals[c] for c in ranked[len(kept) :])
    for s, name in enumerate(series):
        x, y = 8 + (s % 3) * 190, legend_top + (s // 3) * 18
        count = others if name == "other" else totals[name]
        parts += [
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>',
            f'<text x="{x + 15}" y="{y}" font-size="11" fill="#33415c">{escape(name)} ({count})</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def for_table(key: str, columns: List[str], rows: List[List]) -> str:
    """The chart that fits each analytics figure (bot/analytics/figures.py); empty for a table-only one."""
    if key.startswith("conversations_by_"):
        return stacked_days(rows, title=f"Conversations per day by {columns[1]}")
    if key == "automation":
        return bars(
            [(r[0], r[3] * 100) for r in rows if r[3] is not None], title="Automation rate", maximum=100, unit=" %"
        )
    if key == "handoff_reasons":
        return bars([(r[0], r[1]) for r in rows], title="Tickets by reason")
    if key.startswith("ratings_by_"):
        return bars([(r[0], r[2]) for r in rows], title=f"Average rating by {columns[0]}", maximum=5)
    if key == "handover_times":
        return bars([(r[0], r[2]) for r in rows if r[2] is not None], title="Median minutes", unit=" min")
    if key == "fixes":
        return bars([(f"{r[0]} · {r[1]} · {r[2]}", r[5]) for r in rows], title="Value of fixes", unit="")
    if key == "delivery_problems":
        return bars(
            [(f"{r[0]} · {r[1]}", 100 * sum(v or 0 for v in r[3:7])) for r in rows],
            title="Share of shipments with a problem",
            maximum=100,
            unit=" %",
        )
    return ""
