"""The merchant's policy file: loaded once, checked strictly, so a typo never silently changes a decision."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.paths import policy_path


class PolicyError(ValueError):
    """The policy file is wrong; the message names the key and what is expected."""


@dataclass(frozen=True)
class Policy:
    currency: str
    exchange_rates: Dict[str, float]
    stall_days: int
    late_after_promised_days: int
    untracked_grace_days: int
    delivered_wait_hours: int
    reship_value_limit: float
    automatic_value_limit: float
    discount_percent: float
    pickup_hold_days: int
    verification_attempts: int
    partial_refund_percent: float
    no_return_value_limit: float
    return_window_days: int
    return_requires_unused: bool
    return_address: str
    refund_bank_days: int
    customs_handoff_days: int
    # Days from shipment to the promised delivery date: {region or "default": {service: days}}. Order systems
    # that do not give a promised date themselves (Shopify) get it from here. Defaults keep code that builds a
    # Policy by hand working; the policy file itself must always have both keys.
    promised_days: Dict[str, Dict[str, int]] = field(default_factory=dict)
    shipping_regions: Dict[str, List[str]] = field(default_factory=dict)
    # Handing over to a person (bot/handoff): the agents' hours in their time zone, the minutes one
    # conversation takes them on average (the expected wait is the queue position times this), and on how
    # many different days an order may be raised before a person takes it (bot/handoff/contacts.py).
    agent_time_zone: str = "UTC"
    agent_working_days: Tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    agent_opening_time: time = time(9, 0)
    agent_closing_time: time = time(18, 0)
    average_handling_minutes: int = 10
    repeat_contact_limit: int = 3
    # Minutes of silence after which a verified order must be proved again (actions/authorization.py). The
    # domain's session_expiration_time is the same number, so a new session starts where verification ends.
    verification_expiry_minutes: int = 30
    # Porter speaking first (bot/outreach/): the situations it warns shoppers of, the hours it keeps quiet in the
    # shopper's time zone (from may be later than until: the night), at most one alert per order in so many
    # days, and the days after a refund (or a reshipment) when it asks whether the money (or parcel) came.
    alert_situations: Tuple[str, ...] = ()
    alert_quiet_from: time = time(21, 0)
    alert_quiet_until: time = time(8, 0)
    alert_every_days: int = 3
    follow_up_refund_days: int = 10
    follow_up_reship_days: int = 14
    rating_after_minutes: int = 15

    def value_in_policy_currency(self, amount: float, currency: str) -> Optional[float]:
        """The amount converted, or None when the currency has no rate (callers treat that as high value)."""
        rate = self.exchange_rates.get(currency)
        return None if rate is None else amount * rate

    def is_low_value(self, amount: float, currency: str) -> bool:
        value = self.value_in_policy_currency(amount, currency)
        return value is not None and value <= self.reship_value_limit

    def needs_no_return(self, amount: float, currency: str) -> bool:
        """Cheap items are refunded or replaced without sending them back: the postage costs more."""
        value = self.value_in_policy_currency(amount, currency)
        return value is not None and value <= self.no_return_value_limit

    def needs_person(self, amount: float, currency: str) -> bool:
        value = self.value_in_policy_currency(amount, currency)
        return value is None or value > self.automatic_value_limit

    def region_of(self, country: str) -> str:
        """The shipping region a country (ISO 3166-1 alpha-2) belongs to, or "default"."""
        country = (country or "").strip().upper()
        for region, countries in self.shipping_regions.items():
            if country in countries:
                return region
        return "default"

    def promised_days_for(self, service: str, country: str) -> int:
        table = self.promised_days.get(self.region_of(country)) or self.promised_days.get("default") or {}
        if service not in table:
            raise PolicyError(f"policy: key 'promised_days' has no days for service {service!r}")
        return table[service]

    def promised_by(self, shipped_at: datetime, service: str, country: str) -> date:
        """The delivery date promised for a parcel shipped at ``shipped_at`` with ``service`` to ``country``."""
        return shipped_at.date() + timedelta(days=self.promised_days_for(service, country))


_INTS = {
    "stall_days": (1, 120),
    "late_after_promised_days": (0, 60),
    "untracked_grace_days": (0, 120),
    "delivered_wait_hours": (0, 24 * 30),
    "pickup_hold_days": (1, 60),
    "verification_attempts": (1, 10),
    "return_window_days": (0, 365),
    "refund_bank_days": (1, 60),
    "customs_handoff_days": (1, 60),
    "average_handling_minutes": (1, 240),
    "repeat_contact_limit": (2, 30),
    "verification_expiry_minutes": (5, 24 * 60),
    "alert_every_days": (1, 60),
    "follow_up_refund_days": (1, 90),
    "follow_up_reship_days": (1, 90),
    "rating_after_minutes": (0, 24 * 60),
}
_AMOUNTS = {"reship_value_limit", "automatic_value_limit", "no_return_value_limit"}
_PERCENTS = {"discount_percent", "partial_refund_percent"}
_SERVICES = ("economy", "standard", "express")  # bot.shop.models.SERVICES (not imported: no cycle)
_PROMISED_DAYS_RANGE = (1, 365)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _check_agent_hours(data: dict, source: str) -> Dict[str, Any]:
    """The agents' time zone, days and hours, as the values Policy keeps (a ZoneInfo name, day names, times)."""
    zone = data["agent_time_zone"]
    try:
        if not isinstance(zone, str) or not zone.strip():
            raise ValueError
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise PolicyError(
            f"{source}: key 'agent_time_zone' must be an IANA time zone name like Europe/Berlin "
            f"or America/New_York, found {zone!r}"
        ) from None
    days = data["agent_working_days"]
    if not isinstance(days, list) or not days:
        raise PolicyError(
            f"{source}: key 'agent_working_days' must be a non-empty list of days "
            f"({', '.join(WEEKDAYS)}), found {days!r}"
        )
    for day in days:
        if day not in WEEKDAYS:
            raise PolicyError(
                f"{source}: key 'agent_working_days' lists {day!r}, which is not one of {', '.join(WEEKDAYS)}"
            )
    if len(set(days)) != len(days):
        raise PolicyError(f"{source}: key 'agent_working_days' lists a day twice: {days!r}")
    clocks = {key: _clock(data, key, source) for key in ("agent_opening_time", "agent_closing_time")}
    if clocks["agent_closing_time"] <= clocks["agent_opening_time"]:
        raise PolicyError(
            f"{source}: key 'agent_closing_time' must be later than 'agent_opening_time' "
            f"(hours that run past midnight are not supported)"
        )
    return {"agent_time_zone": zone, "agent_working_days": tuple(d for d in WEEKDAYS if d in days), **clocks}


