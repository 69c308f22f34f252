"""The merchant's policy file: loaded once, checked strictly, so a typo never silently changes a decision."""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Dict, Optional

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


_INTS = {"stall_days": (1, 120), "late_after_promised_days": (0, 60), "untracked_grace_days": (0, 120),
         "delivered_wait_hours": (0, 24 * 30), "pickup_hold_days": (1, 60), "verification_attempts": (1, 10),
         "return_window_days": (0, 365), "refund_bank_days": (1, 60), "customs_handoff_days": (1, 60)}
_AMOUNTS = {"reship_value_limit", "automatic_value_limit", "no_return_value_limit"}
_PERCENTS = {"discount_percent", "partial_refund_percent"}


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
        if not (isinstance(code, str) and len(code) == 3) or isinstance(rate, bool) \
                or not isinstance(rate, (int, float)) or rate <= 0:
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
    return Policy(**{k: (dict(v) if k == "exchange_rates" else v) for k, v in data.items()})


def load_policy(path: Optional[Path] = None) -> Policy:
    path = Path(path) if path else policy_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found")
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML ({exc})")
    return parse_policy(data, str(path))
