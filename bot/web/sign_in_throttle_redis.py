"""The desk's sign-in throttle (bot/web/sign_in_throttle.py) kept in Redis (``PORTER_REDIS_URL``), so that
several web servers slow one guesser down together: without it, each would give a name its free failures and
its waits anew.

The same rules, run by two Lua scripts with Redis's own clock: ``attempt`` checks the name's and the
address's waits and, when the try may go ahead, counts it as failed in the same atomic step, so a burst of
parallel tries on several servers cannot slip past the count. A failure record expires an hour after its last
failure, as in memory; a name that signed in from an address stays exempt from that address's wait for
``SIGNED_IN_FOR``. Names and addresses are hashed into the keys. While Redis does not answer, this process
throttles on its own, in memory.
"""

from __future__ import annotations

import math
from typing import Optional

from bot.shared_redis import Unavailable, key, shared
from bot.web.sign_in_throttle import (
    ACCOUNT_FIRST_WAIT,
    ACCOUNT_FREE_FAILURES,
    ACCOUNT_LONGEST_WAIT,
    ADDRESS_FIRST_WAIT,
    ADDRESS_FREE_FAILURES,
    ADDRESS_LONGEST_WAIT,
    FORGET_AFTER,
    Pause,
    SignInThrottle,
)

SIGNED_IN_FOR = 30 * 24 * 3600  # seconds a name stays exempt from an address's wait after signing in there

_CLOCK = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local forget = tonumber(ARGV[1])
local function failures(record)
  local found = redis.call('HMGET', record, 'count', 'last')
  local count, last = tonumber(found[1]), tonumber(found[2])
  if not count or now - last > forget then return 0, now end
  return count, last
end
"""

# KEYS: the name's record, the address's record, the (address, name) exemption.
# ARGV: forget, then free failures, first wait and longest wait for the name, then for the address.
_ATTEMPT = (
    _CLOCK
    + """
local function remaining(record, free, first, longest)
  local count, last = failures(record)
  if count <= free then return 0 end
  return last + math.min(first * 2 ^ math.min(count - free - 1, 32), longest) - now
end
local wait, because = remaining(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])), 'account'
if redis.call('EXISTS', KEYS[3]) == 0 then
  local address = remaining(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
  if address > wait then wait, because = address, 'address' end
end
if wait > 0 then return {tostring(wait), because} end
for _, record in ipairs({KEYS[1], KEYS[2]}) do
  local count = failures(record)
  redis.call('HSET', record, 'count', count + 1, 'last', tostring(now))
  redis.call('EXPIRE', record, math.ceil(forget) + 1)
end
return {'0', ''}
"""
)

# KEYS: the name's record, the address's record, the (address, name) exemption. ARGV: forget, exemption time.
_SUCCEEDED = (
    _CLOCK
    + """
redis.call('DEL', KEYS[1])
local count = failures(KEYS[2])
if count > 0 then redis.call('HSET', KEYS[2], 'count', count - 1) end
redis.call('SET', KEYS[3], '1', 'EX', ARGV[2])
return 1
"""
)


class SharedSignInThrottle:
    """``attempt`` and ``succeeded`` as SignInThrottle's, counted in Redis."""

    def __init__(self, url: str) -> None:
        self.redis = shared(url)
        self._attempt = self.redis.script(_ATTEMPT)
        self._succeeded = self.redis.script(_SUCCEEDED)
        self.local = SignInThrottle()  # while Redis does not answer

    @staticmethod
    def _keys(name: str, address: str):
        account, client = SignInThrottle._name(name), SignInThrottle._address(address)
        return [key("sign-in", account), key("sign-in", client), key("sign-in", "signed-in", client + " " + account)]

    def attempt(self, name: str, address: str) -> Optional[Pause]:
        try:
            wait, because = self._attempt(
                self._keys(name, address),
                [
                    FORGET_AFTER,
                    ACCOUNT_FREE_FAILURES,
                    ACCOUNT_FIRST_WAIT,
                    ACCOUNT_LONGEST_WAIT,
                    ADDRESS_FREE_FAILURES,
                    ADDRESS_FIRST_WAIT,
                    ADDRESS_LONGEST_WAIT,
                ],
            )
        except Unavailable:
            return self.local.attempt(name, address)
        wait = float(wait)
        return Pause(max(1, math.ceil(wait)), because.decode()) if wait > 0 else None

    def succeeded(self, name: str, address: str) -> None:
        try:
            self._succeeded(self._keys(name, address), [FORGET_AFTER, SIGNED_IN_FOR])
        except Unavailable:
            self.local.succeeded(name, address)
