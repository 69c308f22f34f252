"""The agents' hours: open or closed, the next opening (time zones, weekends, summer time), what a waiting
shopper is told, and the policy keys that set them, checked with errors naming the key."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.handoff.hours import AFTER_HOURS, CLOSING, QUEUE, AgentHours, availability
from bot.paths import PROJECT_ROOT
from bot.decisions.policy import PolicyError, parse_policy

SHIPPED = yaml.safe_load((PROJECT_ROOT / "policy.yml").read_text())
BERLIN = ZoneInfo("Europe/Berlin")


def policy(**changes):
    return parse_policy(
        {
            **SHIPPED,
            "agent_time_zone": "Europe/Berlin",
            "agent_working_days": ["mon", "tue", "wed", "thu", "fri"],
            "agent_opening_time": "09:00",
            "agent_closing_time": "18:00",
            "average_handling_minutes": 10,
            **changes,
        }
    )


def berlin(day, hour, minute=0, month=11, year=2026):
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


@pytest.mark.parametrize(
    "at, is_open",
    [
        (berlin(24, 10), True),  # Tuesday morning
        (berlin(24, 8, 59), False),  # before opening
        (berlin(24, 18), False),  # closing time is already closed
        (berlin(24, 17, 59), True),
        (berlin(28, 12), False),  # Saturday
        (datetime(2026, 11, 24, 8, 30, tzinfo=timezone.utc), True),  # 09:30 in Berlin
        (datetime(2026, 11, 24, 17, 30, tzinfo=timezone.utc), False),  # 18:30 in Berlin
    ],
)
def test_open_or_closed_in_the_agents_time_zone(at, is_open):
    assert AgentHours.from_policy(policy()).is_open(at) is is_open


@pytest.mark.parametrize(
    "at, opening",
    [
        (berlin(24, 7, 30), berlin(24, 9)),  # early: today at opening
        (berlin(24, 10), berlin(25, 9)),  # open now: the next day's opening
        (berlin(27, 18, 30), berlin(30, 9)),  # Friday evening: Monday
        (berlin(28, 12), berlin(30, 9)),  # Saturday: Monday
    ],
)
def test_the_next_opening_skips_closed_days(at, opening):
    assert AgentHours.from_policy(policy()).next_opening(at) == opening


def test_the_next_opening_follows_summer_time():
    # Berlin moves to summer time on Sunday 28 March 2027: Monday's 09:00 is 07:00 UTC, not 08:00
    opening = AgentHours.from_policy(policy()).next_opening(berlin(26, 20, month=3, year=2027))
    assert opening.astimezone(timezone.utc) == datetime(2027, 3, 29, 7, 0, tzinfo=timezone.utc)


def test_other_zones_and_weekends():
    hours = AgentHours.from_policy(
        policy(
            agent_time_zone="America/Sao_Paulo",
            agent_working_days=["sat", "mon"],
            agent_opening_time="10:00",
            agent_closing_time="14:30",
        )
    )
    saturday_noon_in_sao_paulo = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)  # UTC-3
    assert hours.is_open(saturday_noon_in_sao_paulo)
    assert hours.next_opening(saturday_noon_in_sao_paulo) == datetime(
        2026, 11, 30, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo")
    )


def test_a_waiting_shopper_gets_the_place_and_the_wait_while_the_team_is_in():
    told = availability(policy(), 3, berlin(24, 10))
    assert (told.kind, told.position, told.wait, told.opening) == (QUEUE, 3, timedelta(minutes=30), None)


def test_a_wait_past_closing_says_when_the_team_is_back():
    told = availability(policy(), 2, berlin(27, 17, 45))  # Friday 17:45, 20 minutes of queue ahead
    assert (told.kind, told.opening) == (CLOSING, berlin(30, 9))
    assert availability(policy(), 1, berlin(27, 17, 45)).kind == QUEUE  # 10 minutes still fits


def test_after_hours_the_shopper_is_told_the_next_opening():
    told = availability(policy(), 1, berlin(28, 12))
    assert (told.kind, told.opening) == (AFTER_HOURS, berlin(30, 9))


def test_the_shipped_policy_documents_every_handoff_key():
    lines = (PROJECT_ROOT / "policy.yml").read_text().splitlines()
    for key in (
        "agent_time_zone",
        "agent_working_days",
        "agent_opening_time",
        "agent_closing_time",
        "average_handling_minutes",
        "repeat_contact_limit",
    ):
        above = next(i for i, line in enumerate(lines) if line.startswith(key + ":")) - 1
        while lines[above].split(":")[0].isidentifier():  # keys explained together share one comment
            above -= 1
        assert lines[above].startswith("#"), f"{key} has no comment"
    parsed = parse_policy(SHIPPED)
    assert parsed.agent_working_days == ("mon", "tue", "wed", "thu", "fri")
    assert parsed.agent_opening_time < parsed.agent_closing_time


@pytest.mark.parametrize(
    "change, message",
    [
        ({"agent_time_zone": "Europe/Atlantis"}, "key 'agent_time_zone' must be an IANA time zone name"),
        ({"agent_time_zone": "CET+1"}, "key 'agent_time_zone' must be an IANA time zone name"),
        ({"agent_time_zone": ""}, "key 'agent_time_zone' must be an IANA time zone name"),
        ({"agent_working_days": []}, "key 'agent_working_days' must be a non-empty list of days"),
        ({"agent_working_days": "mon-fri"}, "key 'agent_working_days' must be a non-empty list of days"),
        ({"agent_working_days": ["mon", "Tuesday"]}, "key 'agent_working_days' lists 'Tuesday'"),
        ({"agent_working_days": ["mon", "mon"]}, "key 'agent_working_days' lists a day twice"),
        ({"agent_opening_time": 540}, "key 'agent_opening_time' must be a time in quotes like '09:00'"),
        ({"agent_closing_time": "6pm"}, "key 'agent_closing_time' must be a time of day as 'HH:MM'"),
        ({"agent_closing_time": "24:00"}, "key 'agent_closing_time' must be a time of day as 'HH:MM'"),
        (
            {"agent_opening_time": "18:00", "agent_closing_time": "09:00"},
            "key 'agent_closing_time' must be later than 'agent_opening_time'",
        ),
        ({"average_handling_minutes": 0}, "key 'average_handling_minutes' must be a whole number from 1 to 240"),
        ({"average_handling_minutes": 7.5}, "key 'average_handling_minutes' must be a whole number from 1 to 240"),
        ({"repeat_contact_limit": 1}, "key 'repeat_contact_limit' must be a whole number from 2 to 30"),
    ],
)
def test_handoff_settings_are_checked_and_the_key_is_named(change, message):
    with pytest.raises(PolicyError, match=message.replace("(", r"\(")):
        parse_policy({**SHIPPED, **change})


def test_an_unquoted_time_in_the_file_gets_a_hint_about_quotes(tmp_path):
    from bot.decisions.policy import load_policy

    text = (PROJECT_ROOT / "policy.yml").read_text().replace("agent_closing_time: '18:00'", "agent_closing_time: 18:00")
    path = tmp_path / "policy.yml"
    path.write_text(text)
    with pytest.raises(
        PolicyError,
        match="key 'agent_closing_time' must be a time in quotes like '09:00'; "
        "unquoted, YAML reads it as the number 1080",
    ):
        load_policy(path)


@pytest.mark.parametrize("key", ["agent_time_zone", "average_handling_minutes", "repeat_contact_limit"])
def test_a_missing_handoff_key_is_named(key):
    data = dict(SHIPPED)
    del data[key]
    with pytest.raises(PolicyError, match=f"key '{key}' is missing"):
        parse_policy(data)
