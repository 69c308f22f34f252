"""The agents' hours and what a shopper waiting for them is told: the place in the queue and the expected wait,
or, when nobody is there (or nobody will get to them before closing), when the team opens again.

Everything is computed from the policy (`agent_time_zone`, `agent_working_days`, `agent_opening_time`,
`agent_closing_time`, `average_handling_minutes`) and a given clock, so it is tested with fixed times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import FrozenSet, Optional
from zoneinfo import ZoneInfo

from bot.decisions.policy import WEEKDAYS, Policy

QUEUE = "queue"  # the team is in: place in the queue and expected wait
CLOSING = "closing"  # the team is in, but the expected wait runs past closing time
AFTER_HOURS = "after_hours"  # the team is out: when it opens again


@dataclass(frozen=True)
class AgentHours:
    zone: ZoneInfo
    days: FrozenSet[int]  # datetime.weekday() numbers
    opens: time
    closes: time

    @classmethod
    def from_policy(cls, policy: Policy) -> "AgentHours":
        return cls(
            ZoneInfo(policy.agent_time_zone),
            frozenset(WEEKDAYS.index(d) for d in policy.agent_working_days),
            policy.agent_opening_time,
            policy.agent_closing_time,
        )

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("agent hours need an aware datetime")
        return at.astimezone(self.zone)

    def is_open(self, at: datetime) -> bool:
        local = self._local(at)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def closing_on(self, at: datetime) -> datetime:
        """Closing time on the (local) day of ``at``, in the agents' zone."""
        return datetime.combine(self._local(at).date(), self.closes, tzinfo=self.zone)

    def next_opening(self, at: datetime) -> datetime:
        """The first opening time after ``at`` (strictly), in the agents' zone."""
        day = self._local(at).date()
        for offset in range(8):
            candidate_day = day + timedelta(days=offset)
            if candidate_day.weekday() not in self.days:
                continue
            opening = datetime.combine(candidate_day, self.opens, tzinfo=self.zone)
            if opening > at:
                return opening
        raise ValueError("no working day in the agents' week")  # the policy check forbids an empty week


@dataclass(frozen=True)
class Availability:
    kind: str  # QUEUE, CLOSING or AFTER_HOURS
    position: Optional[int]  # 1 for the next conversation an agent takes
    wait: timedelta  # position × average handling time
    opening: Optional[datetime]  # CLOSING and AFTER_HOURS: when someone will answer at the latest/earliest


def availability(policy: Policy, position: Optional[int], now: datetime) -> Availability:
    """What to tell a shopper at ``position`` in the queue at ``now``."""
    hours = AgentHours.from_policy(policy)
    wait = timedelta(minutes=(position or 1) * policy.average_handling_minutes)
    if not hours.is_open(now):
        return Availability(AFTER_HOURS, position, wait, hours.next_opening(now))
    closing = hours.closing_on(now)
    if now + wait > closing:
        return Availability(CLOSING, position, wait, hours.next_opening(closing))
    return Availability(QUEUE, position, wait, None)
