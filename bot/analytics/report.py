"""`python -m bot report`: the analytics' figures as Markdown (to read), CSV (to chart elsewhere) or JSON."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date, datetime, timedelta, timezone
from typing import List

from bot.analytics.figures import Analytics, Filters, Table


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|")


def markdown(tables: List[Table], filters: Filters) -> str:
    scope = f"{filters.since} to {filters.until}"
    scope += f", language {filters.language}" if filters.language else ""
    scope += f", channel {filters.channel}" if filters.channel else ""
    lines = [f"# Porter analytics, {scope}", ""]
    for table in tables:
        lines += [f"## {table.title}", "", table.meaning, ""]
        if not table.rows:
            lines += ["(nothing in this range)", ""]
            continue
        lines.append("| " + " | ".join(table.columns) + " |")
        lines.append("|" + "---|" * len(table.columns))
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.rows]
        lines.append("")
    return "\n".join(lines)


def csv_text(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([["" if v is None else v for v in row] for row in table.rows])
    return out.getvalue()


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date like 2026-11-01") from None


def run(args) -> int:
    try:
        until = _day(args.until) if args.until else datetime.now(timezone.utc).date()
        since = _day(args.since) if args.since else until - timedelta(days=29)
        filters = Filters(since, until, args.language or None, args.channel or None)
        tables = Analytics().compute(filters)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.figure:
        tables = [t for t in tables if t.key == args.figure]
        if not tables:
            print(f"error: no figure {args.figure!r}", file=sys.stderr)
            return 2
    if args.format == "json":
        print(
            json.dumps(
                {"filters": _filters_dict(filters), "figures": [t.to_dict() for t in tables]},
                ensure_ascii=False,
                indent=2,
            )
        )
    elif args.format == "csv":
        print("\n".join(f"# {t.key}: {t.title}\n{csv_text(t)}" for t in tables), end="")
    else:
        print(markdown(tables, filters))
    return 0


def _filters_dict(filters: Filters) -> dict:
    return {
        "since": filters.since.isoformat(),
        "until": filters.until.isoformat(),
        "language": filters.language,
        "channel": filters.channel,
    }