def _clock(data: dict, key: str, source: str) -> time:
    value = data[key]
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 18:00 as the number 1080 (base 60)
        raise PolicyError(
            f"{source}: key {key!r} must be a time in quotes like '09:00'; unquoted, YAML "
            f"reads it as the number {value}"
        )
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise PolicyError(
            f"{source}: key {key!r} must be a time of day as 'HH:MM' (24-hour clock, in quotes), found {value!r}"
        )
    return time(int(match.group(1)), int(match.group(2)))


def _check_alerts(data: dict, source: str) -> Dict[str, Any]:
    """The situations Porter alerts on (only those it can warn of) and its quiet hours."""
    from bot.decisions.situations import ALERTABLE

    chosen = data["alert_situations"]
    if not isinstance(chosen, list):
        raise PolicyError(
            f"{source}: key 'alert_situations' must be a list of situations ({', '.join(ALERTABLE)}), or [] for "
            f"no alerts; found {chosen!r}"
        )
    for kind in chosen:
        if kind not in ALERTABLE:
            raise PolicyError(
                f"{source}: key 'alert_situations' lists {kind!r}, which is not one of {', '.join(ALERTABLE)}"
            )
    return {
        "alert_situations": tuple(k for k in ALERTABLE if k in chosen),
        "alert_quiet_from": _clock(data, "alert_quiet_from", source),
        "alert_quiet_until": _clock(data, "alert_quiet_until", source),
    }


