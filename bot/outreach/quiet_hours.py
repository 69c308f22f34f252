"""When Porter may write first: never in the shopper's night. The shopper's time zone is taken from the
delivery country (the first zone pytz lists for it, the most populous; a country spanning zones is off by an
hour or two at most); an unknown country counts as UTC."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytz


def shopper_zone(country: str) -> ZoneInfo:
    zones = pytz.country_timezones.get((country or "").upper()) or []
    try:
        return ZoneInfo(zones[0]) if zones else ZoneInfo("UTC")
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")


def is_quiet(clock: time, quiet_from: time, quiet_until: time) -> bool:
    if quiet_from == quiet_until:
        return False
    if quiet_from < quiet_until:
        return quiet_from <= clock < quiet_until
    return clock >= quiet_from or clock < quiet_until  # overnight


def next_allowed(now: datetime, zone: ZoneInfo, quiet_from: time, quiet_until: time) -> datetime:
    """``now`` when it is not quiet where the shopper is; otherwise the end of the quiet hours (in UTC)."""
    local = now.astimezone(zone)
    if not is_quiet(local.timetz().replace(tzinfo=None), quiet_from, quiet_until):
        return now
    end = local.replace(hour=quiet_until.hour, minute=quiet_until.minute, second=0, microsecond=0)
    if end <= local:
        end = (local + timedelta(days=1)).replace(
            hour=quiet_until.hour, minute=quiet_until.minute, second=0, microsecond=0
        )
    return end.astimezone(now.tzinfo or ZoneInfo("UTC"))
