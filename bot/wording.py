"""Dates, amounts and tracking evidence written in the shopper's language.

The sentences themselves are replies in the language catalogs (languages/); this module renders the values that
go into their placeholders, with each catalog's formats and tracking words, so a Chinese reply never carries an
English date or status.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Iterable, Optional

from babel.dates import format_date, format_time, format_timedelta, get_datetime_format, get_timezone_location
from babel.numbers import format_currency

from bot.catalogs import FALLBACK, section
from bot.shop.models import TrackingEvent

DEFAULT_LANGUAGE = FALLBACK


def _formats(language: Optional[str]) -> dict:
    return section("formats", language)


def _locale(language: Optional[str]) -> str:
    return _formats(language).get("locale") or DEFAULT_LANGUAGE


def day(value: date | datetime, language: Optional[str]) -> str:
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, format=_formats(language).get("date") or "medium", locale=_locale(language))


def moment(value: datetime, language: Optional[str]) -> str:
    """A weekday, date and time in the value's own time zone, with its city: 'Monday, November 2, 2026,
    9:00 AM (Berlin)', '2026年11月2日星期一 09:00（柏林）'. For when the agents are back."""
    locale = _locale(language)
    when = (
        get_datetime_format("long", locale=locale)
        .replace("'", "")
        .replace("{1}", format_date(value, format="full", locale=locale))
        .replace("{0}", format_time(value, format="short", tzinfo=value.tzinfo, locale=locale))
    )
    zone = getattr(value.tzinfo, "key", None)
    if not zone or zone.startswith("Etc/") or zone in ("UTC", "GMT"):
        city = "UTC"
    else:
        city = get_timezone_location(value.tzinfo, locale=locale, return_city=True)
    return when + (_formats(language).get("city") or " ({city})").format(city=city)


def duration(value: timedelta, language: Optional[str]) -> str:
    """'10 minutes', '2 hours', '10分钟', '10 минут': a rounded length of time in the shopper's language."""
    return format_timedelta(value, threshold=1, locale=_locale(language))


def money(amount: float, currency: str, language: Optional[str]) -> str:
    return format_currency(amount, currency, locale=_locale(language))


def _label(kind: str, language: Optional[str], key: str) -> str:
    """A tracking status or sub-status in ``language``; English, then the carrier's own word, otherwise."""
    own = (section("tracking", language).get(kind) or {}).get(key)
    return own or (section("tracking", FALLBACK).get(kind) or {}).get(key) or key


def scans(events: Iterable[TrackingEvent], language: Optional[str], last: int = 3) -> str:
    """The latest scans, newest first: '• 12 Oct 2026, Lisboa, PT: in transit'."""
    lines = []
    for event in list(events)[-last:][::-1]:
        status = _label("statuses", language, event.status)
        if event.substatus:
            status = _label("substatuses", language, event.substatus)
        where = f", {event.location}" if event.location else ""
        separator = _formats(language).get("separator") or ": "
        lines.append(f"• {day(event.at, language)}{where}{separator}{status}")
    return "\n".join(lines) if lines else "• " + str(section("tracking", language).get("no_scans"))


def language_of(tracker) -> str:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE
