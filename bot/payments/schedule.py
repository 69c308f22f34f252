"""When the retry worker tries a payment again, and when it stops, from the environment.

Settings (all optional): ``PORTER_PAYMENT_RETRY_DELAY`` (seconds before the first retry, doubling after each
failed attempt, default 60), ``PORTER_PAYMENT_RETRY_MAX_DELAY`` (the longest wait between two attempts,
default 21600, six hours), ``PORTER_PAYMENT_ATTEMPTS`` (attempts in all, the shopper's first one included,
before the case is marked for an agent, default 8), ``PORTER_PAYMENT_GRACE`` (seconds a case may stay
``pending`` with no attempt under way before the worker takes it as interrupted, default 300; the chat pays
within seconds) and ``PORTER_PAYMENT_POLL`` (seconds between two passes of the looping worker, default 30).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping, Optional

from bot.decisions.cases import Case, needs_payment
from bot.env_seconds import seconds_setting


class ScheduleError(ValueError):
    """A payment setting is not a usable number; the message names the variable."""


def _seconds(env: Mapping[str, str], name: str, default: float, least: float = 0.0) -> float:
    return seconds_setting(env, name, default, least, error=ScheduleError)


@dataclass(frozen=True)
class RetrySchedule:
    first_delay: float = 60.0
    max_delay: float = 6 * 3600.0
    attempts: int = 8
    grace: float = 300.0
    poll: float = 30.0

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "RetrySchedule":
        env = environ if environ is not None else os.environ
        attempts = _seconds(env, "PORTER_PAYMENT_ATTEMPTS", cls.attempts, least=1)
        if attempts != int(attempts):
            raise ScheduleError(f"PORTER_PAYMENT_ATTEMPTS={attempts:g} must be a whole number")
        return cls(
            first_delay=_seconds(env, "PORTER_PAYMENT_RETRY_DELAY", cls.first_delay),
            max_delay=_seconds(env, "PORTER_PAYMENT_RETRY_MAX_DELAY", cls.max_delay),
            attempts=int(attempts),
            grace=_seconds(env, "PORTER_PAYMENT_GRACE", cls.grace),
            poll=_seconds(env, "PORTER_PAYMENT_POLL", cls.poll, least=1),
        )

    def next_attempt(self, attempts_made: int, now: datetime) -> Optional[datetime]:
        """When to try again after ``attempts_made`` attempts that did not pay; None once they are used up."""
        if attempts_made >= self.attempts:
            return None
        delay = min(self.max_delay, self.first_delay * 2 ** max(0, attempts_made - 1))
        return now + timedelta(seconds=delay)

    def due(self, case: Case, now: datetime) -> bool:
        """Whether the worker should try this case now. A case that never finished an attempt (a crash between
        recording it and paying, or in the middle) is due once it has been quiet for the grace period."""
        details = case.details
        if not needs_payment(case) or details.get("gave_up_at"):
            return False
        if details.get("next_attempt_at"):
            return now >= datetime.fromisoformat(details["next_attempt_at"])
        quiet_since = datetime.fromisoformat(details.get("last_attempt_at") or case.created_at)
        return now >= quiet_since + timedelta(seconds=self.grace)
