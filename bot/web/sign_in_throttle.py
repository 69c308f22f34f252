"""Slows password guessing at the desk's sign-in without locking out the agents who share an address.

Per account (the name typed, whether or not such an agent exists, so the answer never tells which names are
real): a few failures are free, for typos; after that each failure makes the name wait before its next try,
2 s, then 4 s, 8 s... up to 15 minutes. A success clears it. Guessing at one agent's password slows only that
name.

Per client address (``bot.client_address``: behind a trusted proxy, the client it names): a much larger
budget, then waits growing the same way up to a minute. That slows spraying one password over many names.
An office NAT puts every agent behind one address, so a name that has signed in from an address is exempt
from that address's wait (never from its own): random names from the office network slow down, the office's
agents keep signing in. The exemption needs the right password once, so an attacker cannot earn it.

Every attempt counts as failed the moment it is let through, before the password is checked (scrypt takes a
while): a burst of parallel tries cannot slip past the count. A success takes it back.

Memory is bounded: at most ``max_keys`` records of failures and as many remembered sign-ins, the least
recently touched forgotten first; a record also lapses after an hour without a failure. Times come from
``clock`` (seconds, monotonic), so tests can move time instead of waiting.

This is one process's memory. With ``PORTER_REDIS_URL`` set, ``from_env`` gives the same throttle kept in Redis
(bot/web/sign_in_throttle_redis.py), shared by every web server.
"""

from __future__ import annotations

import math
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

ACCOUNT, ADDRESS = "account", "address"
ACCOUNT_FREE_FAILURES, ACCOUNT_FIRST_WAIT, ACCOUNT_LONGEST_WAIT = 3, 2.0, 15 * 60.0
ADDRESS_FREE_FAILURES, ADDRESS_FIRST_WAIT, ADDRESS_LONGEST_WAIT = 50, 1.0, 60.0
FORGET_AFTER = 60 * 60.0  # seconds without a failure after which a name or an address starts afresh
MAX_KEYS = 10_000
NAME_KEY_LENGTH = 80  # longer than any agent's name (64); a megabyte of name is kept as 80 characters


@dataclass(frozen=True)
class Pause:
    """Why an attempt is refused and for how long: the seconds for a Retry-After header."""

    seconds: int
    because: str  # ACCOUNT or ADDRESS


@dataclass
class _Failures:
    count: int
    last: float


def _wait(count: int, free: int, first: float, longest: float) -> float:
    if count <= free:
        return 0.0
    return min(first * 2 ** min(count - free - 1, 32), longest)


class SignInThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._failures: "OrderedDict[str, _Failures]" = OrderedDict()
        self._signed_in: "OrderedDict[Tuple[str, str], None]" = OrderedDict()  # (address, name) that signed in

    @staticmethod
    def _name(name: str) -> str:
        return "name:" + unicodedata.normalize("NFC", (name or "").strip())[:NAME_KEY_LENGTH].casefold()

    @staticmethod
    def _address(address: str) -> str:
        return "ip:" + (address or "unknown")

    def __len__(self) -> int:
        """Records held: what the bound on memory applies to."""
        return len(self._failures) + len(self._signed_in)

    def _record(self, key: str, now: float) -> Optional[_Failures]:
        record = self._failures.get(key)
        if record is not None and now - record.last > FORGET_AFTER:
            del self._failures[key]
            return None
        return record

    def _remaining(self, key: str, now: float, free: int, first: float, longest: float) -> float:
        record = self._record(key, now)
        if record is None:
            return 0.0
        return record.last + _wait(record.count, free, first, longest) - now

    def _count(self, key: str, now: float, change: int) -> None:
        record = self._record(key, now)
        if record is None:
            if change < 0:
                return
            record = self._failures[key] = _Failures(0, now)
        record.count = max(0, record.count + change)
        if change > 0:
            record.last = now
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def attempt(self, name: str, address: str) -> Optional[Pause]:
        """None when this try may check the password (it counts as failed until ``succeeded``), else how
        long the name or the address still has to wait."""
        now = self.clock()
        account, client = self._name(name), self._address(address)
        waits = [
            (self._remaining(account, now, ACCOUNT_FREE_FAILURES, ACCOUNT_FIRST_WAIT, ACCOUNT_LONGEST_WAIT), ACCOUNT)
        ]
        if (client, account) not in self._signed_in:
            waits.append(
                (self._remaining(client, now, ADDRESS_FREE_FAILURES, ADDRESS_FIRST_WAIT, ADDRESS_LONGEST_WAIT), ADDRESS)
            )
        remaining, because = max(waits)
        if remaining > 0:
            return Pause(max(1, math.ceil(remaining)), because)
        self._count(account, now, +1)
        self._count(client, now, +1)
        return None

    def succeeded(self, name: str, address: str) -> None:
        """The password was right: the name starts afresh, the address gets its try back, and the name is
        exempt from this address's wait from now on."""
        now = self.clock()
        account, client = self._name(name), self._address(address)
        self._failures.pop(account, None)
        self._count(client, now, -1)
        self._signed_in[(client, account)] = None
        self._signed_in.move_to_end((client, account))
        while len(self._signed_in) > self.max_keys:
            self._signed_in.popitem(last=False)


def from_env():
    """The throttle shared through Redis when ``PORTER_REDIS_URL`` is set, else this process's own."""
    from bot.shared_redis import redis_url

    url = redis_url()
    if url:
        from bot.web.sign_in_throttle_redis import SharedSignInThrottle

        return SharedSignInThrottle(url)
    return SignInThrottle()
