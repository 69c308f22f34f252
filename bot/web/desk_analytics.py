"""The desk's analytics page (admins only): the figures of bot/analytics for a date range, a language and a
channel, each with its chart (bot/web/charts.py) and its data as CSV."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping

from bot.analytics.figures import Analytics, Filters, Table
from bot.analytics.report import csv_text
from bot.languages import supported_languages
from bot.web import charts

logger = logging.getLogger(__name__)

CHANNELS = {"socketio": "Widget", "telegram": "Telegram", "whatsapp": "WhatsApp", "rest": "REST API"}
DEFAULT_DAYS = 30
MAX_DAYS = 366


def filters_from(args: Mapping[str, Any]) -> Filters:
    """The page's filters from its query; ValueError with a sentence to show when one is wrong."""

    def one(name: str) -> str:
        value = args.get(name)
        return (value[0] if isinstance(value, list) else value or "").strip()

    try:
        until = date.fromisoformat(one("until")) if one("until") else datetime.now(timezone.utc).date()
        since = date.fromisoformat(one("since")) if one("since") else until - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise ValueError("dates look like 2026-11-01") from None
    if (until - since).days >= MAX_DAYS:
        raise ValueError(f"choose at most {MAX_DAYS} days")
    language, channel = one("language") or None, one("channel") or None
    if language and language not in supported_languages():
        raise ValueError(f"unknown language {language!r}")
    if channel and channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return Filters(since, until, language, channel)


async def figures(filters: Filters) -> List[Table]:
    return await asyncio.to_thread(Analytics().compute, filters)


def view(tables: List[Table], filters: Filters, query: str) -> Dict[str, Any]:
    return {
        "filters": filters,
        "query": query,
        "languages": supported_languages(),
        "channels": CHANNELS,
        "figures": [{**t.to_dict(), "chart": charts.for_table(t.key, t.columns, t.rows)} for t in tables],
    }


def csv_of(tables: List[Table], key: str) -> str:
    found = [t for t in tables if t.key == key]
    if not found:
        raise KeyError(key)
    return csv_text(found[0])


INDEX_EVERY_SECONDS = 300


def keep_index_fresh(app) -> None:
    """Reads Rasa's new events into the session index every few minutes, so that a visit to the page only catches
    up on the last minutes (the first reading of a long history takes a while: about 10 s per 100,000
    conversations, `make bench-analytics`). Every web server does it; the index's lock lets one at a time."""

    async def loop(_app) -> None:
        while True:
            try:
                await asyncio.to_thread(Analytics().index.update)
            except Exception as exc:  # noqa: BLE001 - Rasa's database away: the next round catches up
                logger.warning("analytics: the session index could not be brought up to date: %s", type(exc).__name__)
            await asyncio.sleep(INDEX_EVERY_SECONDS)

    @app.after_server_start
    async def start(app_, _loop) -> None:
        app_.ctx.analytics_index = asyncio.get_running_loop().create_task(loop(app_))

    @app.before_server_stop
    async def stop(app_, _loop) -> None:
        task = getattr(app_.ctx, "analytics_index", None)
        if task is not None:
            task.cancel()
