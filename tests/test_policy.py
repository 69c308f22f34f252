import pytest
import yaml

from bot.paths import PROJECT_ROOT
from bot.policy import PolicyError, load_policy, parse_policy

SHIPPED = yaml.safe_load((PROJECT_ROOT / "policy.yml").read_text())


def test_the_shipped_policy_is_valid():
    policy = load_policy(PROJECT_ROOT / "policy.yml")
    assert policy.currency == "EUR" and policy.stall_days > 0


@pytest.mark.parametrize("change, message", [
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
])
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
    import subprocess, sys

    broken = tmp_path / "policy.yml"
    broken.write_text(yaml.safe_dump({**SHIPPED, "stall_days": 0}))
    result = subprocess.run([sys.executable, "-m", "bot", "policy", "check", str(broken)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "'stall_days'" in result.stderr
