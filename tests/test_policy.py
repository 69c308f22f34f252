import pytest
import yaml

from bot.paths import PROJECT_ROOT
from bot.decisions.policy import PolicyError, load_policy, parse_policy

SHIPPED = yaml.safe_load((PROJECT_ROOT / "policy.yml").read_text())


def test_the_shipped_policy_is_valid():
    policy = load_policy(PROJECT_ROOT / "policy.yml")
    assert policy.currency == "EUR" and policy.stall_days > 0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"stall_dayz": 7}, "unknown key 'stall_dayz'"),
        ({"stall_days": "seven"}, "key 'stall_days' must be a whole number"),
        ({"discount_percent": 150}, "key 'discount_percent' must be a number from 0 to 100"),
        ({"reship_value_limit": 500}, "key 'reship_value_limit' must not exceed 'automatic_value_limit'"),
        ({"exchange_rates": {"EUR": 1, "USD": -1}}, "key 'exchange_rates.USD' must be a positive number"),
        ({"currency": "euro"}, "key 'currency' must be an ISO 4217 code"),
        ({"partial_refund_percent": -5}, "key 'partial_refund_percent' must be a number from 0 to 100"),
        ({"return_requires_unused": "yes"}, "key 'return_requires_unused' must be true or false"),
        ({"return_address": " "}, "key 'return_address' must be the address returns are sent to"),
        ({"no_return_value_limit": 900}, "key 'no_return_value_limit' must not exceed 'automatic_value_limit'"),
        ({"customs_handoff_days": 0}, "key 'customs_handoff_days' must be a whole number from 1 to 60"),
    ],
)
def test_mistakes_are_reported_with_the_key(change, message):
    with pytest.raises(PolicyError, match=message.replace("(", r"\(")):
        parse_policy({**SHIPPED, **change})


def test_a_missing_key_is_named():
    data = dict(SHIPPED)
    del data["delivered_wait_hours"]
    with pytest.raises(PolicyError, match="key 'delivered_wait_hours' is missing"):
        parse_policy(data)


def test_unknown_currency_counts_as_high_value():
    policy = parse_policy(SHIPPED)
    assert policy.needs_person(10, "JPY")
    assert not policy.is_low_value(10, "JPY")
    assert policy.is_low_value(10, "USD")


def test_policy_check_command_names_the_broken_key(tmp_path):
    import subprocess
    import sys

    broken = tmp_path / "policy.yml"
    broken.write_text(yaml.safe_dump({**SHIPPED, "stall_days": 0}))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "policy", "check", str(broken)], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2 and "'stall_days'" in result.stderr


# --- promised_days and shipping_regions ---------------------------------------------------------------------


def _with_days(**changes):
    return {**SHIPPED, **changes}


def test_promised_days_by_service_and_destination_region():
    from datetime import date, datetime, timedelta, timezone

    policy = parse_policy(SHIPPED)
    shipped = datetime(2026, 10, 2, 8, 0, tzinfo=timezone.utc)
    assert policy.region_of("PT") == "EUROPE" and policy.region_of("no") == "EUROPE"
    assert policy.region_of("ZA") == "default" and policy.region_of("") == "default"
    for country, region in (("PT", "EUROPE"), ("US", "NORTH_AMERICA"), ("ZA", "default")):
        for service in ("economy", "standard", "express"):
            days = SHIPPED["promised_days"][region][service]
            assert policy.promised_days_for(service, country) == days
            assert policy.promised_by(shipped, service, country) == date(2026, 10, 2) + timedelta(days=days)


def test_both_keys_are_required():
    for key in ("promised_days", "shipping_regions"):
        data = dict(SHIPPED)
        del data[key]
        with pytest.raises(PolicyError, match=f"key '{key}' is missing"):
            parse_policy(data)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"promised_days": {"EUROPE": {"economy": 1, "standard": 1, "express": 1}}},
            "key 'promised_days' must be a mapping with a 'default' entry",
        ),
        (
            {"promised_days": {**SHIPPED["promised_days"], "default": {"economy": 30, "standard": 20}}},
            "key 'promised_days.default.express' is missing",
        ),
        (
            {"promised_days": {**SHIPPED["promised_days"], "default": {"economy": 30, "standard": 20, "express": 0}}},
            "key 'promised_days.default.express' must be a whole number from 1 to 365, found 0",
        ),
        (
            {"promised_days": {**SHIPPED["promised_days"], "EUROPE": {"economy": 25, "standard": "15", "express": 6}}},
            "key 'promised_days.EUROPE.standard' must be a whole number",
        ),
        (
            {
                "promised_days": {
                    **SHIPPED["promised_days"],
                    "EUROPE": {"economy": 25, "standard": 15, "express": 6, "overnight": 1},
                }
            },
            "key 'promised_days.EUROPE.overnight' is not a service",
        ),
        (
            {"promised_days": {**SHIPPED["promised_days"], "MARS": {"economy": 99, "standard": 99, "express": 99}}},
            "key 'promised_days.MARS' names a region that 'shipping_regions' does not define",
        ),
        (
            {"promised_days": {**SHIPPED["promised_days"], "EUROPE": 15}},
            "key 'promised_days.EUROPE' must be a mapping of services",
        ),
        (
            {"shipping_regions": {**SHIPPED["shipping_regions"], "AFRICA": ["ZA"]}},
            "key 'shipping_regions.AFRICA' has no days in 'promised_days'",
        ),
        (
            {"shipping_regions": {**SHIPPED["shipping_regions"], "EUROPE": ["PT", "Portugal"]}},
            "key 'shipping_regions.EUROPE' must list ISO 3166-1 alpha-2 codes like PT, found 'Portugal'",
        ),
        (
            {"shipping_regions": {**SHIPPED["shipping_regions"], "EUROPE": ["PT", False]}},
            "key 'shipping_regions.EUROPE' lists False: YAML reads a bare NO",
        ),
        (
            {"shipping_regions": {**SHIPPED["shipping_regions"], "NORTH_AMERICA": ["US", "CA", "PT"]}},
            "lists PT, already in region",
        ),
        (
            {"shipping_regions": {**SHIPPED["shipping_regions"], "EUROPE": []}},
            "key 'shipping_regions.EUROPE' must be a non-empty list",
        ),
        ({"shipping_regions": ["EUROPE"]}, "key 'shipping_regions' must be a mapping"),
    ],
)
def test_promised_days_mistakes_name_the_key(change, message):
    with pytest.raises(PolicyError, match=message.replace("(", r"\(")):
        parse_policy(_with_days(**change))


def test_a_bare_no_in_the_policy_file_is_explained(tmp_path):
    text = (PROJECT_ROOT / "policy.yml").read_text().replace("'NO'", "NO")
    path = tmp_path / "policy.yml"
    path.write_text(text)
    with pytest.raises(PolicyError, match="put the code in quotes, like 'NO'"):
        load_policy(path)