def _check_promised_days(data: dict, source: str) -> None:
    table, regions = data["promised_days"], data["shipping_regions"]
    if not isinstance(table, dict) or "default" not in table:
        raise PolicyError(
            f"{source}: key 'promised_days' must be a mapping with a 'default' entry "
            f"(and optionally one per region of 'shipping_regions'), found {table!r}"
        )
    if not isinstance(regions, dict):
        raise PolicyError(
            f"{source}: key 'shipping_regions' must be a mapping of region names to lists of "
            f"country codes, found {regions!r}"
        )
    low, high = _PROMISED_DAYS_RANGE
    for region, days in table.items():
        key = f"promised_days.{region}"
        if not isinstance(days, dict):
            raise PolicyError(
                f"{source}: key {key!r} must be a mapping of services ({', '.join(_SERVICES)}) to days, found {days!r}"
            )
        for service in days:
            if service not in _SERVICES:
                raise PolicyError(
                    f"{source}: key '{key}.{service}' is not a service (services: {', '.join(_SERVICES)})"
                )
        for service in _SERVICES:
            if service not in days:
                raise PolicyError(f"{source}: key '{key}.{service}' is missing")
            value = days[service]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise PolicyError(
                    f"{source}: key '{key}.{service}' must be a whole number from {low} to {high}, found {value!r}"
                )
        if region != "default" and region not in regions:
            raise PolicyError(f"{source}: key {key!r} names a region that 'shipping_regions' does not define")
    seen: Dict[str, str] = {}
    for region, countries in regions.items():
        key = f"shipping_regions.{region}"
        if region == "default":
            raise PolicyError(f"{source}: key {key!r}: 'default' means every country not listed; do not list it")
        if region not in table:
            raise PolicyError(f"{source}: key {key!r} has no days in 'promised_days'")
        if not isinstance(countries, list) or not countries:
            raise PolicyError(f"{source}: key {key!r} must be a non-empty list of country codes, found {countries!r}")
        for country in countries:
            if isinstance(country, bool):
                raise PolicyError(
                    f"{source}: key {key!r} lists {country!r}: YAML reads a bare NO (Norway), "
                    f"YES, ON or OFF as true/false; put the code in quotes, like 'NO'"
                )
            if not (isinstance(country, str) and len(country) == 2 and country.isalpha() and country.isupper()):
                raise PolicyError(
                    f"{source}: key {key!r} must list ISO 3166-1 alpha-2 codes like PT, found {country!r}"
                )
            if country in seen:
                raise PolicyError(f"{source}: key {key!r} lists {country}, already in region {seen[country]!r}")
            seen[country] = region


def parse_policy(data: Any, source: str = "policy") -> Policy:
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: must be a mapping of keys to values")
    known = {f.name for f in fields(Policy)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise PolicyError(f"{source}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(known))})")
    missing = sorted(known - set(data))
    if missing:
        raise PolicyError(f"{source}: key {missing[0]!r} is missing")

    def fail(key: str, expected: str) -> None:
        raise PolicyError(f"{source}: key {key!r} must be {expected}, found {data[key]!r}")

    currency = data["currency"]
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
        fail("currency", "an ISO 4217 code like EUR")
    rates = data["exchange_rates"]
    if not isinstance(rates, dict) or not rates:
        fail("exchange_rates", "a mapping of currency codes to positive numbers")
    for code, rate in rates.items():
        if (
            not (isinstance(code, str) and len(code) == 3)
            or isinstance(rate, bool)
            or not isinstance(rate, (int, float))
            or rate <= 0
        ):
            raise PolicyError(f"{source}: key 'exchange_rates.{code}' must be a positive number, found {rate!r}")
    if currency not in rates:
        raise PolicyError(f"{source}: key 'exchange_rates' must include the policy currency {currency}")
    for key, (low, high) in _INTS.items():
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            fail(key, f"a whole number from {low} to {high}")
    for key in _AMOUNTS:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            fail(key, "a number of at least 0")
    for key in _PERCENTS:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            fail(key, "a number from 0 to 100")
    if not isinstance(data["return_requires_unused"], bool):
        fail("return_requires_unused", "true or false")
    if not isinstance(data["return_address"], str) or not data["return_address"].strip():
        fail("return_address", "the address returns are sent to, as text")
    if data["reship_value_limit"] > data["automatic_value_limit"]:
        raise PolicyError(f"{source}: key 'reship_value_limit' must not exceed 'automatic_value_limit'")
    if data["no_return_value_limit"] > data["automatic_value_limit"]:
        raise PolicyError(f"{source}: key 'no_return_value_limit' must not exceed 'automatic_value_limit'")
    _check_promised_days(data, source)
    values = dict(data)
    values.update(_check_agent_hours(data, source))
    values.update(_check_alerts(data, source))
    values["exchange_rates"] = dict(data["exchange_rates"])
    values["promised_days"] = {str(region): dict(days) for region, days in data["promised_days"].items()}
    values["shipping_regions"] = {str(region): list(c) for region, c in data["shipping_regions"].items()}
    return Policy(**values)


def load_policy(path: Optional[Path] = None) -> Policy:
    path = Path(path) if path else policy_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML ({exc})") from exc
    return parse_policy(data, str(path))
