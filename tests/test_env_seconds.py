"""Settings that are a number of seconds (bot/env_seconds.py): an operator's typo stops the start with the
variable's name, never an endless or negative wait."""

import pytest

from bot.payments.schedule import ScheduleError
from bot.storage.location import StorageError


@pytest.mark.parametrize("raw", ["soon", "-1", "inf", "nan", "1e999"])
def test_a_wait_that_is_not_a_number_of_seconds_is_refused_with_its_name(monkeypatch, raw):
    from bot.storage.engine import _wait_seconds
    from bot.tracker_store import wait_seconds

    monkeypatch.setenv("PORTER_TRACKER_WAIT_SECONDS", raw)
    monkeypatch.setenv("PORTER_DATABASE_WAIT_SECONDS", raw)
    with pytest.raises(ValueError, match="PORTER_TRACKER_WAIT_SECONDS"):
        wait_seconds()
    with pytest.raises(StorageError, match="PORTER_DATABASE_WAIT_SECONDS"):
        _wait_seconds()


def test_unset_or_blank_means_the_default_and_a_number_is_taken(monkeypatch):
    from bot.tracker_store import DEFAULT_WAIT_SECONDS, wait_seconds

    monkeypatch.setenv("PORTER_TRACKER_WAIT_SECONDS", "  ")
    assert wait_seconds() == DEFAULT_WAIT_SECONDS
    monkeypatch.setenv("PORTER_TRACKER_WAIT_SECONDS", " 2.5 ")
    assert wait_seconds() == 2.5


def test_a_payment_delay_below_its_least_is_refused():
    from bot.env_seconds import seconds_setting

    with pytest.raises(ScheduleError, match="PORTER_X=.0.5. must be at least 1"):
        seconds_setting({"PORTER_X": "0.5"}, "PORTER_X", 60.0, least=1.0, error=ScheduleError)
